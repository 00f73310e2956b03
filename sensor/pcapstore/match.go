package pcapstore

import "time"

// outcome is the set of results an evaluation may have: for one packet it
// is exactly one of oF, oT, oA; for an index entry (both directions, time
// unknown) it may hold several.
type outcome uint8

const (
	oF outcome = 1 << iota // no match
	oT                     // match
	oA                     // the filter read past the captured bytes: tcpdump rejects the packet
)

// evalCtx is what evaluation needs besides the packet's tuple.
type evalCtx struct {
	seed    uint16
	hasTime bool  // false when evaluating an index entry: alert windows are "maybe"
	ts      int64 // packet time, Unix ns
}

// evalRoot evaluates an expression tree; nil (the empty expression)
// matches every packet.
func evalRoot(n *node, t *tuple, c *evalCtx) outcome {
	if n == nil {
		return oT
	}
	return n.eval(t, c)
}

// eval evaluates n with short-circuit, left to right, as a compiled BPF
// filter does: a read past the captured bytes rejects the packet at once.
func (n *node) eval(t *tuple, c *evalCtx) outcome {
	switch n.op {
	case opAnd:
		a := n.l.eval(t, c)
		out := a &^ oT
		if a&oT != 0 {
			out |= n.r.eval(t, c)
		}
		return out
	case opOr:
		a := n.l.eval(t, c)
		out := a &^ oF
		if a&oF != 0 {
			out |= n.r.eval(t, c)
		}
		return out
	case opNot:
		a := n.l.eval(t, c)
		out := a & oA
		if a&oT != 0 {
			out |= oF
		}
		if a&oF != 0 {
			out |= oT
		}
		return out
	}
	return n.p.eval(t, c)
}

func boolOutcome(b bool) outcome {
	if b {
		return oT
	}
	return oF
}

func (p *prim) eval(t *tuple, c *evalCtx) outcome {
	switch p.kind {
	case pHost:
		if p.prefix.Addr().Is4() {
			switch {
			case t.kind == kindIPv4 && (p.q == qNone || p.q == qIP):
			case t.kind == kindARP && (p.q == qNone || p.q == qARP):
			case t.kind == kindRARP && (p.q == qNone || p.q == qRARP):
			default:
				return oF
			}
		} else if t.kind != kindIPv6 {
			return oF
		}
		if t.flags&fCutAddr != 0 {
			return oA
		}
		s, d := p.prefix.Contains(t.src), p.prefix.Contains(t.dst)
		switch p.dir {
		case dirSrc:
			return boolOutcome(s)
		case dirDst:
			return boolOutcome(d)
		case dirBoth:
			return boolOutcome(s && d)
		}
		return boolOutcome(s || d)
	case pPort:
		if t.kind != kindIPv4 && t.kind != kindIPv6 {
			return oF
		}
		if t.flags&fCutProto != 0 {
			return oA
		}
		switch p.q {
		case qNone:
			if !hasPorts(t.proto) {
				return oF
			}
		case qTCP:
			if t.proto != protoTCP {
				return oF
			}
		case qUDP:
			if t.proto != protoUDP {
				return oF
			}
		case qSCTP:
			if t.proto != protoSCTP {
				return oF
			}
		}
		if t.flags&fFrag != 0 && t.kind == kindIPv4 {
			return oF
		}
		if t.flags&fCutPorts != 0 {
			return oA
		}
		if t.flags&fPorts == 0 {
			return oF
		}
		s := t.sport >= p.lo && t.sport <= p.hi
		d := t.dport >= p.lo && t.dport <= p.hi
		switch p.dir {
		case dirSrc:
			return boolOutcome(s)
		case dirDst:
			return boolOutcome(d)
		case dirBoth:
			return boolOutcome(s && d)
		}
		return boolOutcome(s || d)
	case pProto:
		var want uint8
		switch p.q {
		case qIP, qIP6:
			if p.q == qIP && t.kind != kindIPv4 || p.q == qIP6 && t.kind != kindIPv6 {
				return oF
			}
			if !p.hasNum {
				return oT
			}
			want = p.num
		case qARP:
			return boolOutcome(t.kind == kindARP)
		case qRARP:
			return boolOutcome(t.kind == kindRARP)
		case qICMP:
			if t.kind != kindIPv4 {
				return oF
			}
			want = protoICMP
		case qICMP6:
			if t.kind != kindIPv6 {
				return oF
			}
			want = protoICMPv6
		case qTCP, qUDP, qSCTP, qProto:
			if t.kind != kindIPv4 && t.kind != kindIPv6 {
				return oF
			}
			switch p.q {
			case qTCP:
				want = protoTCP
			case qUDP:
				want = protoUDP
			case qSCTP:
				want = protoSCTP
			default:
				want = p.num
			}
		default:
			return oF
		}
		if t.flags&fCutProto != 0 {
			return oA
		}
		return boolOutcome(t.flags&fProto != 0 && t.proto == want)
	case pCID:
		id, ok := communityID(c.seed, t)
		return boolOutcome(ok && id == p.cid)
	case pAlert:
		if p.pin == nil {
			return oF // unresolved: resolve refuses this
		}
		inTime := oT | oF
		if c.hasTime {
			inTime = boolOutcome(c.ts >= p.pin.From.UnixNano() && c.ts <= p.pin.To.UnixNano())
		}
		out := inTime &^ oT
		if inTime&oT != 0 {
			out |= evalRoot(p.sub, t, c)
		}
		return out
	}
	return oF
}

// window returns the widest time range a packet matching n can have:
// alert primitives bound it, "or" widens it, "not" removes the bound.
func (n *node) window() (from, to time.Time) {
	if n == nil {
		return time.Time{}, time.Time{}
	}
	switch n.op {
	case opAnd:
		f1, t1 := n.l.window()
		f2, t2 := n.r.window()
		return later(f1, f2), earlier(t1, t2)
	case opOr:
		f1, t1 := n.l.window()
		f2, t2 := n.r.window()
		if f1.IsZero() || f2.IsZero() {
			from = time.Time{}
		} else {
			from = earlier(f1, f2)
		}
		if t1.IsZero() || t2.IsZero() {
			to = time.Time{}
		} else {
			to = later(t1, t2)
		}
		return from, to
	case opNot:
		return time.Time{}, time.Time{}
	}
	if n.p.kind == pAlert && n.p.pin != nil {
		return n.p.pin.From, n.p.pin.To
	}
	return time.Time{}, time.Time{}
}

// later and earlier treat the zero time as "unbounded".
func later(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
