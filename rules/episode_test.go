package rules

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"mamori/pipeline/event"
)

// TestExpireStates: an episode closed with an update pending gets its
// final call with its state; the state of every closed episode, and state
// that never had an episode, is deleted; open episodes keep theirs.
func TestExpireStates(t *testing.T) {
	t0 := time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)
	eps := NewEpisodes[string](10*time.Minute, 0)
	state := map[string]*int{}
	for i, k := range []string{"pending", "raised", "open"} {
		ep, _ := eps.Open(k, event.Alert{Last: t0})
		ep.Raised, ep.Pending = 1, 1
		v := i
		state[k] = &v
	}
	eps.Get("pending").Pending = 3
	eps.Get("open").Last = t0.Add(15 * time.Minute)
	state["orphan"] = new(int)

	var finals []string
	ExpireStates(eps, t0.Add(20*time.Minute), state, func(k string, s *int) {
		if s != state[k] {
			t.Errorf("final for %s got another state", k)
		}
		finals = append(finals, k)
	})
	if len(finals) != 1 || finals[0] != "pending" {
		t.Errorf("final called for %v, want [pending]", finals)
	}
	if len(state) != 1 || state["open"] == nil || eps.Len() != 1 {
		t.Errorf("left %d states %v and %d episodes; want only the open one", len(state), state, eps.Len())
	}
}

// TestMarks: marked keys share Max with episodes (the oldest of either
// goes first), age like them, are not episodes for Get, and keep their
// latest time.
func TestMarks(t *testing.T) {
	t0 := time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name    string
		steps   func(e *Episodes[string])
		kept    []string // open episodes or marks left
		evicted uint64
	}{
		{"mark is not an episode", func(e *Episodes[string]) { e.Mark("a", at(0)) }, []string{"a"}, 0},
		{"remark only a mark", func(e *Episodes[string]) {
			if e.Remark("a", at(1)) {
				t.Error("Remark of an unmarked key")
			}
			e.Mark("a", at(0))
			if !e.Remark("a", at(1)) {
				t.Error("Remark of a marked key")
			}
		}, []string{"a"}, 0},
		{"oldest mark evicted for an episode", func(e *Episodes[string]) {
			e.Mark("m1", at(1))
			e.Open("e1", event.Alert{Last: at(2)})
			e.Mark("m2", at(3))
			e.Open("e2", event.Alert{Last: at(4)})
		}, []string{"e1", "m2", "e2"}, 1},
		{"oldest episode evicted for a mark", func(e *Episodes[string]) {
			e.Open("e1", event.Alert{Last: at(1)})
			e.Mark("m1", at(2))
			e.Mark("m2", at(3))
			e.Mark("m3", at(4))
		}, []string{"m1", "m2", "m3"}, 1},
		{"a remarked key is younger", func(e *Episodes[string]) {
			e.Mark("m1", at(1))
			e.Mark("m2", at(2))
			e.Mark("m3", at(3))
			e.Remark("m1", at(9))
			e.Mark("m1", at(5)) // an earlier time does not age it
			e.Mark("m4", at(4))
		}, []string{"m1", "m3", "m4"}, 1},
		{"expire", func(e *Episodes[string]) {
			e.Mark("old", at(0))
			e.Open("oldep", event.Alert{Last: at(0)})
			e.Mark("new", at(50))
			e.Expire(at(61), nil)
		}, []string{"new"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEpisodes[string](time.Hour, 3)
			tc.steps(e)
			var kept []string
			for _, k := range []string{"a", "e1", "e2", "m1", "m2", "m3", "m4", "new", "old", "oldep"} {
				if _, ok := e.marks[k]; ok || e.Get(k) != nil {
					kept = append(kept, k)
					if ok && e.Get(k) != nil {
						t.Errorf("%s both marked and open", k)
					}
				}
			}
			if !equalSorted(kept, tc.kept) || e.Len() != len(tc.kept) || e.Evicted != tc.evicted {
				t.Errorf("kept %v (Len %d), evicted %d; want %v, %d", kept, e.Len(), e.Evicted, tc.kept, tc.evicted)
			}
			for _, k := range kept {
				if _, ok := e.marks[k]; ok && e.Get(k) != nil {
					t.Errorf("Get(%s) returns a mark", k)
				}
			}
		})
	}
}

func equalSorted(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestExpireSkips: Expire skipping its walk while nothing can be old
// enough closes the same episodes and marks, with the same final calls, as
// walking every time.
func TestExpireSkips(t *testing.T) {
	t0 := time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(4, 7))
	skip, walk := NewEpisodes[int](time.Hour, 40), NewEpisodes[int](time.Hour, 40)
	walk.walkAll = true
	now := t0
	var finalsSkip, finalsWalk []int
	for step := range 20_000 {
		now = now.Add(time.Duration(rng.IntN(120)) * time.Second)
		k := rng.IntN(60)
		at := now.Add(-time.Duration(rng.IntN(30)) * time.Minute)
		for _, e := range []*Episodes[int]{skip, walk} {
			switch op := step % 5; {
			case op == 0 && e.marks[k] == 0:
				ep, _ := e.Open(k, event.Alert{Last: at})
				ep.Raised, ep.Pending = 1, uint64(1+k%2)
			case op == 1 && e.Get(k) != nil:
				e.Get(k).Touch(at)
			case op == 2 && e.Get(k) == nil:
				e.Mark(k, at)
			case op == 3:
				e.Remark(k, at)
			}
		}
		skip.Expire(now, func(k int, _ *Episode) { finalsSkip = append(finalsSkip, k) })
		walk.Expire(now, func(k int, _ *Episode) { finalsWalk = append(finalsWalk, k) })
		if skip.Len() != walk.Len() || skip.Expired != walk.Expired || skip.Evicted != walk.Evicted {
			t.Fatalf("step %d: skipping holds %d (expired %d, evicted %d), walking %d (%d, %d)",
				step, skip.Len(), skip.Expired, skip.Evicted, walk.Len(), walk.Expired, walk.Evicted)
		}
	}
	if walk.Expired == 0 || len(finalsWalk) == 0 {
		t.Fatal("nothing expired: the test proves nothing")
	}
	if !slices.Equal(finalsSkip, finalsWalk) && !equalSortedInts(finalsSkip, finalsWalk) {
		t.Errorf("final calls differ: %d vs %d", len(finalsSkip), len(finalsWalk))
	}
}

func equalSortedInts(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
