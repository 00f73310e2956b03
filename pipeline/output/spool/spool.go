package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("spool closed")

// Pos identifies one document in the spool, for Ack.
type Pos struct {
	Seq   uint64 // segment sequence number
	Index int    // record number within the segment
}

// Entry is one document returned by Read. Data stays valid until the
// entry is passed to Release; an entry that is never released stays valid
// for good (its memory is then garbage-collected instead of reused).
type Entry struct {
	Pos  Pos
	Data []byte
	blk  *block // the queue block Data points into, when handed over in memory
}

// Recovery is what Open found and repaired.
type Recovery struct {
	Segments       int   // segment files found
	Bytes          int64 // their size after repair
	TruncatedBytes int64 // cut from the end of the newest segment (torn or corrupt tail)
	// Problems describes each repair and each unusable cursor line.
	Problems []string
}

// Stats are the spool's counters. Counters are totals since Open; the
// others are current values.
type Stats struct {
	QueueBytes int64 // in memory, not yet written
	QueueDocs  int64
	DiskBytes  int64 // segment files
	Segments   int
	InFlight   int // read, not acknowledged

	Accepted       uint64 // documents Put accepted
	DroppedFull    uint64 // refused: MaxBytes reached (newest dropped)
	DroppedQueue   uint64 // refused: QueueBytes reached (writer behind)
	DroppedClosed  uint64 // refused: Put after Close
	DroppedInvalid uint64 // refused: empty or larger than MaxRecordBytes
	OverCap        uint64 // keep=true documents accepted past a bound
	Written        uint64 // documents written to segment files
	WrittenBytes   uint64
	Read           uint64 // documents returned by Read
	ReadBytes      uint64
	ReadMemory     uint64 // of Read: handed over in memory by the writer, not read back from a file
	Acked          uint64
	CorruptRecords uint64 // bad records met (each ends its segment early)
	CorruptBytes   uint64 // bytes lost to corruption, torn tails included
	WriteErrors    uint64
	LostOnWrite    uint64 // documents in batches whose write failed
}

type segment struct {
	seq     uint64
	size    int64 // committed bytes, header included
	sealed  bool
	written int // records written in this run; -1 for recovered segments
	f       *os.File

	readOff int64
	readIdx int
	readEnd bool

	// Records [base, readIdx): offsets and acknowledged flags.
	base    int
	baseOff int64
	offs    []int64
	ack     []bool

	// Acknowledged records from the cursor (bit i: record preBase+i).
	pre     []byte
	preBase int
}

func (g *segment) preAcked(idx int) bool {
	i := idx - g.preBase
	return i >= 0 && i/8 < len(g.pre) && g.pre[i/8]&(1<<(i%8)) != 0
}

// done reports whether every record of a sealed segment has been read and
// acknowledged.
func (g *segment) done() bool { return g.sealed && g.readEnd && len(g.ack) == 0 }

