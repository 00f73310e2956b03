package nightbeacon

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules/rulestest"
)

const site = `
timezone: Asia/Tokyo
night: {start: "22:00", end: "06:00"}
networks: {internal: [10.0.0.0/8]}
allowed_external:
  - from: 10.10.0.30
    to: [203.0.113.0/24]
    note: antivirus updates
`

var (
	jst       = time.FixedZone("JST", 9*3600)
	midnight  = time.Date(2026, 4, 9, 0, 0, 0, 0, jst) // a Thursday
	nightTime = midnight.Add(2 * time.Hour)            // 02:00 local
	noon      = midnight.Add(12 * time.Hour)
)

func newDet(t *testing.T, cfg Config, base baseline.View) *Detector {
	t.Helper()
	d, err := New(cfg, rulestest.Site(t, site), base)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// beacon crafts n beats from src to dst:443 every period starting at
// start, each interval jittered uniformly by ±jitter·period, each beat
// missed with probability miss, sizes ±5%.
func beacon(r *rand.Rand, src, dst string, start time.Time, period time.Duration, n int, jitter, miss float64) []event.Record {
	var recs []event.Record
	at := start
	for range n {
		if r.Float64() >= miss {
			size := uint64(2000 * (0.95 + 0.1*r.Float64()))
			recs = append(recs, rulestest.Flow(src, dst, 443, at, rulestest.Dur(300*time.Millisecond), rulestest.Bytes(size/2, size/2)))
		}
		at = at.Add(time.Duration(float64(period) * (1 + jitter*(2*r.Float64()-1))))
	}
	return recs
}

// human crafts n connections with exponential gaps of mean gap.
func human(r *rand.Rand, src, dst string, start time.Time, gap time.Duration, n int) []event.Record {
	var recs []event.Record
	at := start
	for range n {
		recs = append(recs, rulestest.Flow(src, dst, 443, at, rulestest.Dur(time.Second), rulestest.Bytes(uint64(500+r.IntN(50000)), uint64(1000+r.IntN(500000)))))
		at = at.Add(time.Duration(r.ExpFloat64() * float64(gap)))
	}
	return recs
}

// TestRecallAndTimeToAlert runs many jittered beacons with missed beats:
// nearly all must alert, within 6 periods (plus the missed beats).
func TestRecallAndTimeToAlert(t *testing.T) {
	for _, tc := range []struct {
		name   string
		period time.Duration
		jitter float64
		miss   float64
	}{
		{"60s exact", time.Minute, 0, 0},
		{"60s 20% jitter", time.Minute, 0.2, 0},
		{"5m 20% jitter 10% missed", 5 * time.Minute, 0.2, 0.1},
		{"2.2s (slips capture)", 2200 * time.Millisecond, 0.1, 0},
		{"30m 15% jitter", 30 * time.Minute, 0.15, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 100
			if raceEnabled {
				runs = 40
			}
			hits, late := 0, 0
			for seed := range runs {
				r := rand.New(rand.NewPCG(uint64(seed), 7))
				recs := beacon(r, "10.10.3.21", "198.51.100.7", nightTime.Add(-3*time.Hour), tc.period, 24, tc.jitter, tc.miss)
				alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
				if len(alerts) == 0 {
					continue
				}
				hits++
				// Time to alert: 6 periods (with the jitter); each beat
				// missed before the alert may hold it back up to three
				// more (the rule allows one miss in five intervals).
				missed := 0
				for i := 1; i < len(recs) && recs[i].Time().Before(alerts[0].At); i++ {
					missed += int(float64(recs[i].Time().Sub(recs[i-1].Time()))/float64(tc.period)+0.5) - 1
				}
				periods := float64(alerts[0].At.Sub(recs[0].Time())) / float64(tc.period)
				if periods > 6+3*float64(missed)+tc.jitter*6 {
					late++
				}
			}
			if recall := float64(hits) / float64(runs); recall < 0.95 {
				t.Errorf("recall %.2f", recall)
			}
			if late > 0 {
				t.Errorf("%d of %d alerts later than 6 periods (plus missed beats)", late, hits)
			}
		})
	}
}

