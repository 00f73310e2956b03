package pcapstore

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"time"
)

// Query says which packets to retrieve.
type Query struct {
	// Expr is the filter expression (see ParseExpr); empty selects every
	// packet in the window.
	Expr string
	// From and To bound packet time, inclusive; zero means unbounded.
	From, To time.Time
	// MaxPackets and MaxBytes stop the result early (Result.Truncated);
	// MaxBytes counts the bytes written. Zero means the configured
	// maximum, which also caps larger values.
	MaxPackets int64
	MaxBytes   int64
	// Who asked and Why (a case number, a ticket) go to the audit log, with
	// Output, where the result went.
	Who, Why, Output string
}

// Result describes what a query returned.
type Result struct {
	Packets   uint64
	Bytes     int64  // bytes written, file header included
	SHA256    string // of the bytes written
	Format    string // "pcap" (one link type) or "pcapng" (several)
	First     time.Time
	Last      time.Time
	Truncated bool // a packet or byte limit stopped the result
	// Files are the store files the packets came from (manifest names).
	Files []string
	// Scanned are files read whole because they had no usable index (the
	// open file, a damaged index).
	Scanned []string
	// Candidates counts the packets read and checked by the exact filter.
	Candidates uint64
	Elapsed    time.Duration
}

// AuditEntry is one line of the audit log (audit.jsonl): who retrieved
// which packets, when, and the hash of what they got.
type AuditEntry struct {
	Time      time.Time  `json:"time"`
	Op        string     `json:"op"` // "export" or "evidence"
	Who       string     `json:"who"`
	Why       string     `json:"why,omitempty"`
	Query     string     `json:"query"`
	From      *time.Time `json:"from,omitempty"`
	To        *time.Time `json:"to,omitempty"`
	Output    string     `json:"output,omitempty"`
	Packets   uint64     `json:"packets"`
	Bytes     int64      `json:"bytes"`
	SHA256    string     `json:"sha256,omitempty"`
	Truncated bool       `json:"truncated,omitempty"`
	Files     []string   `json:"files,omitempty"`
	Error     string     `json:"error,omitempty"`
	Prev      string     `json:"prev"`
}

// Export runs q and writes the matching packets to out as pcap (pcapng
// when they span several link types), in time order: packets of one file
// in the order they were captured, files merged by time. Every export is
// recorded in the audit log, failed ones too; an export whose audit record
// cannot be written returns an error. A bad expression returns a
// *SyntaxError; an unknown alert an error wrapping ErrNotFound.
func (s *Store) Export(ctx context.Context, q Query, out io.Writer) (Result, error) {
	res, err := s.export(ctx, q, out)
	if aerr := s.audit("export", q, &res, err); aerr != nil {
		return res, errors.Join(err, aerr)
	}
	return res, err
}

func (s *Store) audit(op string, q Query, res *Result, qerr error) error {
	e := AuditEntry{Time: s.opts.Now().UTC(), Op: op, Who: q.Who, Why: q.Why, Query: q.Expr, Output: q.Output,
		Packets: res.Packets, Bytes: res.Bytes, SHA256: res.SHA256, Truncated: res.Truncated, Files: res.Files}
	if e.Who == "" {
		e.Who = "unknown"
	}
	if !q.From.IsZero() {
		t := q.From.UTC()
		e.From = &t
	}
	if !q.To.IsZero() {
		t := q.To.UTC()
		e.To = &t
	}
	if qerr != nil {
		e.Error = qerr.Error()
	}
	if _, err := appendChained(s.path(auditName), &e, func(prev string) { e.Prev = prev }); err != nil {
		return fmt.Errorf("pcapstore: writing the audit log: %w", err)
	}
	return nil
}

// Audit reads the audit log and checks its chain.
func (s *Store) Audit() ([]AuditEntry, []ChainProblem, error) {
	var out []AuditEntry
	_, _, problems, err := readChain(s.path(auditName), func(_ int, _, body []byte, _ string) error {
		var e AuditEntry
		if json.Unmarshal(body, &e) == nil {
			out = append(out, e)
		}
		return nil
	})
	return out, problems, err
}

// plan is a compiled query.
type plan struct {
	root     *node
	seed     uint16
	from, to int64 // inclusive window, Unix ns
}