// Spool is a durable FIFO; see the package documentation.
type Spool struct {
	cfg Config
	rec Recovery

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change readers wait for
	q       []*block      // the queue: whole records in fixed-size blocks
	free    []*block      // blocks to reuse
	pinned  int           // handed blocks still used by chunks or entries
	qDocs   int64
	qBytes  int64
	segs    []*segment // by seq
	active  *segment
	wf      *os.File
	cur     *segment   // reader's segment
	mem     []memChunk // records just written, handed to a caught-up reader
	memB    int64      // their bytes
	nextSeq uint64
	dirty   bool // cursor needs writing
	unsync  bool // active segment written since the last fsync
	rotate  bool // writer must start a new segment
	closed  bool
	werr    error
	st      Stats

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Open opens or creates the spool in cfg.Dir, repairs a torn tail, resumes
// from the cursor and starts the writer goroutine. Close stops it.
func Open(cfg Config) (*Spool, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("dir: required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	s := &Spool{
		cfg:     cfg,
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		nextSeq: 1,
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	go s.writeLoop()
	return s, nil
}

func (s *Spool) path(seq uint64) string { return filepath.Join(s.cfg.Dir, segmentName(seq)) }

func (s *Spool) recover() error {
	des, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("reading spool directory: %w", err)
	}
	for _, de := range des {
		seq, ok := parseSegmentName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return fmt.Errorf("reading spool directory: %w", err)
		}
		s.segs = append(s.segs, &segment{seq: seq, size: info.Size(), sealed: true, written: -1,
			readOff: int64(headerLen), baseOff: int64(headerLen)})
	}
	slices.SortFunc(s.segs, func(a, b *segment) int {
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	if n := len(s.segs); n > 0 {
		s.nextSeq = s.segs[n-1].seq + 1
		if err := s.repairTail(s.segs[n-1]); err != nil {
			return err
		}
		if s.segs[n-1].size == 0 {
			s.segs = s.segs[:n-1]
		}
	}
	s.loadCursor()
	for _, g := range s.segs {
		s.st.DiskBytes += g.size
	}
	s.rec.Segments = len(s.segs)
	s.rec.Bytes = s.st.DiskBytes
	s.st.CorruptBytes += uint64(s.rec.TruncatedBytes)
	return nil
}

// repairTail truncates the newest segment after its last valid record.
func (s *Spool) repairTail(g *segment) error {
	p := s.path(g.seq)
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading spool segment: %w", err)
	}
	valid, _ := scanValid(data)
	if valid == len(data) {
		return nil
	}
	cut := int64(len(data) - valid)
	s.rec.TruncatedBytes += cut
	if valid < headerLen {
		s.rec.Problems = append(s.rec.Problems, fmt.Sprintf("%s: no valid header, removed (%d bytes)", segmentName(g.seq), len(data)))
		g.size = 0
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing spool segment: %w", err)
		}
		return nil
	}
	s.rec.Problems = append(s.rec.Problems, fmt.Sprintf("%s: torn or corrupt tail at byte %d, %d bytes cut, valid prefix kept", segmentName(g.seq), valid, cut))
	if err := os.Truncate(p, int64(valid)); err != nil {
		return fmt.Errorf("truncating spool segment: %w", err)
	}
	g.size = int64(valid)
	return nil
}

func (s *Spool) cursorPath() string { return filepath.Join(s.cfg.Dir, "cursor") }

func (s *Spool) loadCursor() {
	data, err := os.ReadFile(s.cursorPath())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.rec.Problems = append(s.rec.Problems, fmt.Sprintf("cursor unreadable (%v): reading every segment from its start", err))
		return
	}
	entries, err := parseCursor(data, 1<<26)
	if err != nil {
		s.rec.Problems = append(s.rec.Problems, fmt.Sprintf("%v: reading every segment from its start", err))
		return
	}
	for _, e := range entries {
		i, ok := slices.BinarySearchFunc(s.segs, e.seq, func(g *segment, seq uint64) int {
			switch {
			case g.seq < seq:
				return -1
			case g.seq > seq:
				return 1
			}
			return 0
		})
		if !ok {
			continue // segment already deleted
		}
		g := s.segs[i]
		if e.offset > g.size {
			s.rec.Problems = append(s.rec.Problems, fmt.Sprintf("cursor points past the end of %s: reading it from its start", segmentName(g.seq)))
			continue
		}
		g.base, g.baseOff, g.readIdx, g.readOff = e.index, e.offset, e.index, e.offset
		g.pre, g.preBase = e.acked, e.index
	}
	s.dirty = true
}

// Recovered reports what Open found and repaired.
func (s *Spool) Recovered() Recovery { return s.rec }