// TestNearMisses: nothing that is not a night beacon alerts.
func TestNearMisses(t *testing.T) {
	m := baseline.New(baseline.DefaultConfig(), jst, nil)
	var obs []baseline.Obs
	learn := func(recs []event.Record) {
		for _, r := range recs {
			obs = baseline.Extract(r, obs[:0])
			for i := range obs {
				m.Learn(&obs[i])
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	// Last week: a device polled its vendor every 5 minutes all night,
	// and a PC synced with a cloud peer by day only.
	learn(beacon(r, "10.10.7.7", "198.51.100.50", nightTime.Add(-7*24*time.Hour), 5*time.Minute, 50, 0.05, 0))
	learn(beacon(r, "10.10.3.22", "198.51.100.60", noon.Add(-7*24*time.Hour), 5*time.Minute, 50, 0.05, 0))

	for _, tc := range []struct {
		name string
		recs func(r *rand.Rand) []event.Record
		base baseline.View
		want int // alerts; > 0 marks the contrast cases
	}{
		{"beacon by day", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.3.21", "198.51.100.7", noon, time.Minute, 20, 0.1, 0)
		}, nil, 0},
		{"allowed external peer", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.0.30", "203.0.113.9", nightTime, time.Hour/4, 20, 0.05, 0)
		}, nil, 0},
		{"internal peer (AD replication)", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.0.10", "10.10.0.11", nightTime, 5*time.Minute, 20, 0.02, 0)
		}, nil, 0},
		{"pair active at night in the baseline", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.7.7", "198.51.100.50", nightTime, 5*time.Minute, 20, 0.05, 0)
		}, m, 0},
		{"pair active by day only in the baseline", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.3.22", "198.51.100.60", nightTime, 5*time.Minute, 20, 0.05, 0)
		}, m, 1},
		{"period over the maximum", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.3.21", "198.51.100.7", midnight.Add(-2*time.Hour), 75*time.Minute, 7, 0, 0)
		}, nil, 0},
		{"five beats only", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.3.21", "198.51.100.7", nightTime, time.Minute, 5, 0, 0)
		}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fails := 0
			for seed := range 20 {
				alerts := rulestest.Run(newDet(t, Config{}, tc.base), tc.recs(rand.New(rand.NewPCG(uint64(seed), 3))), 0)
				if (len(alerts) > 0) != (tc.want > 0) {
					fails++
				}
			}
			if fails > 0 {
				t.Errorf("%d of 20 runs wrong (want alerts: %v)", fails, tc.want > 0)
			}
		})
	}
}

// TestFalseAlarmRate: random (Poisson) connections to one outside peer at
// night, as a person or an irregular application makes them, rarely look
// like a beacon: at most 1% of 1,000 runs of 40 connections may alert.
func TestFalseAlarmRate(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 runs")
	}
	runs := 1000
	if raceEnabled {
		runs = 200
	}
	for _, gap := range []time.Duration{20 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		fp := 0
		for seed := range runs {
			recs := human(rand.New(rand.NewPCG(uint64(seed), uint64(gap))), "10.10.3.21", "198.51.100.7", nightTime.Add(-3*time.Hour), gap, 40)
			if len(rulestest.Run(newDet(t, Config{}, nil), recs, time.Hour)) > 0 {
				fp++
			}
		}
		t.Logf("mean gap %v: %d of %d runs alerted", gap, fp, runs)
		if fp > runs/100 {
			t.Errorf("mean gap %v: %d of %d runs alerted", gap, fp, runs)
		}
	}
}

// TestNightEdge: beats before 22:00 local do not count; the series starts
// at 22:00 and alerts by its sixth beat.
func TestNightEdge(t *testing.T) {
	start := midnight.Add(-2*time.Hour - 5*time.Minute) // 21:55 local
	recs := beacon(rand.New(rand.NewPCG(1, 1)), "10.10.3.21", "198.51.100.7", start, time.Minute, 20, 0, 0)
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	if len(alerts) == 0 {
		t.Fatal("no alert")
	}
	if got, want := alerts[0].First, midnight.Add(-2*time.Hour); !got.Equal(want) {
		t.Errorf("episode starts %v, want 22:00 local (%v)", got.In(jst), want)
	}
	if got := alerts[0].At.In(jst).Format("15:04"); got != "22:05" {
		t.Errorf("first alert at %s, want 22:05 (the sixth beat)", got)
	}
}