func (s *Store) compile(q Query) (*plan, error) {
	e, err := ParseExpr(q.Expr)
	if err != nil {
		return nil, err
	}
	root, err := s.resolve(e)
	if err != nil {
		return nil, err
	}
	p := &plan{root: root, seed: s.opts.CommunityIDSeed, from: math.MinInt64, to: math.MaxInt64}
	ef, et := root.window()
	if f := later(q.From, ef); !f.IsZero() {
		p.from = f.UnixNano()
	}
	if t := earlier(q.To, et); !t.IsZero() {
		p.to = t.UnixNano()
	}
	return p, nil
}

// match is the exact filter.
func (p *plan) match(ts int64, data []byte, link uint32) bool {
	if ts < p.from || ts > p.to {
		return false
	}
	var t tuple
	extract(data, link, &t)
	c := evalCtx{seed: p.seed, hasTime: true, ts: ts}
	return evalRoot(p.root, &t, &c) == oT
}

// entryMayMatch evaluates the plan on an index entry, in both directions,
// with time unknown.
func (p *plan) entryMayMatch(t *tuple) bool {
	c := evalCtx{seed: p.seed}
	if evalRoot(p.root, t, &c)&oT != 0 {
		return true
	}
	sw := t.swapped()
	return evalRoot(p.root, &sw, &c)&oT != 0
}

// candidates returns the entries the index tables allow (all: every entry).
func (x *index) candidates(n *node, seed uint16) (ids []uint32, all bool, err error) {
	if n == nil {
		return nil, true, nil
	}
	switch n.op {
	case opAnd:
		a, aAll, err := x.candidates(n.l, seed)
		if err != nil {
			return nil, false, err
		}
		if !aAll && len(a) == 0 {
			return a, false, nil
		}
		b, bAll, err := x.candidates(n.r, seed)
		if err != nil {
			return nil, false, err
		}
		switch {
		case aAll:
			return b, bAll, nil
		case bAll:
			return a, false, nil
		}
		return intersect(a, b), false, nil
	case opOr:
		a, aAll, err := x.candidates(n.l, seed)
		if err != nil || aAll {
			return nil, aAll, err
		}
		b, bAll, err := x.candidates(n.r, seed)
		if err != nil || bAll {
			return nil, bAll, err
		}
		return unionAll([][]uint32{a, b}), false, nil
	case opNot:
		return nil, true, nil
	}
	switch n.p.kind {
	case pHost:
		ids, err := x.prefixEntries(n.p.prefix)
		return ids, false, err
	case pPort:
		ids, err := x.portEntries(n.p.lo, n.p.hi)
		return ids, false, err
	case pCID:
		if x.seed != seed {
			return nil, true, nil
		}
		ids, err := x.cidEntries(n.p.cid)
		return ids, false, err
	case pAlert:
		return x.candidates(n.p.sub, seed)
	}
	return nil, true, nil
}

