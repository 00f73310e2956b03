package pcapstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Writer appends packets to the store. Producers call Append (safe for
// concurrent use); it copies the packet into a buffer of Config.WriteBuffer
// bytes and hands full buffers to one writer goroutine, which owns the open
// packet file, its in-memory index, the manifest and retention, and writes
// each buffer with one sequential write. Append never blocks on I/O (unless
// Options.Lossless): when every buffer is waiting, the packet is dropped
// and counted.
type Writer struct {
	s    *Store
	cfg  Config
	opts Options
	lock *os.File

	mu     sync.Mutex // guards cur and closed; held only to copy a packet
	cur    *batch
	closed bool

	free chan *batch
	full chan *batch
	ctl  chan func()
	quit chan struct{}
	done chan struct{}

	c counters

	// Owned by the writer goroutine.
	f          *os.File
	fname      string // final name of the open file
	fsize      int64
	flink      uint32
	ffirst     int64
	fopened    time.Time
	fhash      hash.Hash
	fidx       *indexBuilder
	fbroken    bool // a write failed and the file could not be cut back
	seq        uint64
	mseq       uint64
	catalog    []catEntry
	retainWarn bool
	closeErr   error

	// writeFn replaces the packet write in tests (fault injection).
	writeFn func(f *os.File, seg []byte, off int64) (int, error)
}

type catEntry struct {
	name        string
	size        int64 // packet and index file
	first, last int64
	written     time.Time
}

type batch struct {
	buf  []byte
	recs []batchRec
}

type batchRec struct {
	start uint32
	link  uint32
}

type counters struct {
	packets, bytes, dropped, lost, cut, badTime           atomic.Uint64
	writeErrors, diskFull                                 atomic.Uint64
	filesClosed, filesDeleted, filesRecovered, pinnedKept atomic.Uint64
	storeBytes, storeFiles                                atomic.Int64
	lastErr                                               atomic.Pointer[string]
}

// Stats are a Writer's counters.
type Stats struct {
	Packets uint64 // packets written to packet files
	Bytes   uint64 // their captured bytes
	// Dropped counts packets dropped because every buffer was waiting for
	// the disk; Lost, packets lost to write errors; Cut, packets cut to
	// SnapLen; BadTime, packets dropped because pcap cannot hold their time.
	Dropped, Lost, Cut, BadTime uint64
	WriteErrors                 uint64 // failed writes (each also reported)
	DiskFull                    uint64 // of which the file system was full
	FilesClosed                 uint64
	FilesDeleted                uint64 // by retention
	FilesRecovered              uint64 // open files of a crashed run, indexed at open
	PinnedKept                  uint64 // deletions retention skipped because a pin holds the file
	StoreBytes                  int64  // closed packet and index files on disk
	StoreFiles                  int64
	LastError                   string
}

// OpenWriter opens (creating if needed) the store in cfg.Dir for writing.
// Only one writer may hold a store (others get ErrLocked). Files left open
// by a crashed writer are recovered first: cut after their last complete
// packet, indexed, hashed into the manifest and closed; what was recovered
// is reported through Options.Report.
func OpenWriter(cfg Config, o Options) (*Writer, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("pcapstore: no store directory given")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("pcapstore: creating %s: %w", cfg.Dir, err)
	}
	s := newStore(cfg, o)
	lock, err := os.OpenFile(s.path(lockName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("pcapstore: %w", err)
	}
	if err := lockFile(lock, true); err != nil {
		lock.Close()
		return nil, fmt.Errorf("pcapstore: %s: %w", cfg.Dir, err)
	}
	w := &Writer{
		s: s, cfg: cfg, opts: s.opts, lock: lock,
		free: make(chan *batch, cfg.WriteQueue),
		full: make(chan *batch, cfg.WriteQueue),
		ctl:  make(chan func()),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	for i := 0; i < cfg.WriteQueue; i++ {
		w.free <- &batch{}
	}
	if err := w.recover(); err != nil {
		unlockFile(lock)
		lock.Close()
		return nil, err
	}
	w.retain(false)
	go w.run()
	return w, nil
}

// Store returns the store the writer writes, for queries in the same
// process.
func (w *Writer) Store() *Store { return w.s }

// Append stores one packet. data is copied; ci.Timestamp, ci.CaptureLength
// (len(data)) and ci.Length are kept. It returns ErrClosed after Close;
// every other problem is counted in Stats and reported, not returned.
func (w *Writer) Append(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) error {
	ts := ci.Timestamp.UnixNano()
	if !timeOK(ts) {
		w.c.badTime.Add(1)
		return nil
	}
	if len(data) > SnapLen {
		data = data[:SnapLen]
		w.c.cut.Add(1)
	}
	need := recHeaderLen + len(data)
	w.mu.Lock()
	for {
		if w.closed {
			w.mu.Unlock()
			return ErrClosed
		}
		if w.cur != nil && len(w.cur.buf)+need > cap(w.cur.buf) && len(w.cur.recs) > 0 {
			w.full <- w.cur // never blocks: there are as many slots as buffers
			w.cur = nil
		}
		if w.cur != nil {
			break
		}
		select {
		case b := <-w.free:
			w.cur = b
			if b.buf == nil {
				b.buf = make([]byte, 0, w.cfg.WriteBuffer)
			}
			continue
		default:
		}
		if !w.opts.Lossless {
			w.mu.Unlock()
			w.c.dropped.Add(1)
			return nil
		}
		// Wait for a buffer without holding the lock the writer needs.
		w.mu.Unlock()
		var b *batch
		select {
		case b = <-w.free:
		case <-w.done:
			return ErrClosed
		}
		w.mu.Lock()
		if b.buf == nil {
			b.buf = make([]byte, 0, w.cfg.WriteBuffer)
		}
		if w.cur == nil {
			w.cur = b
		} else {
			w.free <- b
		}
	}
	b := w.cur
	b.recs = append(b.recs, batchRec{start: uint32(len(b.buf)), link: uint32(link)})
	b.buf = appendRecord(b.buf, ts, ci.Length, data)
	w.mu.Unlock()
	return nil
}

// Flush writes every packet appended so far to the open file (to the
// operating system, not necessarily the disk) and returns the first error
// the writer met since the last Flush, if any.
func (w *Writer) Flush() error {
	errc := make(chan error, 1)
	select {
	case w.ctl <- func() { w.flushPending(); errc <- nil }:
	case <-w.done:
		return ErrClosed
	}
	return <-errc
}

// Rotate closes the open packet file now: it is indexed, hashed into the
// manifest and becomes visible to queries through its index. Retention
// runs afterwards.
func (w *Writer) Rotate() error {
	errc := make(chan error, 1)
	select {
	case w.ctl <- func() { w.flushPending(); err := w.closeFile(); w.retain(false); errc <- err }:
	case <-w.done:
		return ErrClosed
	}
	return <-errc
}

// Close writes what was appended, closes the open file (index, manifest),
// applies retention and releases the store. It returns the problems of the
// final writes; earlier ones were reported as they happened.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	unlockFile(w.lock)
	w.lock.Close()
	return w.closeErr
}

// Stats returns the writer's counters. Safe to call from any goroutine.
func (w *Writer) Stats() Stats {
	st := Stats{
		Packets: w.c.packets.Load(), Bytes: w.c.bytes.Load(), Dropped: w.c.dropped.Load(), Lost: w.c.lost.Load(),
		Cut: w.c.cut.Load(), BadTime: w.c.badTime.Load(), WriteErrors: w.c.writeErrors.Load(), DiskFull: w.c.diskFull.Load(),
		FilesClosed: w.c.filesClosed.Load(), FilesDeleted: w.c.filesDeleted.Load(), FilesRecovered: w.c.filesRecovered.Load(),
		PinnedKept: w.c.pinnedKept.Load(), StoreBytes: w.c.storeBytes.Load(), StoreFiles: w.c.storeFiles.Load(),
	}
	if p := w.c.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

// report counts and hands on a problem.
func (w *Writer) report(op, file string, err error) {
	ev := &Event{Op: op, File: file, Err: err}
	msg := ev.Error()
	w.c.lastErr.Store(&msg)
	if w.opts.Report != nil {
		w.opts.Report(ev)
	}
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.tickEvery())
	defer tick.Stop()
	for {
		select {
		case b := <-w.full:
			w.write(b)
		case f := <-w.ctl:
			f()
		case <-tick.C:
			w.flushPending()
			if w.f != nil && w.opts.Now().Sub(w.fopened) >= w.cfg.FileDuration {
				w.closeFile()
				w.retain(false)
			}
		case <-w.quit:
			w.flushPending()
			w.closeErr = w.closeFile()
			w.retain(false)
			return
		}
	}
}

func (w *Writer) tickEvery() time.Duration {
	return min(time.Second, w.cfg.FileDuration/4)
}

// flushPending writes the queued buffers and the one being filled, in
// order. Holding mu keeps producers from queueing more meanwhile.
func (w *Writer) flushPending() {
	w.mu.Lock()
	for {
		select {
		case b := <-w.full:
			w.write(b)
			continue
		default:
		}
		break
	}
	b := w.cur
	w.cur = nil
	w.mu.Unlock()
	if b != nil {
		w.write(b)
	}
}

// write writes one buffer, splitting it where files roll over, and
// recycles it.
func (w *Writer) write(b *batch) {
	defer func() {
		b.buf, b.recs = b.buf[:0], b.recs[:0]
		w.free <- b
	}()
	end := func(k int) uint32 {
		if k+1 < len(b.recs) {
			return b.recs[k+1].start
		}
		return uint32(len(b.buf))
	}
	for i := 0; i < len(b.recs); {
		r := b.recs[i]
		h, _ := parseRecHeader(b.buf[r.start:])
		if w.f == nil || w.needsRoll(r.link, h.ts, int64(end(i)-r.start), w.fsize) {
			w.closeFile()
			w.retain(false)
			if err := w.openFile(r.link, h.ts); err != nil {
				w.c.lost.Add(uint64(len(b.recs) - i))
				return
			}
		}
		j, size := i+1, w.fsize+int64(end(i)-r.start)
		for j < len(b.recs) {
			hj, _ := parseRecHeader(b.buf[b.recs[j].start:])
			l := int64(end(j) - b.recs[j].start)
			if w.needsRoll(b.recs[j].link, hj.ts, l, size) {
				break
			}
			size += l
			j++
		}
		w.writeRun(b, i, j, end(j-1))
		i = j
	}
}

// indexMemory bounds the open file's in-memory index: a file of many
// distinct conversations (a scan) closes early rather than grow it.
const indexMemory = 64 << 20

func (w *Writer) needsRoll(link uint32, ts, recLen, size int64) bool {
	if link != w.flink || w.fbroken || w.fidx.memory() > indexMemory {
		return true
	}
	if size+recLen > int64(w.cfg.FileSize) && size > fileHeaderLen {
		return true
	}
	return ts-w.ffirst > int64(w.cfg.FileDuration)
}

// writeRun writes records i..j-1 of b, which all go to the open file.
func (w *Writer) writeRun(b *batch, i, j int, stop uint32) {
	seg := b.buf[b.recs[i].start:stop]
	err := w.writeAt(seg)
	if err != nil && isDiskFull(err) {
		// Make room by retention (oldest unpinned files), then retry once.
		w.retain(true)
		err = w.writeAt(seg)
	}
	if err != nil {
		w.c.writeErrors.Add(1)
		if isDiskFull(err) {
			w.c.diskFull.Add(1)
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		w.c.lost.Add(uint64(j - i))
		w.report("write", w.fname, fmt.Errorf("%d packets lost: %w", j-i, err))
		// Cut a partly written run off so the file stays well formed.
		if terr := w.f.Truncate(w.fsize); terr != nil {
			w.fbroken = true
			w.report("write", w.fname, fmt.Errorf("cutting off a partial write: %w", terr))
		}
		return
	}
	w.fhash.Write(seg)
	for k := i; k < j; k++ {
		start := b.recs[k].start
		h, _ := parseRecHeader(b.buf[start:])
		data := b.buf[start+recHeaderLen : start+recHeaderLen+h.capLen]
		w.fidx.add(uint32(w.fsize+int64(start-b.recs[i].start)), h.ts, data)
		w.c.bytes.Add(uint64(h.capLen))
	}
	w.c.packets.Add(uint64(j - i))
	w.fsize += int64(len(seg))
}

// writeAt is the one place packet bytes are written (tests replace the
// file to inject errors).
func (w *Writer) writeAt(seg []byte) error {
	if w.writeFn != nil {
		_, err := w.writeFn(w.f, seg, w.fsize)
		return err
	}
	_, err := w.f.WriteAt(seg, w.fsize)
	return err
}

// openFile starts a new packet file under its hidden temporary name.
func (w *Writer) openFile(link uint32, firstTS int64) error {
	w.seq++
	name := fileName(w.seq, firstTS)
	part := "." + name + partExt
	f, err := os.OpenFile(w.s.path(part), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		w.c.writeErrors.Add(1)
		if isDiskFull(err) {
			w.c.diskFull.Add(1)
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		w.report("open", part, err)
		return err
	}
	hdr := appendFileHeader(nil, link)
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(w.s.path(part))
		w.c.writeErrors.Add(1)
		if isDiskFull(err) {
			w.c.diskFull.Add(1)
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		w.report("open", part, err)
		return err
	}
	w.f, w.fname, w.fsize, w.flink, w.ffirst, w.fbroken = f, name, int64(len(hdr)), link, firstTS, false
	w.fopened = w.opts.Now()
	w.fhash = sha256.New()
	w.fhash.Write(hdr)
	w.fidx = newIndexBuilder(link, w.opts.CommunityIDSeed)
	return nil
}

// closeFile finishes the open file: sync, write its index, rename it to its
// final name and record it in the manifest.
func (w *Writer) closeFile() error {
	if w.f == nil {
		return nil
	}
	f, name, size := w.f, w.fname, w.fsize
	sum := hex.EncodeToString(w.fhash.Sum(nil))
	idx := w.fidx
	w.f, w.fidx, w.fhash = nil, nil, nil
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		var e catEntry
		if e, err = w.finish(name, "."+name+partExt, size, sum, idx, ""); err == nil {
			w.catalog = append(w.catalog, e)
			w.c.storeBytes.Add(e.size)
			w.c.storeFiles.Add(1)
		}
	}
	if err != nil {
		w.c.writeErrors.Add(1)
		if isDiskFull(err) {
			w.c.diskFull.Add(1)
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		w.report("close", name, fmt.Errorf("the file stays open until the next start recovers it: %w", err))
		return err
	}
	return nil
}

// finish writes the index of a complete packet file (still under its
// temporary name part), renames it to name and appends it to the manifest.
// It returns the file's catalog entry.
func (w *Writer) finish(name, part string, size int64, sum string, idx *indexBuilder, reason string) (catEntry, error) {
	ib := idx.encode(size)
	isum := sha256.Sum256(ib)
	iname := idxName(name)
	if err := writeFileAtomic(w.s.path(iname), ib); err != nil {
		return catEntry{}, fmt.Errorf("writing index: %w", err)
	}
	if err := os.Rename(w.s.path(part), w.s.path(name)); err != nil {
		return catEntry{}, err
	}
	if err := syncDir(w.s.dir); err != nil {
		return catEntry{}, err
	}
	e := ManifestEntry{Op: "add", File: name, Size: size, SHA256: sum, IndexSHA256: hex.EncodeToString(isum[:]),
		Packets: idx.packets, Link: idx.link, Reason: reason}
	if idx.packets > 0 {
		first, last := tsTime(idx.first), tsTime(idx.last)
		e.First, e.Last = &first, &last
	}
	w.mseq++
	if _, err := w.s.appendManifest(e, w.mseq); err != nil {
		w.mseq--
		return catEntry{}, err
	}
	w.c.filesClosed.Add(1)
	return catEntry{name: name, size: size + int64(len(ib)), first: idx.first, last: idx.last, written: w.opts.Now()}, nil
}

// writeFileAtomic writes data to a hidden temporary file, syncs it and
// renames it to path.
func writeFileAtomic(path string, data []byte) error {
	dir, base := path[:strings.LastIndexByte(path, '/')+1], path[strings.LastIndexByte(path, '/')+1:]
	tmp := dir + "." + base + partExt
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// recover reads the manifest, recovers files a crashed writer left open or
// unindexed, and builds the catalog of closed files.
func (w *Writer) recover() error {
	s := w.s
	manifested := map[string]bool{}
	deleted := map[string]bool{}
	_, lines, problems, err := readChain(s.path(manifestName), func(_ int, _, body []byte, _ string) error {
		var e struct {
			Op   string `json:"op"`
			File string `json:"file"`
			Seq  uint64 `json:"seq"`
		}
		if json.Unmarshal(body, &e) == nil {
			switch e.Op {
			case "add":
				manifested[e.File] = true
				delete(deleted, e.File)
			case "delete":
				deleted[e.File] = true
			}
			if q, ok := parseSeq(e.File); ok && q > w.seq {
				w.seq = q
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pcapstore: reading the manifest: %w", err)
	}
	w.mseq = uint64(lines)
	for _, p := range problems {
		w.report("open", manifestName, fmt.Errorf("line %d: %s (run verify)", p.Line, p.Msg))
	}
	if lines == 0 {
		w.mseq++
		if _, err := s.appendManifest(ManifestEntry{Op: "create", Store: newStoreID()}, w.mseq); err != nil {
			return fmt.Errorf("pcapstore: creating the manifest: %w", err)
		}
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("pcapstore: %w", err)
	}
	for _, de := range ents {
		name := de.Name()
		if q, ok := parseSeq(name); ok && q > w.seq {
			w.seq = q
		}
		if strings.HasPrefix(name, ".") && strings.HasSuffix(name, idxExt+partExt) {
			os.Remove(s.path(name)) // an index write cut short; rebuilt below
		}
	}
	for _, de := range ents {
		name := de.Name()
		if _, ok := parseSeq(name); !ok {
			continue
		}
		switch {
		case strings.HasSuffix(name, partExt):
			final := strings.TrimSuffix(strings.TrimPrefix(name, "."), partExt)
			if err := w.recoverFile(name, final); err != nil {
				w.report("recover", name, err)
			}
		case deleted[name]:
			// Retention wrote the deletion and stopped before removing it.
			os.Remove(s.path(idxName(name)))
			os.Remove(s.path(name))
		case !manifested[name]:
			if err := w.recoverFile(name, name); err != nil {
				w.report("recover", name, err)
			}
		default:
			if _, err := os.Stat(s.path(idxName(name))); errors.Is(err, fs.ErrNotExist) {
				if err := w.reindex(name); err != nil {
					w.report("recover", name, err)
				}
			}
		}
	}
	files, err := s.Files()
	if err != nil {
		return err
	}
	for _, fi := range files {
		if fi.Open {
			continue
		}
		e := catEntry{name: fi.Name, size: fi.Size + fi.Index, written: fi.ModTime}
		if fi.Indexed {
			e.first, e.last = fi.First.UnixNano(), fi.Last.UnixNano()
		}
		w.catalog = append(w.catalog, e)
		w.c.storeBytes.Add(e.size)
		w.c.storeFiles.Add(1)
	}
	return nil
}

// recoverFile scans a packet file a crashed writer left (under name), cuts
// it after its last complete packet, indexes it and closes it as final.
func (w *Writer) recoverFile(name, final string) error {
	f, err := os.OpenFile(w.s.path(name), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < fileHeaderLen && strings.HasSuffix(name, partExt) {
		// Killed before its header was written: nothing to keep.
		w.report("recover", name, fmt.Errorf("open file without a complete header (%d bytes) removed", st.Size()))
		return os.Remove(w.s.path(name))
	}
	idx, valid, err := buildIndex(f, w.opts.CommunityIDSeed)
	if err != nil {
		return fmt.Errorf("not a packet file, left alone: %w", err)
	}
	cut := st.Size() - valid
	if cut > 0 {
		if err := f.Truncate(valid); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if idx.packets == 0 && strings.HasSuffix(name, partExt) {
		return os.Remove(w.s.path(name)) // nothing was written
	}
	reason := "recovered after a crash"
	if cut > 0 {
		reason = fmt.Sprintf("recovered after a crash: %d bytes of a packet cut short removed", cut)
	}
	if _, err := w.finish(final, name, valid, hex.EncodeToString(h.Sum(nil)), idx, reason); err != nil {
		return err
	}
	w.c.filesRecovered.Add(1)
	w.report("recover", final, fmt.Errorf("%s (%d packets)", reason, idx.packets))
	return nil
}

// reindex rebuilds a missing index of a closed, manifested file.
func (w *Writer) reindex(name string) error {
	f, err := os.Open(w.s.path(name))
	if err != nil {
		return err
	}
	defer f.Close()
	idx, size, err := buildIndex(f, w.opts.CommunityIDSeed)
	if err != nil {
		return err
	}
	return writeFileAtomic(w.s.path(idxName(name)), idx.encode(size))
}

// buildIndex indexes a packet file by reading it.
func buildIndex(r io.ReadSeeker, seed uint16) (*indexBuilder, int64, error) {
	var hdr [fileHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, err
	}
	link, err := readFileHeader(hdr[:])
	if err != nil {
		return nil, 0, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	idx := newIndexBuilder(link, seed)
	_, valid, err := scanRecords(r, func(off int64, h recHeader, data []byte) error {
		idx.add(uint32(off), h.ts, data)
		return nil
	})
	return idx, valid, err
}
