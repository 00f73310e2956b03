package dispatch

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Config bounds reassembly. Zero fields take the defaults.
type Config struct {
	// MaxStreamBytes is how many bytes of each TCP direction are delivered
	// to a parser that does not ask otherwise. Defaults to 64 KiB.
	MaxStreamBytes int `yaml:"max_stream_bytes"`
	// MaxBufferedPerFlow bounds the out-of-order bytes held for one flow.
	// Defaults to 64 KiB.
	MaxBufferedPerFlow int `yaml:"max_buffered_per_flow"`
	// MaxBuffered bounds the out-of-order bytes held for all flows of a
	// worker. Defaults to 64 MiB.
	MaxBuffered int `yaml:"max_buffered"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxStreamBytes: 64 << 10, MaxBufferedPerFlow: 64 << 10, MaxBuffered: 64 << 20}
}

// Validate reports fields out of range as "key: reason".
func (c Config) Validate() error {
	var errs []error
	if c.MaxStreamBytes < 0 {
		errs = append(errs, errors.New("max_stream_bytes: must not be negative"))
	}
	if c.MaxBufferedPerFlow < 0 {
		errs = append(errs, errors.New("max_buffered_per_flow: must not be negative"))
	}
	if c.MaxBuffered < 0 {
		errs = append(errs, errors.New("max_buffered: must not be negative"))
	}
	if c.MaxBuffered > 0 && c.MaxBufferedPerFlow > c.MaxBuffered {
		errs = append(errs, fmt.Errorf("max_buffered_per_flow: %d is more than max_buffered (%d)", c.MaxBufferedPerFlow, c.MaxBuffered))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxStreamBytes == 0 {
		c.MaxStreamBytes = d.MaxStreamBytes
	}
	if c.MaxBufferedPerFlow == 0 {
		c.MaxBufferedPerFlow = d.MaxBufferedPerFlow
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = d.MaxBuffered
	}
	return c
}

// Counters are what a Dispatcher did. Per-parser figures are indexed like
// the parsers given to New.
type Counters struct {
	Sessions   []uint64 // sessions started, by parser
	Records    []uint64 // records emitted, by parser
	Unmatched  uint64   // flows with payload that no parser wanted
	Malformed  map[MalformedKey]uint64
	Bytes      uint64 // payload bytes delivered to sessions
	Overlap    uint64 // retransmitted or overlapping bytes trimmed
	Gaps       uint64 // gaps reported to sessions
	GapBytes   uint64 // bytes in those gaps
	Buffered   uint64 // out-of-order bytes buffered (cumulative)
	Overflows  uint64 // times a buffer limit forced a gap
	BufferedHi uint64 // the most out-of-order bytes held at once
	Panics     uint64 // parser panics recovered (bugs; the session is dropped)
}

// MalformedKey labels a malformed-message counter.
type MalformedKey struct{ Parser, Reason string }

// Dispatcher runs parsers on one worker's flows. It is not safe for
// concurrent use: each worker owns one.
type Dispatcher struct {
	cfg      Config
	parsers  []proto.Parser
	limits   []int        // per parser: bytes per direction, 0 = whole flow
	emits    []proto.Emit // per parser: counts the record and passes it on
	table    *flow.Table
	out      proto.Emit
	decorate func(*flow.Info)

	flows    []*app    // by flow slot
	info     flow.Info // the flow start considers
	pool     []*app
	buffered int
	c        Counters
}

// New builds a Dispatcher for the flows of t. emit receives every record;
// decorate, if not nil, completes the Info of each flow a parser takes
// (network.direction, interface name) before its session sees it (Match
// does not). Install it with t.SetHook.
func New(cfg Config, parsers []proto.Parser, t *flow.Table, emit proto.Emit, decorate func(*flow.Info)) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Dispatcher{cfg: cfg, parsers: parsers, table: t, out: emit, decorate: decorate}
	d.limits = make([]int, len(parsers))
	for i, p := range parsers {
		d.limits[i] = cfg.MaxStreamBytes
		if l, ok := p.(proto.Limiter); ok {
			d.limits[i] = l.StreamLimit()
		}
	}
	d.emits = make([]proto.Emit, len(parsers))
	for i := range parsers {
		d.emits[i] = func(r event.Record) {
			d.c.Records[i]++
			d.out(r)
		}
	}
	d.c.Sessions = make([]uint64, len(parsers))
	d.c.Records = make([]uint64, len(parsers))
	d.c.Malformed = map[MalformedKey]uint64{}
	return d, nil
}

// Parsers returns the parsers in match order.
func (d *Dispatcher) Parsers() []proto.Parser { return d.parsers }

// Counters returns a copy of the counters.
func (d *Dispatcher) Counters() Counters {
	c := d.c
	c.Sessions = slices.Clone(c.Sessions)
	c.Records = slices.Clone(c.Records)
	c.Malformed = make(map[MalformedKey]uint64, len(d.c.Malformed))
	for k, v := range d.c.Malformed {
		c.Malformed[k] = v
	}
	return c
}

// Flow phases.
const (
	phaseMatch  = iota // no payload yet
	phaseActive        // a session runs
	phaseDone          // no parser, or the session detached / finished
)

// app is one flow's protocol state.
type app struct {
	phase  uint8
	parser int
	sess   proto.Session
	limit  int // bytes per direction, 0 = unlimited
	dir    [2]stream
}

// stream is one direction of a TCP flow.
type stream struct {
	init      bool
	fin       bool
	next      uint32 // next expected sequence number
	acked     uint32 // highest ack the peer sent for this direction
	ackedSet  bool
	delivered int // bytes delivered to the session
	full      bool
	segs      []segment // out of order, sorted by seq
	held      int       // bytes in segs
}

type segment struct {
	seq  uint32
	ts   int64
	data []byte
}

func (d *Dispatcher) get(slot int) *app {
	if slot < len(d.flows) {
		return d.flows[slot]
	}
	return nil
}

func (d *Dispatcher) put(slot int, a *app) {
	for len(d.flows) <= slot {
		d.flows = append(d.flows, nil)
	}
	d.flows[slot] = a
}

func (d *Dispatcher) alloc() *app {
	if n := len(d.pool); n > 0 {
		a := d.pool[n-1]
		d.pool = d.pool[:n-1]
		return a
	}
	return &app{}
}

func (d *Dispatcher) release(slot int, a *app) {
	for i := range a.dir {
		d.dropSegments(&a.dir[i])
	}
	segs := [2][]segment{a.dir[0].segs[:0], a.dir[1].segs[:0]}
	*a = app{}
	a.dir[0].segs, a.dir[1].segs = segs[0], segs[1]
	d.pool = append(d.pool, a)
	d.flows[slot] = nil
}

// Packet implements flow.Hook.
func (d *Dispatcher) Packet(slot int, dir flow.Dir, p *decode.Packet, ts int64) {
	switch p.Proto {
	case 6:
		d.tcp(slot, dir, p, ts)
	case 17:
		if len(p.Payload) > 0 {
			d.udp(slot, dir, p, ts)
		}
	}
}

func (d *Dispatcher) udp(slot int, dir flow.Dir, p *decode.Packet, ts int64) {
	a := d.get(slot)
	if a == nil {
		a = d.alloc()
		d.put(slot, a)
		if !d.start(slot, a, dir, p.Payload) {
			return
		}
	}
	if a.phase != phaseActive {
		return
	}
	d.deliver(slot, a, dir, ts, p.Payload)
	if a.phase == phaseActive && len(p.Payload) < p.PayloadLen {
		d.gap(slot, a, dir, p.PayloadLen-len(p.Payload)) // cut by the snap length
	}
}

// start picks a parser from the first payload; it reports whether one took
// the flow.
func (d *Dispatcher) start(slot int, a *app, dir flow.Dir, first []byte) bool {
	// Match and NewSession see the dispatcher's own Info (neither keeps
	// it): starting a flow allocates nothing but the session. Match sees
	// the flow's key and addresses; the identifiers and decorate's
	// direction and interface are added only for a flow a parser takes.
	d.info = d.table.Info(slot)
	for from := 0; from < len(d.parsers); {
		i, panicked := d.match(from, dir, first)
		if panicked {
			from = i + 1 // a panicking Match is a no
			continue
		}
		if i < 0 {
			break
		}
		p := d.parsers[i]
		d.table.Identify(slot, &d.info)
		if d.decorate != nil {
			d.decorate(&d.info)
		}
		a.phase, a.parser, a.limit = phaseActive, i, d.limits[i]
		a.sess = p.NewSession(&d.info, d.emits[i])
		d.c.Sessions[i]++
		return true
	}
	a.phase = phaseDone
	d.c.Unmatched++
	return false
}

// match returns the first parser from index from on whose Match wants
// the flow, or -1. A Match that panics (a parser bug) is counted and
// reported with its index, so that start goes on with the next parser: one
// deferred recover per flow rather than one per parser.
func (d *Dispatcher) match(from int, dir flow.Dir, first []byte) (i int, panicked bool) {
	i = from
	defer func() {
		if recover() != nil {
			d.c.Panics++
			panicked = true
		}
	}()
	for ; i < len(d.parsers); i++ {
		if d.parsers[i].Match(&d.info, dir, first) {
			return i, false
		}
	}
	return -1, false
}

// deliver passes b to the session, within the stream limit.
func (d *Dispatcher) deliver(slot int, a *app, dir flow.Dir, ts int64, b []byte) {
	s := &a.dir[dir]
	if a.limit > 0 {
		room := a.limit - s.delivered
		if room <= 0 {
			s.full = true
			return
		}
		if len(b) > room {
			b = b[:room]
		}
	}
	s.delivered += len(b)
	d.c.Bytes += uint64(len(b))
	if err := d.call(a, func() error { return a.sess.Payload(dir, time.Unix(0, ts).UTC(), b) }); err != nil {
		d.detach(slot, a, ts, err)
	}
}

func (d *Dispatcher) gap(slot int, a *app, dir flow.Dir, n int) {
	if n <= 0 || a.phase != phaseActive {
		return
	}
	d.c.Gaps++
	d.c.GapBytes += uint64(n)
	_ = d.call(a, func() error { a.sess.Gap(dir, n); return nil })
}

// call runs a session method, turning a panic (a parser bug) into a counted
// detach instead of a crashed sensor.
func (d *Dispatcher) call(a *app, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			d.c.Panics++
			err = fmt.Errorf("%w: parser panic: %v", errPanic, r)
		}
	}()
	return f()
}

var errPanic = errors.New("bug")

// detach ends a session after an error.
func (d *Dispatcher) detach(slot int, a *app, ts int64, err error) {
	name := d.parsers[a.parser].Name()
	switch {
	case errors.Is(err, errPanic):
		d.c.Malformed[MalformedKey{name, "parser panic"}]++
	default:
		d.c.Malformed[MalformedKey{name, proto.Reason(err)}]++
	}
	if !errors.Is(err, errPanic) {
		if d.call(a, func() error { a.sess.End(time.Unix(0, ts).UTC(), event.EndShutdown); return nil }) == nil {
			recycle(a.sess)
		}
	}
	a.sess = nil
	a.phase = phaseDone
	for i := range a.dir {
		d.dropSegments(&a.dir[i])
	}
}

// End implements flow.Hook.
func (d *Dispatcher) End(slot int, ts int64, reason event.EndReason) {
	a := d.get(slot)
	if a == nil {
		return
	}
	if a.phase == phaseActive {
		// Deliver what waits behind holes, with the holes as gaps.
		for dir := range a.dir {
			s := &a.dir[dir]
			for len(s.segs) > 0 && a.phase == phaseActive {
				g := s.segs[0]
				if n := int(int32(g.seq - s.next)); n > 0 {
					d.gap(slot, a, flow.Dir(dir), n)
					s.next = g.seq
				}
				d.drain(slot, a, flow.Dir(dir))
			}
		}
		if a.phase == phaseActive {
			if d.call(a, func() error { a.sess.End(time.Unix(0, ts).UTC(), reason); return nil }) == nil {
				recycle(a.sess)
			}
		}
	}
	d.release(slot, a)
}

// recycle hands a finished session back to its parser when it can be
// reused (never one that panicked).
func recycle(s proto.Session) {
	if r, ok := s.(proto.Recycler); ok {
		r.Recycle()
	}
}

func (d *Dispatcher) dropSegments(s *stream) {
	d.buffered -= s.held
	for i := range s.segs {
		s.segs[i] = segment{}
	}
	s.segs = s.segs[:0]
	s.held = 0
}
