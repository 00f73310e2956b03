package api

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"mamori/pipeline/event"
)

// Triage statuses. An alert nobody has looked at is "new".
var triageStatuses = []string{"new", "acknowledged", "investigating", "resolved", "false_positive"}

// Triage is one triage decision: appended to the triage log, the last one
// per alert is its state.
type Triage struct {
	Alert  string    `json:"alert"`
	Status string    `json:"status"`
	Note   string    `json:"note,omitempty"`
	Who    string    `json:"who"`
	At     time.Time `json:"at"`
}

// Alerts keeps the newest alerts (one entry per alert id, the latest
// update of its episode) for the console and the API, and their triage
// state, which it persists to an append-only log. It is safe for
// concurrent use: the sensor's record path adds, HTTP handlers read.
type Alerts struct {
	max int

	mu     sync.Mutex
	byID   map[string]*entry
	order  []string // alert ids, oldest first
	triage map[string]Triage
	log    string // triage log path; "" keeps triage in memory only
	seq    uint64 // Add calls, for "newest first"
}

type entry struct {
	alert *event.Alert
	seen  uint64 // update order, for "newest first"
}

// NewAlerts returns a store of up to max alerts whose triage is appended
// to logPath (created when missing) and restored from it. A line that
// cannot be read is an error naming it: the log is evidence.
func NewAlerts(max int, logPath string) (*Alerts, error) {
	a := &Alerts{max: max, byID: map[string]*entry{}, triage: map[string]Triage{}, log: logPath}
	if logPath == "" {
		return a, nil
	}
	f, err := os.Open(logPath)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var t Triage
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil || t.Alert == "" || !slices.Contains(triageStatuses, t.Status) {
			return nil, fmt.Errorf("%s:%d: not a triage record", logPath, n)
		}
		a.triage[t.Alert] = t
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", logPath, err)
	}
	return a, nil
}

// Add records an alert (a re-raise replaces the earlier version of its
// episode). The oldest alerts go when more than max are kept.
func (a *Alerts) Add(al *event.Alert) {
	id := al.AlertID()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	if e, ok := a.byID[id]; ok {
		e.alert, e.seen = al, a.seq
		return
	}
	a.byID[id] = &entry{alert: al, seen: a.seq}
	a.order = append(a.order, id)
	for len(a.order) > a.max {
		delete(a.byID, a.order[0])
		a.order = a.order[1:]
	}
}

// Get returns the alert with id and its triage state.
func (a *Alerts) Get(id string) (*event.Alert, Triage, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.byID[id]
	if !ok {
		return nil, Triage{}, false
	}
	return e.alert, a.state(id), true
}

func (a *Alerts) state(id string) Triage {
	if t, ok := a.triage[id]; ok {
		return t
	}
	return Triage{Alert: id, Status: "new"}
}

// AlertView is an alert with its triage state.
type AlertView struct {
	Alert  *event.Alert
	Triage Triage
}

// List returns up to limit alerts, most recently raised or updated
// first; status, when not empty, keeps those in that triage state.
func (a *Alerts) List(limit int, status string) []AlertView {
	a.mu.Lock()
	defer a.mu.Unlock()
	es := make([]*entry, 0, len(a.byID))
	for _, e := range a.byID {
		es = append(es, e)
	}
	slices.SortFunc(es, func(x, y *entry) int { return cmp.Compare(y.seen, x.seen) })
	var out []AlertView
	for _, e := range es {
		if len(out) == limit {
			break
		}
		t := a.state(e.alert.AlertID())
		if status != "" && t.Status != status {
			continue
		}
		out = append(out, AlertView{Alert: e.alert, Triage: t})
	}
	return out
}

// Counts returns how many alerts are kept, by triage status.
func (a *Alerts) Counts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for id := range a.byID {
		out[a.state(id).Status]++
	}
	return out
}

// ErrInvalidTriage wraps SetTriage's errors about the decision itself (as
// opposed to the log it could not be written to).
var ErrInvalidTriage = errors.New("invalid triage")

// SetTriage records a triage decision, appending it to the log (synced)
// before it takes effect.
func (a *Alerts) SetTriage(t Triage) error {
	if !slices.Contains(triageStatuses, t.Status) {
		return fmt.Errorf("%w: status %q: want one of %v", ErrInvalidTriage, t.Status, triageStatuses)
	}
	if len(t.Note) > 4096 {
		return fmt.Errorf("%w: note: at most 4096 bytes", ErrInvalidTriage)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log != "" {
		line, err := json.Marshal(t)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(a.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(append(line, '\n'))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("triage log %s: %w", a.log, err)
		}
	}
	a.triage[t.Alert] = t
	return nil
}
