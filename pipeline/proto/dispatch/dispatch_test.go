package dispatch

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// tape is a parser that takes flows whose first bytes start with its
// prefix and records what its sessions receive.
type tape struct {
	prefix string
	limit  int
	log    []string // "c:bytes", "s:bytes", "gap c 3", "end"
	fail   string   // Payload returns Malformed when it sees this
}

func (p *tape) Name() string { return "tape" }
func (p *tape) Match(_ *flow.Info, _ flow.Dir, first []byte) bool {
	return bytes.HasPrefix(first, []byte(p.prefix))
}
func (p *tape) NewSession(*flow.Info, proto.Emit) proto.Session { return (*tapeSession)(p) }
func (p *tape) StreamLimit() int                                { return p.limit }

type tapeSession tape

var dirName = [2]string{"c", "s"}

func (s *tapeSession) Payload(d flow.Dir, _ time.Time, b []byte) error {
	if s.fail != "" && bytes.Contains(b, []byte(s.fail)) {
		return proto.Malformed("bad thing")
	}
	s.log = append(s.log, dirName[d]+":"+string(b))
	return nil
}
func (s *tapeSession) Gap(d flow.Dir, n int) {
	s.log = append(s.log, fmt.Sprintf("gap %s %d", dirName[d], n))
}
func (s *tapeSession) End(time.Time, event.EndReason) { s.log = append(s.log, "end") }

// conn drives a flow table with a dispatcher through crafted TCP segments.
type conn struct {
	t   *testing.T
	tab *flow.Table
	d   *Dispatcher
	ts  int64
	cli netip.AddrPort
	srv netip.AddrPort
}

func newConn(t *testing.T, cfg Config, parsers ...proto.Parser) *conn {
	c := &conn{t: t, ts: time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC).UnixNano(),
		cli: netip.MustParseAddrPort("10.1.1.1:50000"), srv: netip.MustParseAddrPort("10.2.2.2:3389")}
	tab, err := flow.New(flow.DefaultConfig(), func(*event.Flow, int) {})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, parsers, tab, func(event.Record) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab.SetHook(d)
	c.tab, c.d = tab, d
	return c
}

// seg sends one segment; from is 'c' or 's'.
func (c *conn) seg(from byte, flags uint8, seq, ack uint32, payload string) {
	p := decode.Packet{Net: decode.NetIPv4, Proto: 6, TCPFlags: flags, Seq: seq, Ack: ack,
		Payload: []byte(payload), PayloadLen: len(payload)}
	src, dst := c.cli, c.srv
	if from == 's' {
		src, dst = dst, src
	}
	p.Src, p.Dst, p.SrcPort, p.DstPort = src.Addr(), dst.Addr(), src.Port(), dst.Port()
	c.ts += int64(time.Millisecond)
	c.tab.Packet(&p, c.ts, 60+len(payload), 0)
}

const (
	syn = decode.FlagSYN
	ack = decode.FlagACK
	psh = decode.FlagPSH | decode.FlagACK
	fin = decode.FlagFIN | decode.FlagACK
)

func (c *conn) handshake() {
	c.seg('c', syn, 999, 0, "")
	c.seg('s', syn|ack, 4999, 1000, "")
	c.seg('c', ack, 1000, 5000, "")
}

func (c *conn) end() { c.tab.Flush(event.EndShutdown) }

func check(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("session saw\n  %q\nwant\n  %q", got, want)
	}
}

func TestInOrder(t *testing.T) {
	p := &tape{prefix: "HELLO"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "HELLO ")
	c.seg('c', psh, 1006, 5000, "world")
	c.seg('s', psh, 5000, 1011, "hi")
	c.end()
	check(t, p.log, "c:HELLO ", "c:world", "s:hi", "end")
}

func TestOutOfOrderAndRetransmission(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1002, 5000, "CD")  // ahead: held
	c.seg('c', psh, 1000, 5000, "AB")  // fills the hole: AB then CD
	c.seg('c', psh, 1000, 5000, "AB")  // retransmission: dropped
	c.seg('c', psh, 1003, 5000, "DEF") // overlap of one byte: "EF" only
	c.end()
	check(t, p.log, "c:AB", "c:CD", "c:EF", "end")
	if got := c.d.Counters().Overlap; got != 3 {
		t.Errorf("overlap bytes = %d, want 3", got)
	}
}

func TestFirstSegmentOutOfOrderStillMatches(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1002, 5000, "CD")
	c.seg('c', psh, 1000, 5000, "AB")
	c.end()
	check(t, p.log, "c:AB", "c:CD", "end")
}

func TestGapWhenPeerAcksMissingBytes(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "AB")
	c.seg('c', psh, 1005, 5000, "FG") // 1002..1004 never captured
	c.seg('s', ack, 5000, 1007, "")   // the server got them all
	c.seg('c', psh, 1007, 5000, "HI")
	c.end()
	check(t, p.log, "c:AB", "gap c 3", "c:FG", "c:HI", "end")
}

