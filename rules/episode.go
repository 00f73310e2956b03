package rules

import (
	"slices"
	"time"

	"mamori/pipeline/event"
)

// Episodes tracks one rule's open alert episodes by key, bounded. An
// episode opens when the rule first raises for a key, stays open while
// evidence keeps coming, and closes after Quiet without any (Expire). A
// closed key that fires again starts a new episode, hence a new alert id.
//
// Re-raising is rate-limited by Due: an update goes out when the count of
// evidence has doubled since the last raise or the severity has risen, so
// that one episode never floods; Expire offers one final update.
type Episodes[K comparable] struct {
	Quiet time.Duration
	Max   int
	m     map[K]*Episode
	// marks are keys remembered with their last time only (Mark): a few
	// words each instead of an episode's alert, for a rule that folds
	// many keys into one episode of another key.
	marks map[K]int64 // unix nanoseconds
	// nextScan rate-limits Expire's walk over every episode to one per
	// Quiet/8 of packet time (at least a minute).
	nextScan time.Time
	// floor is at most the last time of every episode and mark (when
	// floorSet): those times only grow, so until now-Quiet passes floor
	// no walk can close anything, and Expire skips it. walkAll turns the
	// skipping off (tests compare the two).
	floor    time.Time
	floorSet bool
	walkAll  bool
	// Evicted counts episodes dropped because Max was reached (the oldest
	// goes first).
	Evicted uint64
	// Expired counts episodes closed by Expire.
	Expired uint64
}

// Episode is one open episode. (The small fields come first: the ones a
// rule reads for every record share a cache line with the alert's rule.)
type Episode struct {
	// Raised is the evidence count at the last raise; 0 before the first.
	Raised   uint64
	Severity int // severity at the last raise
	Last     time.Time
	// Pending is the evidence count seen so far; when it exceeds Raised at
	// the episode's end, Expire offers a final update.
	Pending uint64
	Alert   event.Alert // as last raised (or being built)
}

// NewEpisodes returns a tracker closing episodes after quiet and holding at
// most max.
func NewEpisodes[K comparable](quiet time.Duration, max int) *Episodes[K] {
	return &Episodes[K]{Quiet: quiet, Max: max, m: make(map[K]*Episode)}
}

// Get returns the open episode for k, or nil.
func (e *Episodes[K]) Get(k K) *Episode { return e.m[k] }

// Len is the number of open episodes and marked keys.
func (e *Episodes[K]) Len() int { return len(e.m) + len(e.marks) }

// Mark remembers k, which has no episode of its own, as seen at t (or
// later, if it was seen later). A marked key counts toward Max and ages
// like an episode (Expire), but Get does not return it. Opening an episode
// for a marked key is the caller's mistake.
func (e *Episodes[K]) Mark(k K, t time.Time) {
	ns := t.UnixNano()
	if old, ok := e.marks[k]; ok {
		e.marks[k] = max(old, ns)
		return
	}
	e.makeRoom()
	if e.marks == nil {
		e.marks = make(map[K]int64)
	}
	e.marks[k] = ns
	e.lower(time.Unix(0, ns))
}

// lower makes floor at most t.
func (e *Episodes[K]) lower(t time.Time) {
	if !e.floorSet || t.Before(e.floor) {
		e.floor, e.floorSet = t, true
	}
}

// Remark is Mark for a key already marked: it reports false (and does
// nothing) when k is not.
func (e *Episodes[K]) Remark(k K, t time.Time) bool {
	old, ok := e.marks[k]
	if ok {
		if ns := t.UnixNano(); ns > old {
			e.marks[k] = ns
		}
	}
	return ok
}

// makeRoom drops the oldest episode or mark when Max are held.
func (e *Episodes[K]) makeRoom() {
	if e.Max <= 0 || len(e.m)+len(e.marks) < e.Max {
		return
	}
	var oldK K
	var old *Episode
	var oldNs int64
	found, mark := false, false
	for k2, v := range e.m {
		if !found || v.Last.Before(old.Last) {
			oldK, old, found = k2, v, true
		}
	}
	if found {
		oldNs = old.Last.UnixNano()
	}
	for k2, ns := range e.marks {
		if !found || ns < oldNs {
			oldK, oldNs, found, mark = k2, ns, true, true
		}
	}
	if mark {
		delete(e.marks, oldK)
	} else {
		delete(e.m, oldK)
	}
	e.Evicted++
}

