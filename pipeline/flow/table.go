package flow

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
)

// Emit receives a flow record. The record and everything it points to are
// valid only during the call; a receiver that keeps it copies it. ifIndex
// is the capture interface of the flow's first packet.
type Emit func(f *event.Flow, ifIndex int)

// Timeout classes: each has its own idle timeout and its own queue.
const (
	classTCPAttempt = iota
	classTCP
	classTCPClosed
	classUDP
	classICMP
	classOther
	numClasses
)

// state is one tracked flow. It holds no pointers.
type state struct {
	key     Key
	origIsB bool // the originator is Key endpoint B
	class   uint8
	macSet  [2]bool // mac[d] came from d's own packets (not a guess from the peer's)
	encap   decode.Encap
	ifIndex uint16

	reports uint16 // interim records written; the next is due at first+(reports+1)*active
	queued  uint32 // seconds since the table's epoch when it was (re)queued

	first, last int64  // packet times, Unix ns
	prev, next  uint32 // queue links: slot+1, 0 for none

	bytes [2]uint64 // by Dir
	pkts  [2]uint64
	mac   [2][6]byte

	tcp  tcpConn
	hist history
}

type queue struct{ head, tail uint32 }

// Stats counts what a Table did.
type Stats struct {
	Packets        uint64 // IP packets accounted to flows
	Created        uint64 // flows created
	Active         uint64 // flows tracked now
	Records        uint64 // final records written
	Interim        uint64 // interim records written (active timeout)
	Evicted        uint64 // flows evicted because the table was full
	FragAttributed uint64 // non-first fragments counted to their flow
	FragOrphans    uint64 // non-first fragments whose first fragment was not seen
}

// Table tracks bidirectional flows and writes a record for each when it ends.
//
// A Table belongs to one worker goroutine and is not safe for concurrent use.
// Its only clock is the packet time passed to Packet and Advance: timeouts
// never depend on the wall clock, so a replay produces what live capture did.
type Table struct {
	cfg      Config
	timeouts [numClasses]int64 // ns
	timeoutS [numClasses]uint32
	active   int64

	slab   slab
	free   []uint32
	ix     index
	queues [numClasses]queue

	epoch     int64 // first packet time, Unix ns (queue times count from here)
	nextSweep int64
	now       int64

	frags  fragTable
	emit   Emit
	pk     Key // the key of the packet being accounted
	rec    event.Flow
	stats  Stats
	idKey  [2]uint64
	hook   Hook
	kernel Kernel
}

// New builds a Table. emit receives every record. It returns an error when
// cfg is invalid.
func New(cfg Config, emit Emit) (*Table, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var seed [24]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand panics instead)
	t := &Table{cfg: cfg, emit: emit}
	t.timeouts = [numClasses]int64{
		classTCPAttempt: int64(cfg.TCPAttemptTimeout),
		classTCP:        int64(cfg.TCPTimeout),
		classTCPClosed:  int64(cfg.TCPClosedTimeout),
		classUDP:        int64(cfg.UDPTimeout),
		classICMP:       int64(cfg.ICMPTimeout),
		classOther:      int64(cfg.OtherTimeout),
	}
	for i, d := range t.timeouts {
		t.timeoutS[i] = uint32((d + int64(time.Second) - 1) / int64(time.Second))
	}
	t.active = int64(cfg.ActiveTimeout)
	// The index starts small and doubles with the flows tracked: every
	// packet probes it at a random place, so it must not be larger than
	// the flows need. Sized for 64K flows up front (1 MiB of entries), it
	// cost a replay with 3,400 flows at its peak a tenth of its CPU time
	// in cache misses.
	t.ix = newIndex(min(cfg.MaxFlows, 1<<10), binary.LittleEndian.Uint64(seed[:8]))
	// Flow IDs are keyed hashes so that they are unique per sensor run and
	// not guessable; they need not be stable across runs.
	t.idKey = [2]uint64{binary.LittleEndian.Uint64(seed[8:16]), binary.LittleEndian.Uint64(seed[16:24])}
	t.frags = newFragTable(cfg.MaxFragments)
	return t, nil
}

// SetDeterministicIDs makes flow IDs depend only on the flow (key, start time
// and orientation), not on a per-run random key: two runs over the same
// packets then give the same flow.id. Used by replays and golden tests.
func (t *Table) SetDeterministicIDs() { t.idKey = [2]uint64{0x6d616d6f7269, 0x666c6f77} }

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	s := t.stats
	s.Active = uint64(t.Len())
	return s
}