// offsets returns the file offsets of the packets of x that may match p,
// ascending, skipping time blocks outside p's window.
func (x *index) offsets(p *plan) ([]uint32, error) {
	if x.packets > 0 && (x.last < p.from || x.first > p.to) {
		return nil, nil
	}
	ids, all, err := x.candidates(p.root, p.seed)
	if err != nil {
		return nil, err
	}
	var offs []uint32
	visit := func(i uint32) error {
		t, po, count, err := x.entry(i)
		if err != nil {
			return err
		}
		if !p.entryMayMatch(&t) {
			return nil
		}
		offs, err = x.postings(offs, po, count)
		return err
	}
	if all {
		for i := uint32(0); i < x.numEntries(); i++ {
			if err := visit(i); err != nil {
				return nil, err
			}
		}
	} else {
		for _, i := range ids {
			if err := visit(i); err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(offs)
	// Drop the packets of time blocks wholly outside the window.
	nb := int(x.n[5])
	if nb > 0 && (p.from != math.MinInt64 || p.to != math.MaxInt64) {
		kept := offs[:0]
		b := 0
		for _, o := range offs {
			for b+1 < nb && x.block(b+1).off <= o {
				b++
			}
			blk := x.block(b)
			if blk.max >= p.from && blk.min <= p.to {
				kept = append(kept, o)
			}
		}
		offs = kept
	}
	return offs, nil
}

// fileMayMatch reports whether closed file name may hold packets matching
// n, using its index alone.
func (s *Store) fileMayMatch(name string, n *node) (bool, error) {
	x, unmap, err := s.openIndex(name)
	if err != nil {
		return true, err
	}
	defer unmap()
	p := &plan{root: n, seed: s.opts.CommunityIDSeed, from: math.MinInt64, to: math.MaxInt64}
	if f, t := n.window(); !f.IsZero() {
		p.from, p.to = f.UnixNano(), t.UnixNano()
	}
	offs, err := x.offsets(p)
	return len(offs) > 0, err
}

func (s *Store) openIndex(name string) (*index, func(), error) {
	f, err := os.Open(s.path(idxName(name)))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	b, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, nil, err
	}
	x, err := parseIndex(b)
	if err != nil {
		unmap()
		return nil, nil, err
	}
	return x, unmap, nil
}

// cursor yields a file's matching packets in file order.
type cursor interface {
	// next returns the next matching record (header and data), valid until
	// the following call; ok is false at the end.
	next() (rec []byte, ts int64, ok bool, err error)
	close()
}

// indexCursor reads the candidate packets of an indexed file with pread,
// one read per run of nearby candidates (at most maxWindow bytes), into a
// window taken from the query's pool when it starts reading and given back
// when it is done.
type indexCursor struct {
	p      *plan
	f      *os.File
	size   int64
	link   uint32
	offs   []uint32
	read   *uint64
	pool   *windowPool
	win    []byte
	winOff int64
}

// windowPool holds the read windows of a query's cursors: files are merged
// by time, and files written one after the other are read one after the
// other, so a few windows serve all of them (fresh memory is what a short
// query pays most for).
type windowPool struct{ free [][]byte }

func (p *windowPool) get(n int) []byte {
	for i, b := range p.free {
		if cap(b) >= n {
			p.free = slices.Delete(p.free, i, i+1)
			return b[:n]
		}
	}
	return make([]byte, n, max(n, maxWindow+recGuess))
}

func (p *windowPool) put(b []byte) {
	if b != nil {
		p.free = append(p.free, b[:0])
	}
}

// A run of candidates closer than maxGap is read with one pread: copying a
// few KiB costs about what a system call does (bench/pcapstore.sh: 1 KiB
// and 4 KiB read dense results slower, the busiest host the same).
const (
	maxWindow = 256 << 10
	maxGap    = 16 << 10
	recGuess  = 1024 // bytes read for a record of unknown length
)

// record returns the record at off, reading a new window when it is not
// in the current one.
func (c *indexCursor) record(off int64) ([]byte, recHeader, error) {
	in := func() ([]byte, recHeader, bool) {
		if off < c.winOff || off+recHeaderLen > c.winOff+int64(len(c.win)) {
			return nil, recHeader{}, false
		}
		b := c.win[off-c.winOff:]
		h, err := parseRecHeader(b)
		if err != nil || int64(len(b)) < recHeaderLen+int64(h.capLen) {
			return nil, h, err != nil
		}
		return b[:recHeaderLen+h.capLen], h, true
	}
	if rec, h, ok := in(); ok {
		if rec == nil {
			return nil, h, badIndex("no packet record at offset %d", off)
		}
		return rec, h, nil
	}
	// Cover this candidate and the following ones that lie close after
	// it (gaps under maxGap), up to maxWindow: dense results read in large
	// pieces, sparse ones read little.
	end := off + recGuess
	for _, o := range c.offs {
		if int64(o) >= off+maxWindow-recGuess || int64(o) > end+maxGap {
			break
		}
		end = int64(o) + recGuess
	}
	for attempt := 0; attempt < 2; attempt++ {
		end = min(end, c.size)
		if end < off+recHeaderLen {
			return nil, recHeader{}, badIndex("packet offset %d beyond the packet file", off)
		}
		if int64(cap(c.win)) < end-off {
			c.pool.put(c.win)
			c.win = c.pool.get(int(end - off))
		}
		c.win = c.win[:end-off]
		n, err := c.f.ReadAt(c.win, off)
		if n < len(c.win) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, recHeader{}, fmt.Errorf("reading packets: %w", err)
		}
		c.winOff = off
		if rec, h, ok := in(); ok {
			if rec == nil {
				return nil, h, badIndex("no packet record at offset %d", off)
			}
			return rec, h, nil
		}
		h, _ := parseRecHeader(c.win)
		end = off + recHeaderLen + int64(h.capLen) // a record longer than the guess
	}
	return nil, recHeader{}, badIndex("no packet record at offset %d", off)
}

