package rules

import (
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
