package scenario

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// LabelJSON is a label as labels.json holds it.
type LabelJSON = labelJSON

// ReadLabels reads a labels.json that Write wrote.
func ReadLabels(path string) ([]labelJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	var ls []labelJSON
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, fmt.Errorf("read labels %s: %w", path, err)
	}
	return ls, nil
}

// alertDoc is what scoring reads of an alert record.
type alertDoc struct {
	Event struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Action string `json:"action"`
	} `json:"event"`
	Rule        struct{ ID string }   `json:"rule"`
	Source      struct{ IP string }   `json:"source"`
	Destination struct{ IP string }   `json:"destination"`
	Related     struct{ IP []string } `json:"related"`
	Message     string                `json:"message"`
	Mamori      struct {
		Alert struct {
			Evidence struct {
				First time.Time `json:"first"`
			} `json:"evidence"`
		} `json:"alert"`
	} `json:"mamori"`
}

// RuleScore is one rule's result on a scenario.
type RuleScore struct {
	Rule                   string
	Labelled, Found        int // labelled attacks, and those an alert matched
	Episodes, Matching     int // alert episodes, and those that match an attack
	NearMisses, Duplicates []string
}

// Score reads mamori's NDJSON output (the latest record of each alert
// episode counts) and matches alerts with labels as
// rules/rulestest.Scenario.Score does: an alert matches a label of its
// rule when it names the label's actor (and peer, if any) as source,
// destination or related address and its evidence starts within the
// label's span, with an hour's slack either side.
func Score(ndjson io.Reader, labels []labelJSON) (map[string]*RuleScore, error) {
	eps := map[string]alertDoc{}
	var order []string
	sc := bufio.NewScanner(ndjson)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"kind":"alert"`) {
			continue
		}
		var a alertDoc
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, fmt.Errorf("score: alert record: %w", err)
		}
		if _, ok := eps[a.Event.ID]; !ok {
			order = append(order, a.Event.ID)
		}
		eps[a.Event.ID] = a
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	out := map[string]*RuleScore{}
	get := func(rule string) *RuleScore {
		if out[rule] == nil {
			out[rule] = &RuleScore{Rule: rule}
		}
		return out[rule]
	}
	named := func(a alertDoc, ip string) bool {
		return a.Source.IP == ip || a.Destination.IP == ip || slices.Contains(a.Related.IP, ip)
	}
	matches := func(l labelJSON, a alertDoc) bool {
		if a.Rule.ID != l.Rule || !named(a, l.Actor) || l.Peer != "" && !named(a, l.Peer) {
			return false
		}
		f := a.Mamori.Alert.Evidence.First
		return !f.Before(l.From.Add(-time.Hour)) && !f.After(l.To.Add(time.Hour))
	}
	for _, l := range labels {
		if l.NearMiss {
			continue
		}
		rs := get(l.Rule)
		rs.Labelled++
		var hits []string
		for _, id := range order {
			if matches(l, eps[id]) {
				hits = append(hits, id)
			}
		}
		if len(hits) > 0 {
			rs.Found++
		}
		if len(hits) > 1 {
			rs.Duplicates = append(rs.Duplicates, fmt.Sprintf("%s: %d episodes", l.Name, len(hits)))
		}
	}
	for _, id := range order {
		a := eps[id]
		rs := get(a.Rule.ID)
		rs.Episodes++
		for _, l := range labels {
			if !l.NearMiss && matches(l, a) {
				rs.Matching++
				break
			}
		}
		for _, l := range labels {
			if l.NearMiss && matches(l, a) {
				rs.NearMisses = append(rs.NearMisses, l.Name+": "+a.Event.Action)
			}
		}
	}
	return out, nil
}

// WriteScore prints per-rule recall and precision, near misses that
// alerted and attacks that gave more than one episode.
func WriteScore(w io.Writer, scores map[string]*RuleScore) {
	rules := make([]string, 0, len(scores))
	for r := range scores {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	ratio := func(a, b int) string {
		if b == 0 {
			return "  -  "
		}
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	fmt.Fprintf(w, "%-20s %-14s %-14s %s\n", "RULE", "RECALL", "PRECISION", "NEAR MISSES ALERTED")
	for _, r := range rules {
		s := scores[r]
		fmt.Fprintf(w, "%-20s %-14s %-14s %d\n", r, ratio(s.Found, s.Labelled)+fmt.Sprintf(" (%d/%d)", s.Found, s.Labelled),
			ratio(s.Matching, s.Episodes)+fmt.Sprintf(" (%d/%d)", s.Matching, s.Episodes), len(s.NearMisses))
		for _, n := range s.NearMisses {
			fmt.Fprintf(w, "  near miss alerted: %s\n", n)
		}
		for _, d := range s.Duplicates {
			fmt.Fprintf(w, "  more than one episode: %s\n", d)
		}
	}
}