// Len is the number of flows tracked now.
func (t *Table) Len() int { return t.slab.n - len(t.free) }

// Packet accounts one decoded packet: ts is its time (Unix ns), wireLen its
// length on the wire, ifIndex its capture interface. Packets that are not
// IPv4 or IPv6 are ignored. Packet never allocates once the table has grown
// to its working size.
func (t *Table) Packet(p *decode.Packet, ts int64, wireLen int, ifIndex int) {
	t.Advance(ts)
	if p.Net != decode.NetIPv4 && p.Net != decode.NetIPv6 {
		return
	}
	if p.Fragment && p.FragOffset > 0 {
		t.fragment(p, ts, wireLen)
		return
	}
	k := &t.pk
	fromB, _ := packetKeyTo(p, k)
	slot, h := t.ix.find(k, &t.slab)
	if slot < 0 {
		slot = t.create(k, h, fromB, p, ts, ifIndex)
	}
	s := t.slab.at(slot)
	d := FromClient
	if fromB != s.origIsB {
		d = FromServer
	}
	if t.active > 0 && ts >= s.first+int64(s.reports+1)*t.active && s.reports < math.MaxUint16 {
		t.write(slot, false, event.EndActive)
		for s.reports < math.MaxUint16 && s.first+int64(s.reports+1)*t.active <= ts {
			s.reports++
		}
	}
	if ts > s.last {
		s.last = ts
	}
	s.pkts[d]++
	s.bytes[d] += uint64(wireLen)
	t.stats.Packets++
	if p.HasMAC && !s.macSet[d] {
		s.mac[d], s.macSet[d] = p.SrcMAC, true
	}
	switch k.Proto {
	case protoTCP:
		s.tcp.update(&s.hist, d, p)
	case protoUDP:
		s.hist.once(d, hData)
	}
	if p.Fragment {
		t.frags.add(fragKeyOf(p), *k, ts)
	}
	if c := classify(s); c != s.class {
		t.unlink(slot)
		s.class = c
		t.link(slot, ts)
	}
	if t.hook != nil {
		t.hook.Packet(slot, d, p, ts)
	}
}

// create starts a flow for the packet's key and returns its slot.
func (t *Table) create(k *Key, h uint64, fromB bool, p *decode.Packet, ts int64, ifIndex int) int {
	if t.epoch == 0 {
		t.epoch = ts
	}
	if t.Len() >= t.cfg.MaxFlows {
		t.evictOldest()
	}
	var slot int
	if n := len(t.free); n > 0 {
		slot = int(t.free[n-1])
		t.free = t.free[:n-1]
	} else {
		slot = t.slab.grow()
	}
	s := t.slab.at(slot)
	// Cleared, then set field by field: a composite literal would be
	// built on the stack and copied (see write).
	*s = state{}
	s.key = *k
	s.first, s.last = ts, ts
	s.encap = p.Encap
	s.ifIndex = uint16(min(ifIndex, math.MaxUint16))
	// The originator is the sender of the first packet, except that a
	// SYN-ACK seen first was sent by the responder (Zeek's '^' flip).
	s.origIsB = fromB
	if k.Proto == protoTCP && p.TCPFlags&(decode.FlagSYN|decode.FlagACK) == decode.FlagSYN|decode.FlagACK {
		s.origIsB = !fromB
		s.hist.add(FromClient, hFlip)
	}
	if p.HasMAC {
		// Until the responder speaks, its MAC is the one the originator sent to.
		if s.origIsB == fromB {
			s.mac[FromServer] = p.DstMAC
		} else {
			s.mac[FromClient] = p.DstMAC
		}
	}
	s.class = classify(s)
	t.ix.insert(h, slot, &t.slab)
	t.link(slot, ts)
	t.stats.Created++
	return slot
}

// classify picks the flow's timeout class from its protocol and state.
func classify(s *state) uint8 {
	switch s.key.Proto {
	case protoTCP:
		switch {
		case s.tcp.closed():
			return classTCPClosed
		case s.tcp.attempt():
			return classTCPAttempt
		}
		return classTCP
	case protoUDP:
		return classUDP
	case protoICMP, protoICMPv6:
		return classICMP
	}
	return classOther
}

// link appends slot to its class queue, queued at packet time ts.
func (t *Table) link(slot int, ts int64) {
	t.linkAt(slot, uint32((ts-t.epoch)/int64(time.Second)))
}

