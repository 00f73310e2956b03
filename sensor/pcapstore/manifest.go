package pcapstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// ManifestEntry is one line of the store's manifest (manifest.jsonl), a
// hash-chained, append-only record of every packet file the store closed
// and every file retention deleted.
type ManifestEntry struct {
	Seq  uint64    `json:"seq"`  // line number, from 1
	Time time.Time `json:"time"` // wall clock when the line was written
	// Op is "create" (the store was created; Store holds its random id),
	// "add" (a packet file closed) or "delete" (retention removed a file).
	Op    string `json:"op"`
	Store string `json:"store,omitempty"`
	File  string `json:"file,omitempty"`
	// For "add": the packet file's size and SHA-256, its index's SHA-256,
	// its packets, first and last packet time and link type.
	Size        int64      `json:"size,omitempty"`
	SHA256      string     `json:"sha256,omitempty"`
	IndexSHA256 string     `json:"index_sha256,omitempty"`
	Packets     uint64     `json:"packets,omitempty"`
	First       *time.Time `json:"first,omitempty"`
	Last        *time.Time `json:"last,omitempty"`
	Link        uint32     `json:"link,omitempty"`
	// Reason says why: "recovered after a crash" for an add written at
	// recovery; "max_bytes", "max_age", "min_free" or "disk full" for a
	// delete.
	Reason string `json:"reason,omitempty"`
	Prev   string `json:"prev"`
	// Hash is the line's own hash (not part of the hashed body).
	Hash string `json:"-"`
	// Line is the entry's line as stored (without newline), for evidence
	// packages.
	Line string `json:"-"`
}

func newStoreID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendManifest appends e (Seq, Time and Prev are filled in) and returns
// it with its hash.
func (s *Store) appendManifest(e ManifestEntry, seq uint64) (ManifestEntry, error) {
	e.Seq = seq
	if e.Time.IsZero() {
		e.Time = s.opts.Now().UTC()
	}
	h, err := appendChained(s.path(manifestName), &e, func(prev string) { e.Prev = prev })
	if err != nil {
		return e, fmt.Errorf("appending to the manifest: %w", err)
	}
	e.Hash = h
	return e, nil
}

// Manifest reads the whole manifest. Problems with the chain are returned
// with the entries that could be read; Verify reports them in full.
func (s *Store) Manifest() ([]ManifestEntry, []ChainProblem, error) {
	var out []ManifestEntry
	_, _, problems, err := readChain(s.path(manifestName), func(line int, raw, body []byte, hash string) error {
		var e ManifestEntry
		if err := json.Unmarshal(body, &e); err == nil {
			e.Hash, e.Line = hash, string(raw)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pcapstore: reading the manifest: %w", err)
	}
	return out, problems, nil
}
