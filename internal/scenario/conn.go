package scenario

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// wire renders conversations as packets into a capture. It is driven by
// one goroutine.
type wire struct {
	cap      *capture
	r        *rand.Rand
	internal func(netip.Addr) bool
	ipID     uint16
}

// mss is the most payload one captured segment carries.
const mss = 1448

// bulkSegment is the wire payload of one bulk segment, captured headers
// only (as a capture with a short snap length records a GSO super-packet).
const bulkSegment = 60000

func (w *wire) port() uint16 { return uint16(49152 + w.r.IntN(16000)) }

func (w *wire) rtt() time.Duration {
	return time.Duration(200+w.r.IntN(1800)) * time.Microsecond
}

func (w *wire) emit(t time.Time, src, dst netip.AddrPort, proto uint8, seq, ackn uint32, flags uint8, payload []byte, bulk int) {
	w.ipID++
	data, n := frame(src, dst, w.internal(src.Addr()), w.internal(dst.Addr()), proto, seq, ackn, flags, 64240, payload, bulk, w.ipID)
	w.cap.add(t, data, n)
}

// conn is one TCP connection being rendered: the client and server
// endpoints, each side's next sequence number and the current time.
type conn struct {
	w          *wire
	c, s       netip.AddrPort
	cseq, sseq uint32
	t          time.Time
	rtt        time.Duration
}

// tcp opens a connection with the three-way handshake at t.
func (w *wire) tcp(cli, srv netip.AddrPort, t time.Time) *conn {
	c := &conn{w: w, c: cli, s: srv, cseq: w.r.Uint32(), sseq: w.r.Uint32(), t: t, rtt: w.rtt()}
	w.emit(c.t, cli, srv, 6, c.cseq, 0, syn, nil, 0)
	c.cseq++
	c.t = c.t.Add(c.rtt / 2)
	w.emit(c.t, srv, cli, 6, c.sseq, c.cseq, syn|ack, nil, 0)
	c.sseq++
	c.t = c.t.Add(c.rtt / 2)
	w.emit(c.t, cli, srv, 6, c.cseq, c.sseq, ack, nil, 0)
	return c
}

// refused renders a SYN answered by a reset (Zeek REJ).
func (w *wire) refused(cli, srv netip.AddrPort, t time.Time) {
	seq := w.r.Uint32()
	w.emit(t, cli, srv, 6, seq, 0, syn, nil, 0)
	w.emit(t.Add(w.rtt()), srv, cli, 6, 0, seq+1, rst|ack, nil, 0)
}

// unanswered renders a SYN and its retransmissions that nobody answers
// (Zeek S0).
func (w *wire) unanswered(cli, srv netip.AddrPort, t time.Time) {
	seq := w.r.Uint32()
	for _, d := range []time.Duration{0, time.Second, 3 * time.Second} {
		w.emit(t.Add(d), cli, srv, 6, seq, 0, syn, nil, 0)
	}
}

// udp renders a datagram and, unless resp is nil, its answer.
func (w *wire) udp(cli, srv netip.AddrPort, t time.Time, req, resp []byte) {
	w.emit(t, cli, srv, 17, 0, 0, 0, req, 0)
	if resp != nil {
		w.emit(t.Add(w.rtt()), srv, cli, 17, 0, 0, 0, resp, 0)
	}
}

// send writes payload from the client (or server) in segments; the
// other side's acknowledgment rides on its next segment.
func (c *conn) send(fromClient bool, payload []byte) {
	for len(payload) > 0 {
		n := min(len(payload), mss)
		c.segment(fromClient, payload[:n], 0, psh|ack)
		payload = payload[n:]
		c.t = c.t.Add(20 * time.Microsecond)
	}
	c.t = c.t.Add(c.rtt)
}

// cli and srv send one message each way: a request and its answer.
func (c *conn) cli(p []byte) { c.send(true, p) }
func (c *conn) srv(p []byte) { c.send(false, p) }

func (c *conn) segment(fromClient bool, payload []byte, bulk int, flags uint8) {
	if fromClient {
		c.w.emit(c.t, c.c, c.s, 6, c.cseq, c.sseq, flags, payload, bulk)
		c.cseq += uint32(len(payload) + bulk)
	} else {
		c.w.emit(c.t, c.s, c.c, 6, c.sseq, c.cseq, flags, payload, bulk)
		c.sseq += uint32(len(payload) + bulk)
	}
}

// bulk sends n bytes of opaque data (captured headers only) from one side
// spread over d, then the other side's acknowledgment. Every keepAlive
// of a long transfer carries at least one segment, so that the flow never
// looks idle.
func (c *conn) bulk(fromClient bool, n int, d time.Duration) {
	segs := max(1, (n+bulkSegment-1)/bulkSegment, int(d/keepAlive)+1)
	step := d / time.Duration(segs)
	for i := range segs {
		k := n / segs
		if i == segs-1 {
			k = n - (segs-1)*(n/segs)
		}
		if k <= 0 {
			c.segment(!fromClient, nil, 0, ack) // keep-alive-like ack
		} else {
			c.segment(fromClient, nil, k, ack)
		}
		c.t = c.t.Add(step)
	}
	c.segment(!fromClient, nil, 0, ack)
	c.t = c.t.Add(c.rtt)
}

// keepAlive is the longest a rendered connection stays silent: less
// than the flow table's idle timeout (5 minutes by default).
const keepAlive = 4 * time.Minute

// idle lets d pass with a bare acknowledgment every keepAlive.
func (c *conn) idle(d time.Duration) {
	for d > keepAlive {
		c.t = c.t.Add(keepAlive)
		d -= keepAlive
		c.segment(true, nil, 0, ack)
	}
	c.t = c.t.Add(d)
}

// close ends the connection with FINs from both sides (Zeek SF).
func (c *conn) close() {
	c.segment(true, nil, 0, fin|ack)
	c.cseq++
	c.t = c.t.Add(c.rtt / 2)
	c.segment(false, nil, 0, fin|ack)
	c.sseq++
	c.t = c.t.Add(c.rtt / 2)
	c.segment(true, nil, 0, ack)
}

// reset ends the connection with a reset from the server.
func (c *conn) reset() {
	c.segment(false, nil, 0, rst|ack)
}