// dnsRec stands in for a DNS query record.
type dnsRec struct {
	event.Base
	q string
}

func (r *dnsRec) Dataset() string                               { return "mamori.dns" }
func (r *dnsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *dnsRec) DNSQuestion() string                           { return r.q }

func TestDNSBeacon(t *testing.T) {
	var recs []event.Record
	for i := range 10 {
		r := &dnsRec{q: fmt.Sprintf("%08x.c2.example.net", i*7919)}
		r.Source = netip.AddrPortFrom(netip.MustParseAddr("10.10.3.21"), 53000)
		r.Destination = netip.AddrPortFrom(netip.MustParseAddr("10.10.0.10"), 53)
		r.Timestamp, r.Protocol, r.Transport = nightTime.Add(time.Duration(i)*90*time.Second), "dns", 17
		recs = append(recs, r)
	}
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	if len(alerts) == 0 || alerts[0].Action != "night_dns_beacon" || alerts[0].Destination.Domain != "example.net" {
		t.Fatalf("alerts %s", rulestest.Summary(alerts))
	}
}

func TestScore(t *testing.T) {
	at := func(secs ...float64) []time.Time {
		var out []time.Time
		for _, s := range secs {
			out = append(out, midnight.Add(time.Duration(s*float64(time.Second))))
		}
		return out
	}
	sizes := []uint64{100, 100, 100, 100, 100, 100, 100}
	exact := score(at(0, 60, 120, 180, 240, 300, 360), sizes, 0.3)
	if exact.Period != time.Minute || exact.Total != 1 || exact.Skew != 0 || exact.Single != 6 {
		t.Errorf("exact: %+v", exact)
	}
	missed := score(at(0, 60, 180, 240, 300, 420, 480), sizes, 0.3)
	if missed.Period != time.Minute || missed.Regular != 1 || missed.Single != 4 {
		t.Errorf("missed beats: %+v", missed)
	}
	random := score(at(0, 5, 70, 90, 300, 310, 600), []uint64{10, 5000, 30, 700, 90000, 20, 400}, 0.3)
	if random.Total > 0.4 {
		t.Errorf("random: %+v", random)
	}
}

func TestGolden(t *testing.T) {
	recs := beacon(rand.New(rand.NewPCG(9, 9)), "10.10.3.21", "198.51.100.7", nightTime, time.Minute, 8, 0.1, 0)
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	rulestest.Golden(t, filepath.Join("testdata", "golden", "crafted_beacon.alerts.ndjson"), alerts)
}

type tlsRec struct {
	event.Base
	sni string
}

func (r *tlsRec) Dataset() string                               { return "mamori.tls" }
func (r *tlsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *tlsRec) ServerName() string                            { return r.sni }

// TestRotatingAddresses: a C2 behind a CDN answers from a different
// address each time; the SNI keeps the beats one series.
func TestRotatingAddresses(t *testing.T) {
	var recs []event.Record
	for i := range 10 {
		at := nightTime.Add(time.Duration(i) * 3 * time.Minute)
		f := rulestest.Flow("10.10.3.21", fmt.Sprintf("198.51.100.%d", 10+i%4), 443, at, rulestest.Dur(300*time.Millisecond), rulestest.Bytes(900, 2100))
		r := &tlsRec{sni: "cdn-7.evil-updates.example"}
		r.FlowID, r.Protocol, r.Timestamp = f.ID, "tls", at
		recs = append(recs, r, f)
	}
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	if len(alerts) == 0 {
		t.Fatal("no alert")
	}
	a := alerts[0]
	if a.Key != "beacon/10.10.3.21>evil-updates.example:443" || a.Destination.Domain != "cdn-7.evil-updates.example" || !a.Destination.IP.IsValid() {
		t.Errorf("alert %s → %+v", a.Key, a.Destination)
	}
}