// Put appends one document (copied) to the queue without blocking. It
// returns false when the document was refused, which is counted; a
// document with keep set is refused only when empty, too large or after
// Close.
func (s *Spool) Put(data []byte, keep bool) bool {
	need := int64(recordHdr + len(data))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		s.st.DroppedClosed++
		return false
	case len(data) == 0 || len(data) > MaxRecordBytes:
		s.st.DroppedInvalid++
		return false
	}
	// What is queued will open new segments, each with a header that the
	// writer adds to the files without asking: keep room for them, so the
	// files never pass MaxBytes. Of two consecutive segments the first plus
	// the second's first record exceed SegmentBytes-headerLen, so q queued
	// bytes open fewer than 2 + 2q/(SegmentBytes-headerLen) segments.
	q := s.qBytes + need
	hdrs := int64(headerLen) * (2 + 2*q/max(1, int64(s.cfg.SegmentBytes)-int64(headerLen)))
	overDisk := s.st.DiskBytes+q+hdrs > int64(s.cfg.MaxBytes)
	overQueue := s.qBytes+need > int64(s.cfg.QueueBytes)
	if overDisk || overQueue {
		if !keep {
			if overDisk {
				s.st.DroppedFull++
			} else {
				s.st.DroppedQueue++
			}
			return false
		}
		s.st.OverCap++
	}
	wasEmpty := len(s.q) == 0
	var b *block
	if n := len(s.q); n > 0 && len(s.q[n-1].b)+int(need) <= cap(s.q[n-1].b) {
		b = s.q[n-1]
	} else {
		b = s.newBlock(int(need))
		s.q = append(s.q, b)
	}
	b.b = appendRecord(b.b, data)
	b.n++
	s.qBytes += need
	s.qDocs++
	s.st.Accepted++
	if wasEmpty {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// memChunk is a run of whole records that the writer has just committed
// to segment g at offset off and handed to the reader in memory: the reader
// reads the file up to off and then takes the records from b instead of
// reading them back. b is part of queue block blk, which is reused only
// when the chunk is consumed and every entry taken from it released.
type memChunk struct {
	g   *segment
	off int64
	b   []byte
	blk *block
}

// maxMemBytes bounds the records handed over and not yet read; past it
// (a reader held back by MaxInFlight) the reader reads the file again.
const maxMemBytes = 16 << 20

// maxPinned bounds the blocks kept alive by handed-over records (read or
// not, until released): a block is reused only when all its entries are
// released, and a trickle of documents spreads them over many blocks.
const maxPinned = 32

// handoffLocked hands records b, just committed to g at off, to the reader
// when they follow the records handed over before, or when the reader is
// in g less than maxMemBytes/2 behind them. Called with mu held.
func (s *Spool) handoffLocked(g *segment, off int64, b []byte, blk *block) bool {
	if s.memB+int64(len(b)) > maxMemBytes || !blk.handed && s.pinned >= maxPinned {
		return false
	}
	if n := len(s.mem); n > 0 {
		last := s.mem[n-1]
		if last.g != g || last.off+int64(len(last.b)) != off {
			return false
		}
	} else {
		rg := s.cur
		if rg == nil || rg.readEnd {
			rg = s.nextSegmentLocked()
		}
		if rg != g || off-g.readOff > maxMemBytes/2 {
			return false
		}
	}
	s.mem = append(s.mem, memChunk{g: g, off: off, b: b, blk: blk})
	s.memB += int64(len(b))
	blk.refs++
	if !blk.handed {
		blk.handed = true
		s.pinned++
	}
	return true
}

// memAtLocked drops handed-over records the reader has passed (it left
// their segment early) and reports whether the next records of g, at off,
// are in memory. Called with mu held.
func (s *Spool) memAtLocked(g *segment, off int64) bool {
	for len(s.mem) > 0 && (s.mem[0].g.seq < g.seq || s.mem[0].g == g && s.mem[0].off < off) {
		s.memB -= int64(len(s.mem[0].b))
		s.unrefLocked(s.mem[0].blk)
		s.mem[0] = memChunk{}
		s.mem = s.mem[1:]
	}
	return len(s.mem) > 0 && s.mem[0].g == g && s.mem[0].off == off
}

// readMemLocked returns handed-over records of g (memAtLocked was true).
// Called with mu held.
func (s *Spool) readMemLocked(g *segment, room, maxBytes int, dst []Entry) []Entry {
	m := &s.mem[0]
	pos, got, bytes := 0, 0, 0
	for got < room && pos < len(m.b) && bytes < maxBytes {
		n := recordHdr + int(uint32le(m.b[pos:]))
		payload := m.b[pos+recordHdr : pos+n : pos+n]
		var ok bool
		if dst, ok = s.takeLocked(g, m.off+int64(pos), n, payload, dst); ok {
			got++
			bytes += len(payload)
			s.st.ReadMemory++
			dst[len(dst)-1].blk = m.blk
			m.blk.refs++
		}
		pos += n
	}
	m.b, m.off = m.b[pos:], m.off+int64(pos)
	s.memB -= int64(pos)
	if len(m.b) == 0 {
		s.unrefLocked(m.blk)
		s.mem[0] = memChunk{}
		s.mem = s.mem[1:]
		if len(s.mem) == 0 {
			s.mem = nil
		}
	}
	return dst
}

// takeLocked records that the reader passed the record of g at off (n
// bytes with its header) and appends it to dst unless the cursor says it
// was acknowledged before a restart. Called with mu held.
func (s *Spool) takeLocked(g *segment, off int64, n int, payload []byte, dst []Entry) ([]Entry, bool) {
	idx := g.readIdx
	g.readIdx++
	g.offs = append(g.offs, off)
	g.readOff = off + int64(n)
	if g.preAcked(idx) {
		g.ack = append(g.ack, true)
		s.advance(g)
		return dst, false
	}
	g.ack = append(g.ack, false)
	s.st.InFlight++
	s.st.Read++
	s.st.ReadBytes += uint64(len(payload))
	return append(dst, Entry{Pos: Pos{Seq: g.seq, Index: idx}, Data: payload}), true
}

// blockSize is the size of the queue's blocks: the writer's unit of work.
const blockSize = 1 << 20

// block holds whole records; n counts them. refs counts who uses it
// besides the queue: the writer while writing it, handed-over chunks and
// the entries taken from them; at zero it is free again. Guarded by mu.
type block struct {
	b      []byte
	n      int64
	refs   int
	handed bool // records of it were handed over: counted in Spool.pinned
}

// maxFree bounds the free blocks kept for reuse.
func (s *Spool) maxFree() int { return min(64, max(16, int(s.cfg.QueueBytes/blockSize))) }

// unrefLocked drops one use of b and keeps it for reuse when it was the
// last. Called with mu held.
func (s *Spool) unrefLocked(b *block) {
	b.refs--
	if b.refs == 0 && b.handed {
		b.handed = false
		s.pinned--
	}
	if b.refs == 0 && cap(b.b) == blockSize && len(s.free) < s.maxFree() {
		b.b, b.n = b.b[:0], 0
		s.free = append(s.free, b)
	}
}

// Release tells the spool that e.Data is no longer used, so that the
// memory it points into can be reused. Releasing an entry twice, or using
// e.Data afterwards, is a bug.
func (s *Spool) Release(e Entry) {
	if e.blk == nil {
		return
	}
	s.mu.Lock()
	s.unrefLocked(e.blk)
	s.mu.Unlock()
}

// newBlock returns an empty block that holds at least need bytes. Called
// with mu held.
func (s *Spool) newBlock(need int) *block {
	if need <= blockSize {
		if n := len(s.free); n > 0 {
			b := s.free[n-1]
			s.free = s.free[:n-1]
			return b
		}
		return &block{b: make([]byte, 0, blockSize)}
	}
	return &block{b: make([]byte, 0, need)}
}

// broadcast wakes goroutines waiting in Read. Called with mu held.
func (s *Spool) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Spool) writeLoop() {
	defer close(s.done)
	tick := time.NewTimer(s.cfg.SyncInterval)
	defer tick.Stop()
	var batch []*block
	for {
		syncNow, stopping := false, false
		select {
		case <-s.wake:
		case <-tick.C:
			syncNow = true
			tick.Reset(s.cfg.SyncInterval)
		case <-s.stop:
			stopping, syncNow = true, true
		}
		s.mu.Lock()
		batch, s.q = s.q, batch[:0]
		s.qDocs = 0
		for _, b := range batch {
			b.refs++ // the writer's, until it has written b
		}
		s.mu.Unlock()
		for _, b := range batch {
			s.writeBatch(b)
		}
		s.mu.Lock()
		for i, b := range batch {
			s.unrefLocked(b)
			batch[i] = nil
		}
		s.mu.Unlock()
		if syncNow {
			s.syncAndPersist(stopping)
		}
		if stopping {
			return
		}
	}
}