func (c *indexCursor) next() ([]byte, int64, bool, error) {
	for len(c.offs) > 0 {
		off := int64(c.offs[0])
		c.offs = c.offs[1:]
		rec, h, err := c.record(off)
		if err != nil {
			return nil, 0, false, err
		}
		*c.read++
		if c.p.match(h.ts, rec[recHeaderLen:], c.link) {
			return rec, h.ts, true, nil
		}
	}
	c.release()
	return nil, 0, false, nil
}

// release gives the window back; the cursor is done.
func (c *indexCursor) release() {
	c.pool.put(c.win)
	c.win, c.winOff = nil, 0
}

func (c *indexCursor) close() {
	c.release()
	c.f.Close()
}

// scanCursor reads a file without a usable index from start to end.
type scanCursor struct {
	p    *plan
	f    *os.File
	br   *bufio.Reader
	link uint32
	buf  []byte
	read *uint64
}

func (c *scanCursor) next() ([]byte, int64, bool, error) {
	for {
		if cap(c.buf) < recHeaderLen {
			c.buf = make([]byte, recHeaderLen, 65536)
		}
		c.buf = c.buf[:recHeaderLen]
		if _, err := io.ReadFull(c.br, c.buf); err != nil {
			return nil, 0, false, nil // end, or a record being written
		}
		h, err := parseRecHeader(c.buf)
		if err != nil {
			return nil, 0, false, nil
		}
		n := recHeaderLen + int(h.capLen)
		if cap(c.buf) < n {
			nb := make([]byte, n)
			copy(nb, c.buf)
			c.buf = nb
		}
		c.buf = c.buf[:n]
		if _, err := io.ReadFull(c.br, c.buf[recHeaderLen:]); err != nil {
			return nil, 0, false, nil
		}
		*c.read++
		if c.p.match(h.ts, c.buf[recHeaderLen:], c.link) {
			return c.buf, h.ts, true, nil
		}
	}
}

func (c *scanCursor) close() { c.f.Close() }

// source is one file's cursor in the merge.
type source struct {
	c     cursor
	seq   uint64
	name  string
	link  uint32
	first int64 // no packet of the file is older (MinInt64: unknown)
	rec   []byte
	ts    int64
	used  bool
}

type mergeHeap []*source

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].ts != h[j].ts {
		return h[i].ts < h[j].ts
	}
	return h[i].seq < h[j].seq
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// open prepares a cursor for every file that may hold matching packets, in
// file order.
func (s *Store) open(p *plan, res *Result) ([]*source, error) {
	files, err := s.Files()
	if err != nil {
		return nil, err
	}
	var srcs []*source
	pool := &windowPool{}
	closeAll := func() {
		for _, src := range srcs {
			src.c.close()
		}
	}
	for _, fi := range files {
		if fi.Indexed && fi.Packets > 0 && (fi.Last.UnixNano() < p.from || fi.First.UnixNano() > p.to) {
			continue
		}
		if fi.Indexed && fi.Packets == 0 {
			continue
		}
		src, err := s.openSource(fi, p, res, pool)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted by retention meanwhile
		}
		if err != nil {
			closeAll()
			return nil, err
		}
		if src != nil {
			srcs = append(srcs, src)
		}
	}
	return srcs, nil
}

