package pcapstore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no store at the directory, or no such alert pin.
	ErrNotFound = errors.New("not found")
	// ErrLocked: another process writes to the store.
	ErrLocked = errors.New("store is locked by another writer")
	// ErrClosed: the writer was closed.
	ErrClosed = errors.New("store writer closed")
	// ErrDiskFull: a write failed because the file system is full.
	ErrDiskFull = errors.New("disk full")
)

// Options are the run-time settings that do not belong in the
// configuration file.
type Options struct {
	// CommunityIDSeed is the Community ID seed; it must match the flow
	// table's (flow.community_id_seed) for "community-id" queries to find
	// the flows of records. Defaults to 0.
	CommunityIDSeed uint16
	// Now is the wall clock, for manifest, audit and pin times and for
	// retention by age. Defaults to time.Now.
	Now func() time.Time
	// Report, when set, receives every write error, disk-full event,
	// recovery and retention problem as it happens (wrapped *Event errors),
	// from the writer goroutine. It must not block.
	Report func(error)
	// Lossless makes Writer.Append wait for a free buffer instead of
	// dropping the packet when the writer is behind: for imports, never for
	// live capture.
	Lossless bool
}

// Store is a store directory opened for reading: queries, verification,
// evidence. Several processes may read a store while one writes it. A
// Store is safe for concurrent use.
type Store struct {
	dir  string
	cfg  Config
	opts Options
}

const (
	manifestName = "manifest.jsonl"
	auditName    = "audit.jsonl"
	pinsName     = "pins.jsonl"
	lockName     = "LOCK"
	pcapExt      = ".pcap"
	idxExt       = ".idx"
	partExt      = ".part"
)

// Open opens the store in cfg.Dir for reading. It returns an error wrapping
// ErrNotFound when the directory holds no store.
func Open(cfg Config, o Options) (*Store, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("pcapstore: no store directory given")
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, manifestName)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pcapstore: %s: no store here (no %s): %w", cfg.Dir, manifestName, ErrNotFound)
		}
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	return newStore(cfg, o), nil
}

func newStore(cfg Config, o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{dir: cfg.Dir, cfg: cfg, opts: o}
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// FileInfo describes one packet file of the store.
type FileInfo struct {
	Name    string // file name in the store directory, e.g. "0000000042-20240101T020304Z.pcap"
	Seq     uint64
	Open    bool // being written (or left by a crash): no index yet, scanned on query
	Indexed bool // has a usable index
	Size    int64
	Index   int64 // size of the index file
	Packets uint64
	First   time.Time // zero when unknown (no index)
	Last    time.Time
	Link    uint32
	ModTime time.Time
}

func fileName(seq uint64, first int64) string {
	return fmt.Sprintf("%010d-%s%s", seq, tsTime(first).Format("20060102T150405Z"), pcapExt)
}

// parseSeq returns the sequence number of a packet file name (closed or
// open), or false.
func parseSeq(name string) (uint64, bool) {
	base := strings.TrimPrefix(strings.TrimSuffix(name, partExt), ".")
	if !strings.HasSuffix(base, pcapExt) || len(base) < 11 || base[10] != '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(base[:10], 10, 64)
	return n, err == nil
}

func idxName(pcap string) string { return strings.TrimSuffix(pcap, pcapExt) + idxExt }

// Files lists the store's packet files, oldest first. Closed files carry
// their index header's facts; open files (the one being written, or one
// left by a crash and not yet recovered) only their size.
func (s *Store) Files() ([]FileInfo, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("pcapstore: listing %s: %w", s.dir, err)
	}
	var out []FileInfo
	for _, de := range ents {
		name := de.Name()
		seq, ok := parseSeq(name)
		if !ok || de.IsDir() {
			continue
		}
		st, err := de.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		fi := FileInfo{Name: name, Seq: seq, Size: st.Size(), ModTime: st.ModTime(), Open: strings.HasSuffix(name, partExt)}
		if !fi.Open {
			if h, size, err := readIndexHeader(s.path(idxName(name))); err == nil {
				fi.Indexed, fi.Index = true, size
				fi.Packets, fi.Link = h.packets, h.link
				if h.packets > 0 {
					fi.First, fi.Last = tsTime(h.first), tsTime(h.last)
				}
			}
		}
		out = append(out, fi)
	}
	slices.SortFunc(out, func(a, b FileInfo) int {
		if c := cmp.Compare(a.Seq, b.Seq); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// readIndexHeader reads the fixed part of an index file (and its size)
// without reading the rest.
func readIndexHeader(path string) (*index, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	var b [idxHeaderLen]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return nil, 0, badIndex("short header")
	}
	if string(b[:8]) != idxMagic {
		return nil, 0, badIndex("not an index file")
	}
	le := binary.LittleEndian
	x := &index{link: le.Uint32(b[16:]), seed: le.Uint16(b[20:]), packets: le.Uint64(b[24:]), dataSize: int64(le.Uint64(b[32:])),
		first: int64(le.Uint64(b[40:])), last: int64(le.Uint64(b[48:]))}
	return x, st.Size(), nil
}

// Event is a problem or notable event of the writer, handed to
// Options.Report and counted in Stats. Err says what happened; errors.Is
// with ErrDiskFull recognises a full disk.
type Event struct {
	Op   string // "write", "close", "recover", "retention", "manifest", "open"
	File string // the file concerned, if any
	Err  error
}

func (e *Event) Error() string {
	if e.File != "" {
		return fmt.Sprintf("pcapstore: %s %s: %v", e.Op, e.File, e.Err)
	}
	return fmt.Sprintf("pcapstore: %s: %v", e.Op, e.Err)
}

func (e *Event) Unwrap() error { return e.Err }
