package flow

import "mamori/pipeline/decode"

// fragKey identifies the fragments of one IP datagram.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	ipv6     bool
}

func fragKeyOf(p *decode.Packet) fragKey {
	return fragKey{src: p.Src.As16(), dst: p.Dst.As16(), id: p.FragID, proto: p.Proto, ipv6: p.Net == decode.NetIPv6}
}

type fragEntry struct {
	flow Key
	ts   int64
}

// fragTable remembers, for datagrams whose first fragment was seen, which
// flow they belong to, so that later fragments (which carry no ports) are
// counted to it. It holds at most max datagrams and forgets the oldest
// first; entries older than fragmentTimeout are ignored.
type fragTable struct {
	m    map[fragKey]fragEntry
	ring []fragKey // insertion order, for forgetting the oldest
	next int
	max  int
}

func newFragTable(max int) fragTable {
	return fragTable{m: make(map[fragKey]fragEntry), ring: make([]fragKey, 0, min(max, 1024)), max: max}
}

func (f *fragTable) add(k fragKey, flow Key, ts int64) {
	if _, ok := f.m[k]; ok {
		f.m[k] = fragEntry{flow, ts}
		return
	}
	if len(f.ring) < f.max {
		f.ring = append(f.ring, k)
	} else {
		delete(f.m, f.ring[f.next])
		f.ring[f.next] = k
		f.next = (f.next + 1) % f.max
	}
	f.m[k] = fragEntry{flow, ts}
}

func (f *fragTable) lookup(k fragKey, ts int64) (Key, bool) {
	e, ok := f.m[k]
	if !ok || ts-e.ts > int64(fragmentTimeout) {
		return Key{}, false
	}
	return e.flow, true
}
