package all

import (
	"testing"
	"time"

	"mamori/pipeline/baseline"
	"mamori/rules/rulestest"
)

// BenchmarkDetectors is the cost per record of every rule together, on a
// simulated hospital's attack day, with its learned baseline.
func BenchmarkDetectors(b *testing.B) {
	s := rulestest.NewScenario(rulestest.ScenarioConfig{Seed: 1})
	site := rulestest.Site(b, s.Site)
	m := baseline.New(baseline.DefaultConfig(), site.Location(), site.Internal)
	var obs []baseline.Obs
	for _, r := range s.Learn {
		obs = baseline.Extract(r, obs[:0])
		for i := range obs {
			m.Learn(&obs[i])
		}
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		dets, _ := Detectors(DefaultConfig(), site, m)
		f := &fanout{dets: dets}
		rulestest.Run(f, s.Detect, 10*time.Second)
		n += len(s.Detect)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}

// BenchmarkLearn is the cost per record of learning.
func BenchmarkLearn(b *testing.B) {
	s := rulestest.NewScenario(rulestest.ScenarioConfig{Seed: 1})
	site := rulestest.Site(b, s.Site)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		m := baseline.New(baseline.DefaultConfig(), site.Location(), site.Internal)
		var obs []baseline.Obs
		for _, r := range s.Learn {
			obs = baseline.Extract(r, obs[:0])
			for i := range obs {
				m.Learn(&obs[i])
			}
		}
		n += len(s.Learn)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}