// writeBatch appends records to the active segment, starting a new one
// whenever the next record would take it past SegmentBytes (a record larger
// than that gets a segment of its own). Only the writer goroutine touches wf.
func (s *Spool) writeBatch(blk *block) {
	batch, n := blk.b, blk.n
	for len(batch) > 0 {
		s.mu.Lock()
		size := int64(-1)
		if s.active != nil && !s.rotate {
			size = s.active.size
		}
		s.mu.Unlock()
		room := int64(s.cfg.SegmentBytes) - size
		if size < 0 || (room < int64(len(batch)) && size > int64(headerLen)) && firstRecordLen(batch) > room {
			if err := s.startSegment(); err != nil {
				s.writeFailed(err, batch, n)
				return
			}
			room = int64(s.cfg.SegmentBytes) - int64(headerLen)
		}
		part, k := len(batch), n
		if int64(len(batch)) > room {
			part, k = splitRecords(batch, room)
		}
		if !s.writePart(blk, batch[:part], k) {
			s.writeFailed(nil, batch[part:], n-k)
			return
		}
		batch, n = batch[part:], n-k
	}
}

func firstRecordLen(b []byte) int64 { return int64(recordHdr) + int64(uint32le(b)) }

// splitRecords returns the length and count of the longest run of whole
// records at the start of b that fits in room (at least one record).
func splitRecords(b []byte, room int64) (int, int64) {
	off, k := 0, int64(0)
	for off < len(b) {
		n := int(firstRecordLen(b[off:]))
		if int64(off+n) > room && k > 0 {
			break
		}
		off += n
		k++
	}
	return off, k
}

