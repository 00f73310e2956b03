package rules

import (
	"math/rand/v2"
	"testing"

	"mamori/pipeline/event"
)

// plainTags is FlowTags without the bucket counts: a map and a ring.
type plainTags struct {
	m       map[event.FlowID]FlowTag
	ring    []event.FlowID
	max     int
	next    int
	evicted uint64
}

func (t *plainTags) put(id event.FlowID, tag FlowTag) {
	if old, ok := t.m[id]; ok {
		if tag.Detail == "" {
			tag.Detail = old.Detail
		}
		t.m[id] = tag
		return
	}
	if len(t.ring) < t.max {
		t.ring = append(t.ring, id)
		t.m[id] = tag
		return
	}
	if _, ok := t.m[t.ring[t.next]]; ok {
		delete(t.m, t.ring[t.next])
		t.evicted++
	}
	t.ring[t.next] = id
	t.next = (t.next + 1) % t.max
	t.m[id] = tag
}

// TestFlowTags: FlowTags answers as a plain map and ring do, through puts,
// gets, takes, drops and evictions, with ids that share buckets.
func TestFlowTags(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const max = 64
	tags := NewFlowTags(max)
	ref := &plainTags{m: map[event.FlowID]FlowTag{}, max: max}
	id := func() event.FlowID {
		var id event.FlowID
		id[0], id[1], id[5] = byte(r.IntN(3)), byte(r.IntN(2)), byte(r.IntN(40)) // few buckets, many ids
		return id
	}
	for i := range 100_000 {
		x := id()
		switch r.IntN(4) {
		case 0:
			tag := FlowTag{Protocol: "http", Detail: []string{"", "a.example", "b.example"}[r.IntN(3)]}
			tags.Put(x, tag)
			ref.put(x, tag)
		case 1:
			got, ok := tags.Get(x)
			want, wok := ref.m[x]
			if got != want || ok != wok {
				t.Fatalf("op %d: Get = %v %v, want %v %v", i, got, ok, want, wok)
			}
		case 2:
			final := r.IntN(2) == 0
			got, ok := tags.Take(x, final)
			want, wok := ref.m[x]
			if final {
				delete(ref.m, x)
			}
			if got != want || ok != wok {
				t.Fatalf("op %d: Take = %v %v, want %v %v", i, got, ok, want, wok)
			}
		case 3:
			tags.Drop(x)
			delete(ref.m, x)
		}
		if tags.Len() != len(ref.m) || tags.Evicted != ref.evicted {
			t.Fatalf("op %d: %d tags, %d evicted; want %d, %d", i, tags.Len(), tags.Evicted, len(ref.m), ref.evicted)
		}
	}
	var held uint32
	for _, n := range tags.held {
		held += n
	}
	if int(held) != tags.Len() || tags.Evicted == 0 {
		t.Errorf("bucket counts sum to %d for %d tags (%d evicted)", held, tags.Len(), tags.Evicted)
	}
}
