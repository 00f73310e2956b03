package rules

import (
	"net/netip"
	"strconv"
	"strings"

	"mamori/pipeline/event"
)

// FlowTag is what protocol records said about a flow before its flow
// record arrived: the application protocol and one detail (an RDP cookie,
// a server name).
type FlowTag struct {
	Protocol string
	Detail   string
}

// FlowTags remembers protocol facts by flow id until the flow's record
// comes, bounded: past Max the oldest tag is forgotten (counted in
// Evicted).
type FlowTags struct {
	m       map[event.FlowID]FlowTag
	ring    []event.FlowID // insertion order; grows to max, then wraps
	max     int
	next    int
	Evicted uint64
	// held counts the tagged flows by bucket of their id: a flow whose
	// bucket holds none is not looked up in m. Most flows have no tag
	// (only those a protocol named), and this is one small array read
	// instead of a map lookup.
	held *[tagBuckets]uint32
}

// tagBuckets is the size of FlowTags.held (flow ids are keyed hashes:
// their first bytes spread evenly).
const tagBuckets = 4096

func tagBucket(id *event.FlowID) int { return (int(id[0]) | int(id[1])<<8) % tagBuckets }

// NewFlowTags returns a tag table for at most max flows.
func NewFlowTags(max int) *FlowTags {
	return &FlowTags{m: map[event.FlowID]FlowTag{}, max: max, held: new([tagBuckets]uint32)}
}

// has reports whether flow id may be tagged (false: it surely is not).
func (t *FlowTags) has(id *event.FlowID) bool { return t.held[tagBucket(id)] > 0 }

func (t *FlowTags) add(id event.FlowID, tag FlowTag) {
	t.m[id] = tag
	t.held[tagBucket(&id)]++
}

func (t *FlowTags) remove(id event.FlowID) {
	delete(t.m, id)
	t.held[tagBucket(&id)]--
}

// Put tags flow id (a later tag for the same flow replaces its detail only
// when the new one has one).
func (t *FlowTags) Put(id event.FlowID, tag FlowTag) {
	if t.has(&id) {
		if old, ok := t.m[id]; ok {
			if tag.Detail == "" {
				tag.Detail = old.Detail
			}
			t.m[id] = tag
			return
		}
	}
	if t.max <= 0 {
		return
	}
	if len(t.ring) < t.max {
		t.ring = append(t.ring, id)
		t.add(id, tag)
		return
	}
	// Full ring: the oldest entry makes room (if its flow is still tagged,
	// the tag is forgotten), so the map never holds more than max.
	victim := t.ring[t.next]
	if _, ok := t.m[victim]; ok {
		t.remove(victim)
		t.Evicted++
	}
	t.ring[t.next] = id
	t.next = (t.next + 1) % t.max
	t.add(id, tag)
}

// Get returns the tag of flow id.
func (t *FlowTags) Get(id event.FlowID) (FlowTag, bool) {
	if len(t.m) == 0 || !t.has(&id) {
		return FlowTag{}, false
	}
	tag, ok := t.m[id]
	return tag, ok
}

// Take returns the tag of flow id and, when final (the flow's last
// record), forgets it: Get and Drop in one lookup.
func (t *FlowTags) Take(id event.FlowID, final bool) (FlowTag, bool) {
	if len(t.m) == 0 || !t.has(&id) {
		return FlowTag{}, false
	}
	tag, ok := t.m[id]
	if ok && final {
		t.remove(id)
	}
	return tag, ok
}

// Drop forgets flow id (after its final record).
func (t *FlowTags) Drop(id event.FlowID) {
	if len(t.m) == 0 || !t.has(&id) {
		return
	}
	if _, ok := t.m[id]; ok {
		t.remove(id)
	}
}

// Len is the number of flows tagged.
func (t *FlowTags) Len() int { return len(t.m) }

// AddrList formats up to max addresses, with "(+N more)" for the rest of
// total.
func AddrList(as []netip.Addr, total, max int) string {
	var b strings.Builder
	for i, a := range as {
		if i == max {
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	if more := total - min(len(as), max); more > 0 {
		b.WriteString(" (+" + strconv.Itoa(more) + " more)")
	}
	return b.String()
}

// AddrListJA is AddrList for Japanese messages: "（他N台）".
func AddrListJA(as []netip.Addr, total, max int) string {
	en := AddrList(as, total, max)
	if i := strings.Index(en, " (+"); i >= 0 {
		return en[:i] + "（他" + strings.TrimSuffix(en[i+3:], " more)") + "台）"
	}
	return en
}

// PortFilter is a BPF fragment for a port list: "tcp port 3389" or
// "(tcp port 3389 or tcp port 33890)".
func PortFilter(transport string, ports []uint16) string {
	if len(ports) == 0 {
		return transport
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = transport + " port " + strconv.Itoa(int(p))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " or ") + ")"
}