// writePart writes whole records (b, part of blk) to the active segment and
// commits them, handing them to the reader if it is caught up.
func (s *Spool) writePart(blk *block, b []byte, n int64) bool {
	if _, err := s.wf.Write(b); err != nil {
		s.writeFailed(err, b, n)
		s.mu.Lock()
		s.rotate = true // the reader stops at the damaged record
		s.mu.Unlock()
		return false
	}
	s.mu.Lock()
	g := s.active
	s.handoffLocked(g, g.size, b, blk)
	g.size += int64(len(b))
	g.written += int(n)
	s.st.DiskBytes += int64(len(b))
	s.qBytes -= int64(len(b))
	s.st.Written += uint64(n)
	s.st.WrittenBytes += uint64(len(b))
	s.unsync = true
	s.broadcast()
	s.mu.Unlock()
	return true
}

// writeFailed counts the documents of a batch (or its rest) that could not
// be written; err is nil for the rest after a failed part.
func (s *Spool) writeFailed(err error, batch []byte, n int64) {
	s.mu.Lock()
	s.qBytes -= int64(len(batch))
	s.st.LostOnWrite += uint64(n)
	if err != nil {
		s.st.WriteErrors++
		s.werr = fmt.Errorf("writing spool: %w", err)
	}
	s.mu.Unlock()
}