// mixedNight is a night of beacons (of various periods and jitter, with
// missed beats) and irregular connections, between many pairs and
// delivered as a worker does: each flow record when its flow ends, so not
// in start order.
func mixedNight(r *rand.Rand, pairs int) []event.Record {
	var recs []event.Record
	for i := range pairs {
		src := fmt.Sprintf("10.10.3.%d", 10+i%7)
		dst := fmt.Sprintf("198.51.100.%d", i%250)
		start := nightTime.Add(-4*time.Hour + time.Duration(r.IntN(3600))*time.Second)
		period := time.Duration(20+r.IntN(600)) * time.Second
		var flows []event.Record
		switch i % 3 {
		case 0:
			flows = beacon(r, src, dst, start, period, 60, 0.4*r.Float64(), 0.2*r.Float64())
		case 1:
			flows = human(r, src, dst, start, period, 60)
		default: // a beacon that turns irregular half way
			flows = beacon(r, src, dst, start, period, 30, 0.1, 0)
			flows = append(flows, human(r, src, dst, start.Add(30*period), period, 30)...)
		}
		for _, f := range flows {
			f := f.(*event.Flow)
			f.End = f.Start.Add(time.Duration(r.Float64() * 3 * float64(period)))
		}
		recs = append(recs, flows...)
	}
	slices.SortStableFunc(recs, func(a, b event.Record) int { return a.Time().Compare(b.Time()) })
	return recs
}

// TestSkipChangesNothing: not scoring the beats that cannot pass the
// single-period test yet (Score.Cluster) changes no alert: a detector that
// scores every beat raises exactly the same ones.
func TestSkipChangesNothing(t *testing.T) {
	alerts, skipped := 0, uint64(0)
	for seed := range 4 {
		recs := mixedNight(rand.New(rand.NewPCG(uint64(seed), 11)), 60)
		fast := newDet(t, Config{}, nil)
		got := rulestest.Run(fast, recs, 0)
		slow := newDet(t, Config{}, nil)
		slow.scoreAll = true
		want := rulestest.Run(slow, recs, 0)
		// (Episodes that end together end in map order: compare sorted.)
		if g, w := sortedLines(rulestest.NDJSON(got)), sortedLines(rulestest.NDJSON(want)); g != w {
			t.Fatalf("seed %d: skipping changed the alerts:\n%s\nscoring every beat:\n%s", seed, rulestest.Summary(got), rulestest.Summary(want))
		}
		alerts += len(got)
		skipped += fast.skipped
	}
	if alerts == 0 || skipped == 0 {
		t.Errorf("%d alerts, %d beats skipped: the comparison proves nothing", alerts, skipped)
	}
	t.Logf("%d alerts, %d beats skipped", alerts, skipped)
}

func sortedLines(b []byte) string {
	lines := strings.Split(string(b), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestCluster: Cluster bounds Single whatever the period: no period P
// counts more intervals within MaxJitter·P of it.
func TestCluster(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for range 2000 {
		n := 3 + r.IntN(maxBeats-2)
		times := make([]time.Time, n)
		at := midnight
		for i := range times {
			times[i] = at
			at = at.Add(time.Duration((0.5 + r.ExpFloat64()*float64(1+r.IntN(3))) * float64(time.Minute)))
		}
		sc := score(times, make([]uint64, n), 0.3)
		for i := 1; i < n; i++ { // every interval, and its ends of the window, as the period
			d := times[i].Sub(times[i-1]).Seconds()
			for _, p := range []float64{d, d / 1.3, d / 0.7} {
				single := 0
				for j := 1; j < n; j++ {
					if x := times[j].Sub(times[j-1]).Seconds(); math.Abs(x-p) <= 0.3*p {
						single++
					}
				}
				if single > sc.Cluster {
					t.Fatalf("period %.3fs counts %d single intervals, Cluster is %d", p, single, sc.Cluster)
				}
			}
		}
		if sc.Single > sc.Cluster {
			t.Fatalf("Single %d > Cluster %d", sc.Single, sc.Cluster)
		}
	}
}

// BenchmarkObserve is the cost per flow record of the rule on nights of
// beacons and irregular traffic between many pairs.
func BenchmarkObserve(b *testing.B) {
	recs := mixedNight(rand.New(rand.NewPCG(1, 1)), 600)
	site := rulestest.Site(b, site)
	b.ResetTimer()
	for b.Loop() {
		d, err := New(Config{}, site, nil)
		if err != nil {
			b.Fatal(err)
		}
		rulestest.Run(d, recs, 10*time.Second)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}