// Open returns the episode for k, creating it (with a as its alert) when
// none is open.
func (e *Episodes[K]) Open(k K, a event.Alert) (ep *Episode, created bool) {
	if ep := e.m[k]; ep != nil {
		return ep, false
	}
	e.makeRoom()
	ep = &Episode{Alert: a, Last: a.Last}
	e.m[k] = ep
	e.lower(a.Last)
	return ep, true
}

// Due reports whether an episode with count pieces of evidence at severity
// sev should be (re-)raised now: first, when the count has doubled (and
// grown by at least three), or when the severity rose.
func (ep *Episode) Due(count uint64, sev int) bool {
	return ep.Raised == 0 || (count >= 2*ep.Raised && count >= ep.Raised+3) || clampSeverity(sev) > ep.Severity
}

// Raise sends the episode's alert, recording count and severity; the
// first raise is update 0.
func (ep *Episode) Raise(raise Raise, count uint64) {
	if ep.Raised > 0 {
		ep.Alert.Update++
	}
	ep.Raised = max(count, 1)
	ep.Severity = ep.Alert.Severity
	raise(Clone(ep.Alert))
}

// Clone copies an alert with its own slices, so that the receiver of a
// raise may keep it while the rule goes on updating the episode.
func Clone(a event.Alert) event.Alert {
	a.Threat.Techniques = slices.Clone(a.Threat.Techniques)
	a.Threat.Tactics = slices.Clone(a.Threat.Tactics)
	a.Related = slices.Clone(a.Related)
	a.RelatedHosts = slices.Clone(a.RelatedHosts)
	a.RelatedUsers = slices.Clone(a.RelatedUsers)
	e := &a.Evidence
	e.Targets = slices.Clone(e.Targets)
	e.Ports = slices.Clone(e.Ports)
	e.FlowIDs = slices.Clone(e.FlowIDs)
	e.CommunityIDs = slices.Clone(e.CommunityIDs)
	e.Facts = slices.Clone(e.Facts)
	return a
}

// Touch records evidence at t.
func (ep *Episode) Touch(t time.Time) {
	if t.After(ep.Last) {
		ep.Last = t
	}
	if t.After(ep.Alert.Last) {
		ep.Alert.Last = t
	}
	if t.After(ep.Alert.At) {
		ep.Alert.At = t
	}
}

// Expire closes the episodes quiet since before now-Quiet (checked at most
// once per Quiet/8 of packet time, so an episode may stay open up to an
// eighth longer). For each that
// grew since its last raise (Pending > Raised) it first calls final, which
// may raise the episode's last update; final may be nil.
func (e *Episodes[K]) Expire(now time.Time, final func(K, *Episode)) {
	if len(e.m)+len(e.marks) == 0 || now.Before(e.nextScan) {
		return
	}
	e.nextScan = now.Add(max(e.Quiet/8, time.Minute))
	if e.floorSet && now.Sub(e.floor) <= e.Quiet && !e.walkAll {
		return // nothing is old enough to close
	}
	e.floorSet = false
	for k, ep := range e.m {
		if now.Sub(ep.Last) > e.Quiet {
			if final != nil && ep.Raised > 0 && ep.Pending > ep.Raised {
				final(k, ep)
			}
			delete(e.m, k)
			e.Expired++
			continue
		}
		e.lower(ep.Last)
	}
	for k, ns := range e.marks {
		if now.Sub(time.Unix(0, ns)) > e.Quiet {
			delete(e.marks, k)
			continue
		}
		e.lower(time.Unix(0, ns))
	}
}

// ExpireStates is Expire for a detector that keeps state of its own per
// episode in state: final gets that state for each episode closed with an
// update pending, and the state of every episode no longer open is
// deleted.
func ExpireStates[K comparable, S any](e *Episodes[K], now time.Time, state map[K]S, final func(K, S)) {
	e.Expire(now, func(k K, _ *Episode) {
		if s, ok := state[k]; ok {
			final(k, s)
		}
	})
	for k := range state {
		if e.Get(k) == nil {
			delete(state, k)
		}
	}
}

// Later returns the later of two times.
func Later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