func (t *Table) linkAt(slot int, queued uint32) {
	s := t.slab.at(slot)
	q := &t.queues[s.class]
	s.queued = queued
	s.prev, s.next = q.tail, 0
	if q.tail != 0 {
		t.slab.at(int(q.tail - 1)).next = uint32(slot + 1)
	} else {
		q.head = uint32(slot + 1)
	}
	q.tail = uint32(slot + 1)
}

func (t *Table) unlink(slot int) {
	s := t.slab.at(slot)
	q := &t.queues[s.class]
	if s.prev != 0 {
		t.slab.at(int(s.prev - 1)).next = s.next
	} else {
		q.head = s.next
	}
	if s.next != 0 {
		t.slab.at(int(s.next - 1)).prev = s.prev
	} else {
		q.tail = s.prev
	}
	s.prev, s.next = 0, 0
}

// Advance moves packet time to now and writes the records of flows whose
// idle timeout has passed. A live source calls it on idle ticks; Packet
// calls it for every packet. Queues are swept once per second of packet time.
func (t *Table) Advance(now int64) {
	if now > t.now {
		t.now = now
	}
	if now < t.nextSweep || t.epoch == 0 {
		return
	}
	t.nextSweep = now + int64(time.Second)
	nowS := uint32((now - t.epoch) / int64(time.Second))
	for c := range t.queues {
		q := &t.queues[c]
		for q.head != 0 {
			slot := int(q.head - 1)
			s := t.slab.at(slot)
			if s.queued+t.timeoutS[c] > nowS {
				break // the queue is ordered by queued time: the rest are younger
			}
			t.unlink(slot)
			if s.last+t.timeouts[c] <= now {
				reason := event.EndIdle
				if c == classTCPClosed {
					reason = event.EndTCPClose
				}
				t.finish(slot, reason)
			} else {
				// Seen since it was queued: requeue at its last packet,
				// rounded up so that this sweep cannot meet it again
				// (ceil(last)+timeout > now follows from last+timeout > now).
				sec := int64(time.Second)
				t.linkAt(slot, uint32((s.last-t.epoch+sec-1)/sec))
			}
		}
	}
}

// evictOldest ends the flow that has waited longest in any queue.
func (t *Table) evictOldest() {
	best, bestQ := -1, uint32(math.MaxUint32)
	for c := range t.queues {
		if h := t.queues[c].head; h != 0 && t.slab.at(int(h-1)).queued <= bestQ {
			best, bestQ = int(h-1), t.slab.at(int(h-1)).queued
		}
	}
	if best < 0 {
		return
	}
	t.unlink(best)
	t.stats.Evicted++
	t.finish(best, event.EndEvicted)
}

// finish writes a flow's final record and frees its slot. The slot must
// already be unlinked from its queue.
func (t *Table) finish(slot int, reason event.EndReason) {
	if t.hook != nil {
		t.hook.End(slot, t.slab.at(slot).last, reason)
	}
	t.write(slot, true, reason)
	s := t.slab.at(slot)
	t.ix.remove(&s.key, slot)
	*s = state{}
	t.free = append(t.free, uint32(slot))
}

// Flush writes a final record for every flow still tracked, oldest first,
// and empties the table: at the end of a capture or on shutdown.
func (t *Table) Flush(reason event.EndReason) {
	slots := make([]int, 0, t.Len())
	for c := range t.queues {
		for i := t.queues[c].head; i != 0; i = t.slab.at(int(i - 1)).next {
			slots = append(slots, int(i-1))
		}
	}
	slices.SortFunc(slots, func(a, b int) int {
		sa, sb := t.slab.at(a), t.slab.at(b)
		if sa.first != sb.first {
			if sa.first < sb.first {
				return -1
			}
			return 1
		}
		return a - b
	})
	for _, slot := range slots {
		t.unlink(slot)
		t.finish(slot, reason)
	}
}

