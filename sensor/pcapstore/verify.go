package pcapstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Files     int      // closed packet files checked
	Bytes     int64    // their bytes
	Open      []string // open files (being written, or left by a crash and not yet recovered)
	Lines     int      // manifest lines
	Head      string   // the manifest's head hash: it commits to every line
	Audit     int      // audit log lines
	AuditHead string
	Problems  []Problem
}

// Problem is one thing Verify found wrong. File names the packet file,
// index or log concerned.
type Problem struct {
	File string
	Msg  string
}

func (p Problem) String() string { return p.File + ": " + p.Msg }

// OK reports whether nothing was found wrong.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify checks the manifest's and the audit log's hash chains, and that
// every packet file the manifest lists as present exists with the size and
// SHA-256 recorded when it closed (and its index too); files the manifest
// does not know are problems as well. progress, if not nil, is called with
// each file before it is hashed. It returns an error only when the store
// cannot be read at all; what is wrong with it is in the report.
func (s *Store) Verify(ctx context.Context, progress func(file string)) (*VerifyReport, error) {
	r := &VerifyReport{}
	type want struct {
		e    ManifestEntry
		line int
	}
	live := map[string]*want{}
	deleted := map[string]bool{}
	creates := 0
	head, lines, problems, err := readChain(s.path(manifestName), func(line int, _, body []byte, _ string) error {
		var e ManifestEntry
		if err := json.Unmarshal(body, &e); err != nil {
			return nil
		}
		switch e.Op {
		case "create":
			creates++
			if line != 1 {
				r.Problems = append(r.Problems, Problem{manifestName, fmt.Sprintf("line %d: a second \"create\" line", line)})
			}
		case "add":
			live[e.File] = &want{e, line}
			delete(deleted, e.File)
		case "delete":
			if live[e.File] == nil {
				r.Problems = append(r.Problems, Problem{e.File, fmt.Sprintf("manifest line %d deletes a file it never added", line)})
			}
			delete(live, e.File)
			deleted[e.File] = true
		default:
			r.Problems = append(r.Problems, Problem{manifestName, fmt.Sprintf("line %d: unknown op %q", line, e.Op)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pcapstore: reading the manifest: %w", err)
	}
	r.Head, r.Lines = head, lines
	if lines == 0 {
		r.Problems = append(r.Problems, Problem{manifestName, "empty or missing"})
	} else if creates == 0 {
		r.Problems = append(r.Problems, Problem{manifestName, "line 1 is not the store's \"create\" line (lines were removed)"})
	}
	for _, p := range problems {
		r.Problems = append(r.Problems, Problem{s.manifestLineFile(p.Line), fmt.Sprintf("manifest line %d: %s", p.Line, p.Msg)})
	}

	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	present := map[string]bool{}
	for _, de := range ents {
		name := de.Name()
		if _, ok := parseSeq(name); !ok {
			continue
		}
		if strings.HasSuffix(name, partExt) {
			r.Open = append(r.Open, name)
			continue
		}
		present[name] = true
		if live[name] == nil {
			msg := "not in the manifest (not written by this store, or the manifest lost lines)"
			if deleted[name] {
				msg = "the manifest says retention deleted it, but it is here"
			}
			r.Problems = append(r.Problems, Problem{name, msg})
		}
	}
	names := make([]string, 0, len(live))
	for name := range live {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		w := live[name]
		if !present[name] {
			r.Problems = append(r.Problems, Problem{name, fmt.Sprintf("missing: the manifest (line %d) lists it and no deletion", w.line)})
			continue
		}
		if progress != nil {
			progress(name)
		}
		size, sum, err := hashFile(s.path(name))
		if err != nil {
			r.Problems = append(r.Problems, Problem{name, "cannot be read: " + err.Error()})
			continue
		}
		r.Files++
		r.Bytes += size
		switch {
		case size != w.e.Size:
			r.Problems = append(r.Problems, Problem{name, fmt.Sprintf("size %d, the manifest (line %d) says %d: the file was altered", size, w.line, w.e.Size)})
		case sum != w.e.SHA256:
			r.Problems = append(r.Problems, Problem{name, fmt.Sprintf("SHA-256 %s, the manifest (line %d) says %s: the file was altered", sum, w.line, w.e.SHA256)})
		}
		iname := idxName(name)
		_, isum, err := hashFile(s.path(iname))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			r.Problems = append(r.Problems, Problem{iname, "index missing (the next writer start rebuilds it)"})
		case err != nil:
			r.Problems = append(r.Problems, Problem{iname, "cannot be read: " + err.Error()})
		case isum != w.e.IndexSHA256:
			r.Problems = append(r.Problems, Problem{iname, fmt.Sprintf("SHA-256 %s, the manifest (line %d) says %s: the index was altered", isum, w.line, w.e.IndexSHA256)})
		}
	}

	ahead, alines, aproblems, err := readChain(s.path(auditName), nil)
	if err != nil {
		return r, fmt.Errorf("pcapstore: reading the audit log: %w", err)
	}
	r.AuditHead, r.Audit = ahead, alines
	for _, p := range aproblems {
		r.Problems = append(r.Problems, Problem{auditName, fmt.Sprintf("line %d: %s", p.Line, p.Msg)})
	}
	return r, nil
}

// manifestLineFile names the packet file a manifest line is about, or the
// manifest itself when the line cannot be read.
func (s *Store) manifestLineFile(line int) string {
	name := manifestName
	readChain(s.path(manifestName), func(l int, raw, body []byte, _ string) error {
		if l != line {
			return nil
		}
		var e ManifestEntry
		if json.Unmarshal(body, &e) == nil && e.File != "" {
			name = e.File
		}
		return io.EOF
	})
	return name
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