// startSegment seals the active segment and creates the next one.
func (s *Spool) startSegment() error {
	if err := s.sealActive(); err != nil {
		return err
	}
	s.mu.Lock()
	seq := s.nextSeq
	s.nextSeq++
	s.mu.Unlock()
	f, err := os.OpenFile(s.path(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("creating spool segment: %w", err)
	}
	if _, err := f.WriteString(segmentHeader); err != nil {
		f.Close()
		os.Remove(s.path(seq))
		return fmt.Errorf("creating spool segment: %w", err)
	}
	g := &segment{seq: seq, size: int64(headerLen), readOff: int64(headerLen), baseOff: int64(headerLen)}
	s.mu.Lock()
	s.wf, s.active, s.rotate = f, g, false
	s.segs = append(s.segs, g)
	s.st.DiskBytes += int64(headerLen)
	s.broadcast()
	s.mu.Unlock()
	return nil
}

// sealActive fsyncs and closes the active segment and marks it sealed.
func (s *Spool) sealActive() error {
	if s.wf == nil {
		return nil
	}
	err := s.wf.Sync()
	if cerr := s.wf.Close(); err == nil {
		err = cerr
	}
	s.mu.Lock()
	g := s.active
	s.wf, s.active, s.unsync = nil, nil, false
	g.sealed = true
	s.maybeDelete(g)
	s.broadcast()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sealing spool segment: %w", err)
	}
	return nil
}

// syncAndPersist fsyncs the active segment, retires it when it is fully
// delivered and nothing is queued (so an idle spool shrinks to nothing), and
// writes the cursor when acknowledgements changed it.
func (s *Spool) syncAndPersist(final bool) {
	s.mu.Lock()
	unsync := s.unsync
	s.unsync = false
	g := s.active
	retire := g != nil && len(s.q) == 0 && g.readOff == g.size && len(g.ack) == 0
	if retire {
		g.readEnd = true
	}
	s.mu.Unlock()
	if retire {
		if err := s.sealActive(); err != nil {
			s.setErr(err)
		}
	} else if unsync && s.wf != nil {
		if err := s.wf.Sync(); err != nil {
			s.setErr(fmt.Errorf("syncing spool segment: %w", err))
		}
	}
	if final && s.wf != nil {
		if err := s.wf.Close(); err != nil {
			s.setErr(fmt.Errorf("closing spool segment: %w", err))
		}
		s.wf = nil
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	s.dirty = false
	data := formatCursor(s.cursorLocked())
	s.mu.Unlock()
	if err := writeAtomic(s.cursorPath(), data); err != nil {
		s.setErr(fmt.Errorf("writing spool cursor: %w", err))
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
}

func (s *Spool) setErr(err error) {
	s.mu.Lock()
	s.werr = err
	s.mu.Unlock()
}

// cursorLocked lists the partly acknowledged segments.
func (s *Spool) cursorLocked() []cursorEntry {
	var out []cursorEntry
	for _, g := range s.segs {
		end := g.readIdx
		if pe := g.preBase + 8*len(g.pre); pe > end {
			end = pe
		}
		if g.base == 0 && end == 0 {
			continue
		}
		e := cursorEntry{seq: g.seq, index: g.base, offset: g.baseOff}
		var bits []byte
		for idx := g.base + 1; idx < end; idx++ {
			var acked bool
			if idx < g.readIdx {
				acked = g.ack[idx-g.base]
			} else {
				acked = g.preAcked(idx)
			}
			if acked {
				i := idx - g.base
				for len(bits) <= i/8 {
					bits = append(bits, 0)
				}
				bits[i/8] |= 1 << (i % 8)
			}
		}
		e.acked = bits
		out = append(out, e)
	}
	return out
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// Read returns the next documents in order, appended to dst: at most
// maxDocs documents and maxBytes of payload (but at least one document),
// and never more than MaxInFlight outstanding. It blocks until a document is available, ctx is
// done (ctx.Err()) or the spool is closed (ErrClosed).
func (s *Spool) Read(ctx context.Context, dst []Entry, maxDocs, maxBytes int) ([]Entry, error) {
	maxDocs = max(maxDocs, 1)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return dst, ErrClosed
		}
		room := min(s.cfg.MaxInFlight-s.st.InFlight, maxDocs)
		g := s.cur
		if g == nil || g.readEnd {
			g = s.nextSegmentLocked()
			if g != nil {
				s.cur = g
			}
		}
		if room <= 0 || g == nil {
			ch := s.changed
			s.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return dst, err
			}
			continue
		}
		off, limit, sealed := g.readOff, g.size, g.sealed
		if off < limit && s.memAtLocked(g, off) {
			n0 := len(dst)
			dst = s.readMemLocked(g, room, maxBytes, dst)
			if g.readOff >= g.size && g.sealed {
				s.endSegment(g)
			}
			s.mu.Unlock()
			if len(dst) > n0 {
				return dst, nil
			}
			continue
		}
		if len(s.mem) > 0 && s.mem[0].g == g && s.mem[0].off < limit {
			limit = s.mem[0].off // the file up to the records handed over
		}
		if off >= limit {
			if sealed {
				s.endSegment(g)
				s.mu.Unlock()
				continue
			}
			ch := s.changed
			s.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return dst, err
			}
			continue
		}
		s.mu.Unlock()

		n0 := len(dst)
		var err error
		dst, err = s.readChunk(g, off, limit, sealed, room, maxBytes, dst)
		if err != nil {
			return dst, err
		}
		if len(dst) > n0 {
			return dst, nil
		}
	}
}

