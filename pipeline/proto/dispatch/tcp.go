package dispatch

import (
	"bytes"

	"mamori/pipeline/decode"
	"mamori/pipeline/flow"
)

// tcp handles one TCP segment: sequence tracking, parser choice on the
// first payload, in-order delivery and out-of-order buffering.
func (d *Dispatcher) tcp(slot int, dir flow.Dir, p *decode.Packet, ts int64) {
	a := d.get(slot)
	if a == nil {
		if len(p.Payload) == 0 && p.TCPFlags&decode.FlagSYN == 0 {
			return // nothing to learn yet: pure ACKs of a flow picked up midstream
		}
		a = d.alloc()
		d.put(slot, a)
	}
	if a.phase == phaseDone {
		return
	}
	s := &a.dir[dir]
	seq := p.Seq
	if p.TCPFlags&decode.FlagSYN != 0 {
		seq++ // the SYN takes one sequence number
		if !s.init || s.delivered == 0 {
			s.init, s.next = true, seq
		}
	}
	if p.TCPFlags&decode.FlagACK != 0 {
		peer := &a.dir[1-dir]
		if !peer.ackedSet || int32(p.Ack-peer.acked) > 0 {
			peer.acked, peer.ackedSet = p.Ack, true
		}
	}
	data := p.Payload
	if len(data) > 0 {
		if !s.init {
			s.init, s.next = true, seq
		}
		d.segment(slot, a, dir, seq, ts, data)
		if a.phase == phaseActive && len(data) < p.PayloadLen {
			// The snap length cut the segment: the rest is a gap.
			missing := p.PayloadLen - len(data)
			if int32(seq+uint32(len(data))-s.next) == 0 && len(s.segs) == 0 {
				d.gap(slot, a, dir, missing)
				s.next += uint32(missing)
			}
		}
	}
	if p.TCPFlags&(decode.FlagFIN|decode.FlagRST) != 0 {
		s.fin = true
	}
	// A peer's ACK past a hole means the receiver got bytes the capture
	// missed: they will never come, so the hole is a gap now.
	if a.phase == phaseActive {
		for i := range a.dir {
			o := &a.dir[i]
			if len(o.segs) > 0 && o.ackedSet && int32(o.acked-o.segs[0].seq) >= 0 {
				d.skipTo(slot, a, flow.Dir(i), o.segs[0].seq)
			}
		}
	}
}

// segment places one segment's payload.
func (d *Dispatcher) segment(slot int, a *app, dir flow.Dir, seq uint32, ts int64, data []byte) {
	s := &a.dir[dir]
	if a.limit > 0 && s.delivered >= a.limit {
		s.full = true
		return
	}
	off := int32(seq - s.next)
	if off <= 0 {
		// Old or overlapping bytes: trim what was already delivered.
		old := int(-off)
		if old >= len(data) {
			d.c.Overlap += uint64(len(data))
			return
		}
		if old > 0 {
			d.c.Overlap += uint64(old)
			data = data[old:]
		}
		if a.phase == phaseMatch {
			if !d.start(slot, a, dir, data) {
				d.dropAll(a)
				return
			}
		}
		s.next += uint32(len(data))
		d.deliver(slot, a, dir, ts, data)
		d.drain(slot, a, dir)
		return
	}
	// Ahead of the next expected byte: hold a copy.
	if off > 1<<30 {
		return // not plausibly this stream's data
	}
	d.hold(s, seq, ts, data)
	if s.held > d.cfg.MaxBufferedPerFlow || d.buffered > d.cfg.MaxBuffered {
		d.c.Overflows++
		d.skipTo(slot, a, dir, s.segs[0].seq)
	}
}

// hold inserts a copy of data into the direction's sorted segment list.
func (d *Dispatcher) hold(s *stream, seq uint32, ts int64, data []byte) {
	i := len(s.segs)
	for i > 0 && int32(s.segs[i-1].seq-seq) > 0 {
		i--
	}
	if i > 0 && s.segs[i-1].seq == seq && len(s.segs[i-1].data) >= len(data) {
		d.c.Overlap += uint64(len(data))
		return // a retransmission of a held segment
	}
	s.segs = append(s.segs, segment{})
	copy(s.segs[i+1:], s.segs[i:])
	s.segs[i] = segment{seq: seq, ts: ts, data: bytes.Clone(data)}
	s.held += len(data)
	d.buffered += len(data)
	d.c.Buffered += uint64(len(data))
	if uint64(d.buffered) > d.c.BufferedHi {
		d.c.BufferedHi = uint64(d.buffered)
	}
}

// skipTo declares the bytes before seq missing and delivers what follows.
func (d *Dispatcher) skipTo(slot int, a *app, dir flow.Dir, seq uint32) {
	s := &a.dir[dir]
	if n := int(int32(seq - s.next)); n > 0 {
		if a.phase == phaseActive {
			d.gap(slot, a, dir, n)
			s.delivered += n // a gap uses up the stream's share too
		}
		s.next = seq
	}
	d.drain(slot, a, dir)
}

// drain delivers held segments that have become contiguous.
func (d *Dispatcher) drain(slot int, a *app, dir flow.Dir) {
	s := &a.dir[dir]
	for len(s.segs) > 0 {
		g := s.segs[0]
		off := int32(g.seq - s.next)
		if off > 0 {
			return
		}
		s.segs = s.segs[1:]
		s.held -= len(g.data)
		d.buffered -= len(g.data)
		data := g.data
		if old := int(-off); old >= len(data) {
			d.c.Overlap += uint64(len(data))
			continue
		} else if old > 0 {
			d.c.Overlap += uint64(old)
			data = data[old:]
		}
		if a.phase == phaseMatch {
			if !d.start(slot, a, dir, data) {
				d.dropAll(a)
				return
			}
		}
		if a.phase != phaseActive {
			return
		}
		s.next += uint32(len(data))
		d.deliver(slot, a, dir, g.ts, data)
	}
	if len(s.segs) == 0 && cap(s.segs) > 64 {
		s.segs = nil // do not keep a burst's worth of capacity per flow
	}
}

func (d *Dispatcher) dropAll(a *app) {
	for i := range a.dir {
		d.dropSegments(&a.dir[i])
	}
}
