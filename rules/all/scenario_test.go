package all

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"mamori/pipeline/baseline"
	"mamori/rules"
	"mamori/rules/rulestest"
)

// TestScenarios learns a simulated hospital's normal days, detects on an
// attack day with labelled attacks of every kind and near misses, and
// checks per-rule recall and precision over several seeds (different host
// counts, scan sizes and speeds, beacon periods and jitter, times) and
// that no near miss alerts.
func TestScenarios(t *testing.T) {
	seeds := 6
	if raceEnabled || testing.Short() {
		seeds = 1
	}
	found, total := map[string]float64{}, map[string]float64{}
	good, all := map[string]float64{}, map[string]float64{}
	for seed := range seeds {
		s := rulestest.NewScenario(rulestest.ScenarioConfig{Seed: uint64(seed)})
		site := rulestest.Site(t, s.Site)
		m := baseline.New(baseline.DefaultConfig(), site.Location(), site.Internal)
		var obs []baseline.Obs
		for _, r := range s.Learn {
			obs = baseline.Extract(r, obs[:0])
			for i := range obs {
				m.Learn(&obs[i])
			}
		}
		dets, err := Detectors(DefaultConfig(), site, m)
		if err != nil {
			t.Fatal(err)
		}
		var c rulestest.Collector
		multi := &fanout{dets: dets}
		rulestest.Run(multi, s.Detect, 10*time.Second)
		c.Alerts = multi.alerts
		recall, precision, near, unmatched := s.Score(c.Alerts)
		t.Logf("seed %d: %d learn + %d detect records, %d alerts; recall %v precision %v", seed, len(s.Learn), len(s.Detect), len(c.Alerts), fmtMap(recall), fmtMap(precision))
		for _, n := range near {
			t.Errorf("seed %d: near miss alerted: %s", seed, n)
		}
		for _, u := range unmatched {
			t.Logf("seed %d: unlabelled alert: %s", seed, u)
		}
		for _, l := range s.Labels {
			if !l.NearMiss {
				total[l.Rule]++
			}
		}
		for rule, v := range recall {
			found[rule] += v * countLabels(s, rule)
		}
		eps := episodes(c.Alerts)
		for rule, v := range precision {
			all[rule] += float64(eps[rule])
			good[rule] += v * float64(eps[rule])
		}
	}
	for _, r := range Rules() {
		id := r.Meta.ID
		if total[id] == 0 {
			t.Errorf("%s: no labelled attack in the scenarios", id)
			continue
		}
		rec := found[id] / total[id]
		prec := 1.0
		if all[id] > 0 {
			prec = good[id] / all[id]
		}
		t.Logf("%-20s recall %.2f (%v/%v)  precision %.2f (%v/%v)", id, rec, found[id], total[id], prec, good[id], all[id])
		if rec < 0.95 {
			t.Errorf("%s: recall %.2f < 0.95", id, rec)
		}
		if prec < 0.95 {
			t.Errorf("%s: precision %.2f < 0.95", id, prec)
		}
	}
}

func countLabels(s *rulestest.Scenario, rule string) float64 {
	n := 0.0
	for _, l := range s.Labels {
		if !l.NearMiss && l.Rule == rule {
			n++
		}
	}
	return n
}

func episodes(alerts []eventAlert) map[string]int {
	seen := map[string]bool{}
	out := map[string]int{}
	for _, a := range alerts {
		if id := a.AlertID(); !seen[id] {
			seen[id] = true
			out[a.Rule.ID]++
		}
	}
	return out
}

func fmtMap(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s=%.2f ", k, m[k])
	}
	return s
}

// fanout drives several detectors as one, collecting their alerts.
type fanout struct {
	dets   []Named
	alerts []eventAlert
	fn     rules.Raise
}

func (f *fanout) Observe(r eventRecord, _ rules.Raise) {
	if f.fn == nil {
		f.fn = f.raise // one method value, not one per call
	}
	for _, d := range f.dets {
		d.Observe(r, f.fn)
	}
}

func (f *fanout) Tick(now time.Time, _ rules.Raise) {
	if f.fn == nil {
		f.fn = f.raise
	}
	for _, d := range f.dets {
		d.Tick(now, f.fn)
	}
}

func (f *fanout) raise(a eventAlert) { f.alerts = append(f.alerts, a) }