// write fills the reusable record from a flow's state and hands it to emit.
func (t *Table) write(slot int, final bool, reason event.EndReason) {
	s := t.slab.at(slot)
	r := &t.rec
	o, rsp := FromClient, FromServer
	oB := s.origIsB
	// Every field is set one by one: a composite literal is built on the
	// stack and copied, and copying the record's 300 bytes right after
	// writing them stalls the CPU (store forwarding) on every record.
	r.Start = time.Unix(0, s.first).UTC()
	r.End = time.Unix(0, s.last).UTC()
	r.Final = final
	r.Reason = reason
	r.IPv6 = s.key.IPv6
	r.Transport = s.key.Proto
	r.VLAN = s.key.VLAN
	r.InnerVLAN = s.key.InnerVLAN
	r.Direction = ""
	r.Interface = ""
	r.Tunnel = tunnelName(s.encap)
	r.CutOff = false
	r.History = event.History{}
	communityID(&r.CommunityID, t.cfg.CommunityIDSeed, &s.key, oB)
	t.flowID(&r.ID, s)
	ports := hasPorts(s.key.Proto)
	fill := func(e *event.Endpoint, d Dir, isB bool) {
		e.IP = s.key.Addr(isB)
		if isB {
			e.Port = s.key.PortB
		} else {
			e.Port = s.key.PortA
		}
		e.HasPort = ports
		e.MAC = s.mac[d]
		e.HasMAC = s.macSet[d] || s.mac[d] != [6]byte{}
		e.Bytes, e.Packets = s.bytes[d], s.pkts[d]
	}
	fill(&r.Source, o, oB)
	fill(&r.Destination, rsp, !oB)
	if t.kernel != nil && (s.key.Proto == protoTCP || s.key.Proto == protoUDP) {
		// Counts the kernel cut off are added to the record only: the
		// state keeps what user space saw, and the kernel's counts are
		// cumulative like the record's.
		if c, ok := t.kernel.Cut(&s.key, final); ok && c.Packets[0]+c.Packets[1] > 0 {
			src, dst := 0, 1
			if oB {
				src, dst = 1, 0
			}
			r.Source.Bytes += c.Bytes[src]
			r.Source.Packets += c.Packets[src]
			r.Destination.Bytes += c.Bytes[dst]
			r.Destination.Packets += c.Packets[dst]
			r.CutOff = true
		}
	}
	switch s.key.Proto {
	case protoTCP:
		r.ConnState = s.tcp.connState(&s.hist)
	case protoUDP:
		r.ConnState = "S0"
		if s.pkts[FromServer] > 0 {
			r.ConnState = "SF"
		}
	default:
		r.ConnState = "OTH"
	}
	r.History.Len = uint8(len(s.hist.AppendTo(r.History.Buf[:0])))
	if final {
		t.stats.Records++
	} else {
		t.stats.Interim++
	}
	t.emit(r, int(s.ifIndex))
}

// flowID hashes the flow's identity (canonical key, start time, which side
// originated) under the table's ID key into 96 bits.
func (t *Table) flowID(id *event.FlowID, s *state) {
	h1 := t.ix.hashKeyWith(&s.key, t.idKey[0]^uint64(s.first))
	h2 := t.ix.hashKeyWith(&s.key, t.idKey[1]^uint64(s.first)*0x9e3779b97f4a7c15)
	if s.origIsB {
		h2 = mix(h2)
	}
	binary.BigEndian.PutUint64(id[0:8], h1)
	binary.BigEndian.PutUint32(id[8:12], uint32(h2))
}

func tunnelName(e decode.Encap) string {
	switch {
	case e&decode.EncapERSPAN3 != 0:
		return "erspan3"
	case e&decode.EncapERSPAN2 != 0:
		return "erspan2"
	case e&decode.EncapGRE != 0:
		return "gre"
	}
	return ""
}

// fragment counts a non-first IP fragment to the flow of its first fragment.
func (t *Table) fragment(p *decode.Packet, ts int64, wireLen int) {
	k, ok := t.frags.lookup(fragKeyOf(p), ts)
	if !ok {
		t.stats.FragOrphans++
		return
	}
	slot, _ := t.ix.find(&k, &t.slab)
	if slot < 0 {
		t.stats.FragOrphans++
		return
	}
	s := t.slab.at(slot)
	src := p.Src.As16()
	fromB := src == k.B && src != k.A
	d := FromClient
	if fromB != s.origIsB {
		d = FromServer
	}
	if ts > s.last {
		s.last = ts
	}
	s.pkts[d]++
	s.bytes[d] += uint64(wireLen)
	t.stats.Packets++
	t.stats.FragAttributed++
}

// slab stores flow states in fixed-size chunks, so that growing never copies
// the states nor leaves append's spare capacity unused.
type slab struct {
	chunks []*[chunkSize]state
	n      int // slots handed out
}

const chunkShift = 12
const chunkSize = 1 << chunkShift

func (s *slab) at(slot int) *state { return &s.chunks[slot>>chunkShift][slot&(chunkSize-1)] }

// grow hands out a new slot.
func (s *slab) grow() int {
	if s.n == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, new([chunkSize]state))
	}
	s.n++
	return s.n - 1
}