// nextSegmentLocked is the first segment after the reader's that it has
// not finished.
func (s *Spool) nextSegmentLocked() *segment {
	for _, g := range s.segs {
		if (s.cur == nil || g.seq > s.cur.seq) && !g.readEnd {
			return g
		}
	}
	return nil
}

func wait(ctx context.Context, ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endSegment marks g read to its end. Called with mu held.
func (s *Spool) endSegment(g *segment) {
	g.readEnd = true
	if g.f != nil {
		g.f.Close()
		g.f = nil
	}
	s.maybeDelete(g)
	s.broadcast()
}

// maybeDelete removes a finished segment. Called with mu held.
func (s *Spool) maybeDelete(g *segment) {
	if !g.done() {
		return
	}
	if g.readOff < g.size {
		s.st.CorruptBytes += uint64(g.size - g.readOff)
	}
	if g.f != nil {
		g.f.Close()
		g.f = nil
	}
	if err := os.Remove(s.path(g.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.werr = fmt.Errorf("removing spool segment: %w", err)
	}
	s.st.DiskBytes -= g.size
	if i := slices.Index(s.segs, g); i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
	}
	s.dirty = true
}

// readChunk reads records of g from off (below limit) into dst.
func (s *Spool) readChunk(g *segment, off, limit int64, sealed bool, room, maxBytes int, dst []Entry) ([]Entry, error) {
	if g.f == nil {
		f, err := os.Open(s.path(g.seq))
		if err != nil {
			return dst, fmt.Errorf("opening spool segment: %w", err)
		}
		var hdr [headerLen]byte
		if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:]) != segmentHeader {
			f.Close()
			s.mu.Lock()
			s.st.CorruptRecords++
			s.endSegment(g)
			s.mu.Unlock()
			return dst, nil
		}
		g.f = f
	}
	want := max(int64(maxBytes)+recordHdr, 64<<10)
	want = min(want, blockSize, limit-off)
	// The chunk goes into a queue block; entries taken from it hold it
	// until released, like handed-over records.
	s.mu.Lock()
	blk := s.newBlock(int(want))
	blk.refs = 1
	s.mu.Unlock()
	buf := blk.b[:want]
	_, rerr := g.f.ReadAt(buf, off)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.unrefLocked(blk) // runs first, with mu held
	if s.closed {
		return dst, ErrClosed
	}
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return dst, fmt.Errorf("reading spool segment: %w", rerr)
	}
	pos, got, bytes := 0, 0, 0
	for got < room && pos < len(buf) {
		payload, n, st := parseRecord(buf[pos:])
		if st == recPartial {
			if pos > 0 {
				break // the rest comes with the next chunk
			}
			if len(buf) >= recordHdr {
				// A record larger than one chunk: read it whole.
				if need := int64(recordHdr) + int64(uint32le(buf)); need > int64(len(buf)) && need <= limit-off {
					s.mu.Unlock()
					big := make([]byte, need)
					_, err := g.f.ReadAt(big, off)
					s.mu.Lock()
					if s.closed {
						return dst, ErrClosed
					}
					if err != nil && !errors.Is(err, io.EOF) {
						return dst, fmt.Errorf("reading spool segment: %w", err)
					}
					buf, blk = big, nil
					continue
				}
			}
			if !sealed {
				break // not committed yet (the writer commits whole records)
			}
			st = recBad // a sealed segment ends inside a record
		}
		if st == recBad {
			s.st.CorruptRecords++
			if !sealed {
				s.rotate = true
			}
			s.endSegment(g)
			return dst, nil
		}
		var ok bool
		if dst, ok = s.takeLocked(g, off+int64(pos), n, payload[:len(payload):len(payload)], dst); ok {
			got++
			bytes += len(payload)
			if blk != nil {
				dst[len(dst)-1].blk = blk
				blk.refs++
			}
		}
		pos += n
		if bytes >= maxBytes {
			break
		}
	}
	if g.readOff >= g.size && g.sealed {
		s.endSegment(g)
	}
	return dst, nil
}