func TestGapAtEnd(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "AB")
	c.seg('c', psh, 1010, 5000, "XY")
	c.end()
	check(t, p.log, "c:AB", "gap c 8", "c:XY", "end")
}

func TestPerFlowBufferLimitForcesGap(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{MaxBufferedPerFlow: 4, MaxBuffered: 100}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "AB")
	c.seg('c', psh, 1004, 5000, "EF")
	c.seg('c', psh, 1006, 5000, "GHI") // 5 bytes held > 4: skip the hole
	if got := c.d.buffered; got != 0 {
		t.Errorf("still holding %d bytes after the overflow", got)
	}
	c.end()
	check(t, p.log, "c:AB", "gap c 2", "c:EF", "c:GHI", "end")
	if c.d.Counters().Overflows != 1 {
		t.Errorf("overflows = %d, want 1", c.d.Counters().Overflows)
	}
}

func TestStreamLimit(t *testing.T) {
	p := &tape{prefix: "AB", limit: 5}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "ABC")
	c.seg('c', psh, 1003, 5000, "DEFG")
	c.seg('c', psh, 1007, 5000, "HIJ")
	c.seg('s', psh, 5000, 1010, "server")
	c.end()
	check(t, p.log, "c:ABC", "c:DE", "s:serve", "end")
}

func TestUnmatchedFlowIsLeftAlone(t *testing.T) {
	p := &tape{prefix: "NOPE"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1002, 5000, "CD")
	c.seg('c', psh, 1000, 5000, "AB")
	c.end()
	check(t, p.log)
	if got := c.d.Counters(); got.Unmatched != 1 || c.d.buffered != 0 {
		t.Errorf("unmatched = %d, buffered = %d; want 1, 0", got.Unmatched, c.d.buffered)
	}
}

func TestMalformedDetachesAndCounts(t *testing.T) {
	p := &tape{prefix: "AB", fail: "BAD"}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "AB")
	c.seg('c', psh, 1002, 5000, "BAD")
	c.seg('c', psh, 1005, 5000, "more")
	c.end()
	check(t, p.log, "c:AB", "end")
	if got := c.d.Counters().Malformed[MalformedKey{"tape", "bad thing"}]; got != 1 {
		t.Errorf("malformed{tape, bad thing} = %d, want 1", got)
	}
}

func TestMidstreamPickup(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{}, p)
	c.seg('c', psh, 777, 5000, "AB")
	c.seg('c', psh, 779, 5000, "CD")
	c.end()
	check(t, p.log, "c:AB", "c:CD", "end")
}

func TestSequenceWrap(t *testing.T) {
	p := &tape{prefix: "AB"}
	c := newConn(t, Config{}, p)
	c.seg('c', syn, 0xfffffffd, 0, "")
	c.seg('c', psh, 0xfffffffe, 0, "AB")
	c.seg('c', psh, 0x00000002, 0, "EF") // ahead across the wrap
	c.seg('c', psh, 0x00000000, 0, "CD")
	c.end()
	check(t, p.log, "c:AB", "c:CD", "c:EF", "end")
}

type panicky struct{ tape }

func (p *panicky) NewSession(*flow.Info, proto.Emit) proto.Session { return panicSession{} }

type panicSession struct{}

func (panicSession) Payload(flow.Dir, time.Time, []byte) error { panic("parser bug") }
func (panicSession) Gap(flow.Dir, int)                         {}
func (panicSession) End(time.Time, event.EndReason)            {}

func TestParserPanicIsContained(t *testing.T) {
	p := &panicky{tape{prefix: "AB"}}
	c := newConn(t, Config{}, p)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "AB")
	c.seg('c', psh, 1002, 5000, "CD")
	c.end()
	if got := c.d.Counters().Panics; got != 1 {
		t.Errorf("panics = %d, want 1", got)
	}
}

type panicMatch struct{ tape }

func (p *panicMatch) Match(*flow.Info, flow.Dir, []byte) bool { panic("match bug") }

// A Match that panics is counted and taken as a no: the parsers after it
// still get their chance, those before it theirs.
func TestMatchPanicIsContained(t *testing.T) {
	before, after := &tape{prefix: "XY"}, &tape{prefix: "AB"}
	c := newConn(t, Config{}, before, &panicMatch{}, &panicMatch{}, after)
	c.handshake()
	c.seg('c', psh, 1000, 5000, "AB")
	c.end()
	check(t, after.log, "c:AB", "end")
	check(t, before.log)
	if got := c.d.Counters().Panics; got != 2 {
		t.Errorf("panics = %d, want 2", got)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{MaxBufferedPerFlow: 10, MaxBuffered: 5}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "max_buffered_per_flow: ") {
		t.Errorf("Validate = %v", err)
	}
}