func (s *Store) openSource(fi FileInfo, p *plan, res *Result, pool *windowPool) (*source, error) {
	if fi.Indexed {
		x, unmapIdx, err := s.openIndex(fi.Name)
		if err == nil {
			offs, err := x.offsets(p)
			link, size, first := x.link, x.dataSize, x.first
			unmapIdx()
			if err == nil {
				if len(offs) == 0 {
					return nil, nil
				}
				f, err := os.Open(s.path(fi.Name))
				if err != nil {
					return nil, err
				}
				st, err := f.Stat()
				if err == nil && st.Size() < size {
					err = fmt.Errorf("%s: shorter than its index says (%d < %d bytes)", fi.Name, st.Size(), size)
				}
				if err != nil {
					f.Close()
					return nil, err
				}
				if x.packets == 0 {
					first = math.MinInt64
				}
				return &source{c: &indexCursor{p: p, f: f, size: size, link: link, offs: offs, read: &res.Candidates, pool: pool},
					seq: fi.Seq, name: fi.Name, link: link, first: first}, nil
			}
		}
		// A damaged index: fall back to reading the file.
	}
	f, err := os.Open(s.path(fi.Name))
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var hdr [fileHeaderLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		f.Close()
		return nil, nil // an open file with nothing in it yet
	}
	link, err := readFileHeader(hdr[:])
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", fi.Name, err)
	}
	res.Scanned = append(res.Scanned, fi.Name)
	return &source{c: &scanCursor{p: p, f: f, br: br, link: link, read: &res.Candidates}, seq: fi.Seq, name: fi.Name, link: link, first: math.MinInt64}, nil
}

func (s *Store) export(ctx context.Context, q Query, out io.Writer) (res Result, err error) {
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	p, err := s.compile(q)
	if err != nil {
		return res, err
	}
	maxPkts, maxBytes := s.cfg.MaxResultPackets, int64(s.cfg.MaxResultBytes)
	if q.MaxPackets > 0 && q.MaxPackets < maxPkts {
		maxPkts = q.MaxPackets
	}
	if q.MaxBytes > 0 && q.MaxBytes < maxBytes {
		maxBytes = q.MaxBytes
	}
	srcs, err := s.open(p, &res)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, src := range srcs {
			src.c.close()
		}
	}()
	links := map[uint32]bool{}
	for _, src := range srcs {
		links[src.link] = true
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	bw := bufio.NewWriterSize(cw, 256<<10)
	var pw packetWriter
	if len(links) <= 1 {
		link := uint32(linkEthernet)
		for l := range links {
			link = l
		}
		pw = newPcapWriter(bw, link)
		res.Format = "pcap"
	} else {
		pw = newPcapngWriter(bw)
		res.Format = "pcapng"
	}
	// The merge: a file joins it when the oldest packet waiting is no older
	// than the file's first packet (no packet of the file can come
	// earlier), so files written one after the other are read one after
	// the other.
	pending := slices.Clone(srcs)
	slices.SortStableFunc(pending, func(a, b *source) int { return cmp.Compare(a.first, b.first) })
	mh := mergeHeap{}
	join := func() error {
		for len(pending) > 0 && (mh.Len() == 0 || mh[0].ts >= pending[0].first) {
			src := pending[0]
			pending = pending[1:]
			rec, ts, ok, err := src.c.next()
			if err != nil {
				return fmt.Errorf("pcapstore: %s: %w", src.name, err)
			}
			if ok {
				src.rec, src.ts = rec, ts
				heap.Push(&mh, src)
			}
		}
		return nil
	}
	written := pw.headerLen()
	for {
		if err := join(); err != nil {
			return res, err
		}
		if mh.Len() == 0 {
			break
		}
		src := mh[0]
		if int64(res.Packets) >= maxPkts || written+int64(pw.recordLen(len(src.rec)-recHeaderLen)) > maxBytes {
			res.Truncated = true
			break
		}
		if err := pw.write(src.rec, src.link); err != nil {
			return res, fmt.Errorf("pcapstore: writing the result: %w", err)
		}
		written += int64(pw.recordLen(len(src.rec) - recHeaderLen))
		if res.Packets == 0 {
			res.First = tsTime(src.ts)
		}
		res.Last = tsTime(src.ts)
		res.Packets++
		if !src.used {
			src.used = true
			res.Files = append(res.Files, src.name)
		}
		if res.Packets&0xfff == 0 && ctx.Err() != nil {
			return res, ctx.Err()
		}
		rec, ts, ok, err := src.c.next()
		if err != nil {
			return res, fmt.Errorf("pcapstore: %s: %w", src.name, err)
		}
		if ok {
			src.rec, src.ts = rec, ts
			heap.Fix(&mh, 0)
		} else {
			heap.Pop(&mh)
		}
	}
	if err := pw.finish(); err != nil {
		return res, fmt.Errorf("pcapstore: writing the result: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("pcapstore: writing the result: %w", err)
	}
	slices.Sort(res.Files)
	res.Bytes = cw.n
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	return res, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