func uint32le(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// advance moves g's base past acknowledged records. Called with mu held.
func (s *Spool) advance(g *segment) {
	k := 0
	for k < len(g.ack) && g.ack[k] {
		k++
	}
	if k == 0 {
		return
	}
	g.ack, g.offs = g.ack[k:], g.offs[k:]
	g.base += k
	if len(g.offs) > 0 {
		g.baseOff = g.offs[0]
	} else {
		g.baseOff = g.readOff
	}
	if len(g.ack) == 0 {
		g.ack, g.offs = nil, nil // let the arrays go
	}
	s.dirty = true
}

// Ack marks the document at p delivered (or given up on). Acknowledging a
// position twice, or one that was never read, has no effect.
func (s *Spool) Ack(p Pos) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := slices.BinarySearchFunc(s.segs, p.Seq, func(g *segment, seq uint64) int {
		switch {
		case g.seq < seq:
			return -1
		case g.seq > seq:
			return 1
		}
		return 0
	})
	if !ok {
		return
	}
	g := s.segs[i]
	k := p.Index - g.base
	if k < 0 || k >= len(g.ack) || g.ack[k] {
		return
	}
	g.ack[k] = true
	full := s.st.InFlight >= s.cfg.MaxInFlight
	s.st.InFlight--
	s.st.Acked++
	if k == 0 {
		// The common case: acknowledgements in order.
		s.advance(g)
		if g.done() {
			s.maybeDelete(g)
		}
	}
	if full {
		s.broadcast()
	}
}

// Stats returns the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.QueueBytes, st.QueueDocs = s.qBytes, s.qDocs
	st.Segments = len(s.segs)
	return st
}

// Err returns the last I/O error of the writer, if any.
func (s *Spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr
}

// Empty reports whether every accepted document has been written and
// acknowledged.
func (s *Spool) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.qBytes > 0 || s.st.InFlight > 0 {
		return false
	}
	for _, g := range s.segs {
		if g.readOff < g.size && !g.readEnd {
			return false
		}
	}
	return true
}

// Close writes the queue to disk, fsyncs, writes the cursor and stops the
// writer. Documents read but not acknowledged are read again after the
// next Open. Read returns ErrClosed afterwards.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.broadcast()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem, s.memB = nil, 0
	for _, g := range s.segs {
		if g.f != nil {
			g.f.Close()
			g.f = nil
		}
	}
	return s.werr
}
