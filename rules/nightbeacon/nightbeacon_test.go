package nightbeacon

import (
	"fmt"
	"maps"
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
		{"5m 20% jitter 20% missed", 5 * time.Minute, 0.2, 0.2},
		// An hourly beacon measures over an hour half the time: the
		// default maximum period has headroom.
		{"hourly 20% jitter", time.Hour, 0.2, 0},
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

// slots crafts a beacon of n slots every period from start, with the
// slots in missed left out, each interval jittered by ±jitter·period.
func slots(r *rand.Rand, start time.Time, period time.Duration, n int, jitter float64, missed ...int) []event.Record {
	var recs []event.Record
	at := start
	for i := range n {
		if !slices.Contains(missed, i) {
			recs = append(recs, rulestest.Flow("10.10.3.21", "198.51.100.7", 443, at, rulestest.Dur(300*time.Millisecond), rulestest.Bytes(900, 2100)))
		}
		at = at.Add(time.Duration(float64(period) * (1 + jitter*(2*r.Float64()-1))))
	}
	return recs
}

// TestMissedBeats: an interval that spans a missed beat counts as two
// periods, not as an outlier, so that a beacon with missed beats alerts
// by its 6th beat, even in a night that holds few of them; more missed
// beats than that need more beats. Every run (20 jitter draws) must
// alert by the beat wanted.
func TestMissedBeats(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   time.Time
		period  time.Duration
		slots   int
		jitter  float64
		missed  []int
		alertBy int // the beat (1-based) the first alert comes with; 0: none
	}{
		// 23:00–05:00 holds 8 slots of 46 minutes; two are missed: 6 beats.
		{"46m, 2 of 8 missed, short night", midnight.Add(-time.Hour), 46 * time.Minute, 8, 0.05, []int{2, 5}, 6},
		{"5m, 2 missed early", nightTime, 5 * time.Minute, 20, 0.15, []int{1, 3}, 6},
		{"5m, 1 missed", nightTime, 5 * time.Minute, 20, 0.2, []int{4}, 6},
		// Two in a row: one irregular interval, which one in five may be.
		{"90s, 2 missed in a row", nightTime, 90 * time.Second, 20, 0.1, []int{3, 4}, 6},
		{"5m, 3 missed early", nightTime, 5 * time.Minute, 30, 0.1, []int{1, 3, 5}, 11},
		{"20m, every other beat missed (a 40m beacon)", nightTime.Add(-3 * time.Hour), 20 * time.Minute, 20, 0.05, []int{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range 20 {
				recs := slots(rand.New(rand.NewPCG(uint64(seed), 13)), tc.start, tc.period, tc.slots, tc.jitter, tc.missed...)
				alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
				if len(alerts) == 0 {
					t.Fatalf("seed %d: no alert", seed)
				}
				if want := recs[tc.alertBy-1].(*event.Flow).Start; !alerts[0].At.Equal(want) {
					t.Fatalf("seed %d: first alert at %s, want %s (beat %d): %v", seed, alerts[0].At.In(jst).Format(time.TimeOnly),
						want.In(jst).Format(time.TimeOnly), tc.alertBy, alerts[0].Evidence.Facts)
				}
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
			return beacon(r, "10.10.3.21", "198.51.100.7", midnight.Add(-2*time.Hour), 90*time.Minute, 7, 0, 0)
		}, nil, 0},
		{"hourly, just under the maximum", func(r *rand.Rand) []event.Record {
			return beacon(r, "10.10.3.21", "198.51.100.7", midnight.Add(-2*time.Hour), 74*time.Minute, 7, 0, 0)
		}, nil, 1},
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

// dnsRec stands in for a DNS record: the question, and the answer's
// addresses if any.
type dnsRec struct {
	event.Base
	q       string
	answers []netip.Addr
}

func (r *dnsRec) Dataset() string                               { return "mamori.dns" }
func (r *dnsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *dnsRec) DNSQuestion() string                           { return r.q }
func (r *dnsRec) DNSResolution() (string, []netip.Addr)         { return r.q, r.answers }

func lookup(src, name string, at time.Time, answers ...string) *dnsRec {
	r := &dnsRec{q: name}
	for _, a := range answers {
		r.answers = append(r.answers, netip.MustParseAddr(a))
	}
	r.Source = netip.AddrPortFrom(netip.MustParseAddr(src), 53000)
	r.Destination = netip.AddrPortFrom(netip.MustParseAddr("10.10.0.10"), 53)
	r.Timestamp, r.Protocol, r.Transport = at, "dns", 17
	return r
}

// TestDNSBeacon: a beacon that looks its controller's name up before
// every beat is one alert, night_beacon, naming the domain and the address
// it connects to (whichever of the lookups and the connections passes
// first); lookups with no connection (C2 over DNS, DNS tunnelling) are a
// beacon of their own, night_dns_beacon.
func TestDNSBeacon(t *testing.T) {
	const src, c2 = "10.10.3.21", "198.51.100.7"
	for _, tc := range []struct {
		name       string
		recs       func(r *rand.Rand) []event.Record
		action     string
		ip, domain string
	}{
		{"lookups only (C2 over DNS)", func(r *rand.Rand) []event.Record {
			var recs []event.Record
			for i := range 10 {
				recs = append(recs, lookup(src, fmt.Sprintf("%08x.c2.example.net", r.Uint32()), nightTime.Add(time.Duration(i)*90*time.Second)))
			}
			return recs
		}, "night_dns_beacon", "", "example.net"},
		{"lookup before every HTTP poll", func(r *rand.Rand) []event.Record {
			var recs []event.Record
			at := nightTime
			for range 12 {
				recs = append(recs, lookup(src, "cdn-4.example.org", at.Add(-30*time.Millisecond), c2),
					rulestest.Flow(src, c2, 8080, at, rulestest.Dur(200*time.Millisecond), rulestest.Bytes(300, 900)))
				at = at.Add(time.Duration(float64(7*time.Minute) * (0.9 + 0.2*r.Float64())))
			}
			return rulestest.Sorted(recs)
		}, "night_beacon", c2, "cdn-4.example.org"},
		{"lookup before every poll, connections recorded late", func(r *rand.Rand) []event.Record {
			// Each flow record comes when its flow ends, after the next
			// lookup: the lookups reach six beats first.
			var recs []event.Record
			at := nightTime
			for range 12 {
				recs = append(recs, lookup(src, "cdn-4.example.org", at.Add(-30*time.Millisecond), c2),
					rulestest.Flow(src, c2, 443, at, rulestest.Dur(8*time.Minute), rulestest.Bytes(300, 900)))
				at = at.Add(time.Duration(float64(5*time.Minute) * (0.9 + 0.2*r.Float64())))
			}
			return rulestest.Sorted(recs)
		}, "night_beacon", c2, "cdn-4.example.org"},
		{"one lookup, then connections", func(r *rand.Rand) []event.Record {
			recs := []event.Record{lookup(src, "cdn-4.example.org", nightTime.Add(-time.Second), c2)}
			return append(recs, beacon(r, src, c2, nightTime, 3*time.Minute, 12, 0.1, 0)...)
		}, "night_beacon", c2, "cdn-4.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range 10 {
				alerts := rulestest.Run(newDet(t, Config{}, nil), tc.recs(rand.New(rand.NewPCG(uint64(seed), 17))), 0)
				if n := episodes(alerts); n != 1 {
					t.Fatalf("seed %d: %d alerts, want one: %s", seed, n, rulestest.Summary(alerts))
				}
				a := alerts[len(alerts)-1]
				var ip string
				if a.Destination.IP.IsValid() {
					ip = a.Destination.IP.String()
				}
				if a.Action != tc.action || ip != tc.ip || a.Destination.Domain != tc.domain {
					t.Errorf("seed %d: %s → %s %q %q, want %s %q %q", seed, a.Key, a.Action, ip, a.Destination.Domain, tc.action, tc.ip, tc.domain)
				}
				if tc.ip != "" && !slices.Contains(a.Related, netip.MustParseAddr(tc.ip)) {
					t.Errorf("seed %d: related %v lacks the C2 address", seed, a.Related)
				}
			}
		})
	}
}

// episodes counts the alerts: distinct ids, and first raises (an episode
// that closed and opened again may have the same id).
func episodes(alerts []event.Alert) int {
	ids, opened := map[string]bool{}, 0
	for _, a := range alerts {
		ids[a.AlertID()] = true
		if a.Update == 0 {
			opened++
		}
	}
	return max(len(ids), opened)
}

// TestLongBeacon: a beacon all night is one alert, however long its
// scores fail (here: a stretch of irregular calls between regular ones,
// longer than the 2 h an episode may be quiet) and however long its
// gaps (two missed beats of a 45-minute beacon: 2h15m).
func TestLongBeacon(t *testing.T) {
	const src, c2 = "10.10.3.21", "198.51.100.7"
	for _, tc := range []struct {
		name string
		recs func(r *rand.Rand) []event.Record
	}{
		{"regular, irregular for 3h, regular", func(r *rand.Rand) []event.Record {
			recs := beacon(r, src, c2, midnight.Add(-2*time.Hour), time.Minute, 60, 0.1, 0)
			recs = append(recs, human(r, src, c2, midnight.Add(-time.Hour), time.Minute, 180)...)
			for _, f := range recs[60:] { // the same sizes as the beats
				f.(*event.Flow).Source.Bytes, f.(*event.Flow).Destination.Bytes = 1000, 1000
			}
			return rulestest.Sorted(append(recs, beacon(r, src, c2, midnight.Add(2*time.Hour), time.Minute, 120, 0.1, 0)...))
		}},
		{"45m beacon missing two beats in a row", func(r *rand.Rand) []event.Record {
			return slots(r, midnight.Add(-2*time.Hour), 45*time.Minute, 10, 0.05, 7, 8)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range 10 {
				alerts := rulestest.Run(newDet(t, Config{}, nil), tc.recs(rand.New(rand.NewPCG(uint64(seed), 19))), 0)
				if n := episodes(alerts); n != 1 {
					t.Fatalf("seed %d: %d alerts, want one: %s", seed, n, rulestest.Summary(alerts))
				}
			}
		})
	}
}

// TestNeedSingle: needSingle never falls as a series grows (the skipping
// relies on it), and every count of single and multiple intervals that
// passes the single-period test has at least needSingle single ones.
func TestNeedSingle(t *testing.T) {
	for n := 3; n <= 4*maxBeats; n++ {
		if needSingle(n+1) < needSingle(n) {
			t.Errorf("needSingle(%d) = %d < needSingle(%d) = %d", n+1, needSingle(n+1), n, needSingle(n))
		}
		need := n - max(1, n/5)
		for single := 0; single <= n; single++ {
			for multiple := 0; single+multiple <= n; multiple++ {
				if 2*single+multiple >= 2*need && single < needSingle(n) {
					t.Errorf("n %d: %d single and %d multiple pass, needSingle %d", n, single, multiple, needSingle(n))
				}
			}
		}
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
	if missed.Period != time.Minute || missed.Regular != 1 || missed.Single != 4 || missed.Multiple != 2 || missed.Missed != 2 {
		t.Errorf("missed beats: %+v", missed)
	}
	// Half the beats missed: the median interval (90 s) is no period; the
	// densest cluster of intervals (the shortest one of two) is.
	many := score(at(0, 60, 120, 180, 300, 420, 600), sizes, 0.3)
	if many.Period != time.Minute || many.Regular != 1 || many.Single != 3 || many.Multiple != 3 || many.Missed != 4 {
		t.Errorf("many missed beats: %+v", many)
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

// TestSweepSkipChangesNothing: skipping the walk over every series when
// none can be dropped (see Detector.oldest) keeps the same series after
// every sweep as walking them all each minute, over three nights of
// beacons, people and beacons that stop.
func TestSweepSkipChangesNothing(t *testing.T) {
	dropped, walks := 0, 0
	for seed := range 3 {
		r := rand.New(rand.NewPCG(uint64(seed), 13))
		var recs []event.Record
		for night := range 3 {
			for _, rec := range mixedNight(r, 40+20*night) {
				f := *rec.(*event.Flow)
				f.Start, f.End = f.Start.Add(time.Duration(night)*24*time.Hour), f.End.Add(time.Duration(night)*24*time.Hour)
				recs = append(recs, &f)
			}
		}
		fast := newDet(t, Config{}, nil)
		slow := newDet(t, Config{}, nil)
		slow.sweepAll = true
		var cf, cs rulestest.Collector
		next := recs[0].Time()
		for _, rec := range recs {
			for !rec.Time().Before(next) {
				before := len(slow.series)
				fast.Tick(next, cf.Raise)
				slow.Tick(next, cs.Raise)
				if !maps.EqualFunc(fast.series, slow.series, func(a, b *series) bool { return a.last == b.last }) {
					t.Fatalf("seed %d at %v: %d series kept, %d walking every minute", seed, next, len(fast.series), len(slow.series))
				}
				if d := before - len(slow.series); d > 0 {
					dropped += d
					walks++
				}
				next = next.Add(time.Minute)
			}
			fast.Observe(rec, cf.Raise)
			slow.Observe(rec, cs.Raise)
		}
		if g, w := sortedLines(rulestest.NDJSON(cf.Alerts)), sortedLines(rulestest.NDJSON(cs.Alerts)); g != w {
			t.Fatalf("seed %d: skipping sweeps changed the alerts", seed)
		}
	}
	if dropped == 0 {
		t.Fatal("no series dropped: the comparison proves nothing")
	}
	t.Logf("%d series dropped in %d sweeps", dropped, walks)
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

// TestBeatPlacement: beats in any order (late ones, near ones merged, old
// ones ignored, a long gap starting over, full series dropping their
// oldest) leave the beats and sizes that a plain sorted list does when
// each beat is inserted and the oldest dropped past maxBeats.
func TestBeatPlacement(t *testing.T) {
	type beat struct {
		at   int64
		size uint64
	}
	r := rand.New(rand.NewPCG(5, 5))
	d := newDet(t, Config{}, nil)
	k := key{src: netip.MustParseAddr("10.0.0.5"), dst: netip.MustParseAddr("198.51.100.9"), port: 443, proto: 6}
	var model []beat
	at := time.Date(2026, 4, 7, 23, 0, 0, 0, time.UTC)
	gap := int64(4 * d.cfg.MaxPeriod)
	for step := range 5000 {
		switch r.IntN(10) {
		case 0:
			at = at.Add(-time.Duration(r.IntN(600)) * time.Second) // late
		case 1:
			at = at.Add(time.Duration(r.IntN(400)) * time.Millisecond) // merged
		case 2:
			if r.IntN(20) == 0 {
				at = at.Add(6 * time.Hour) // a new series
			}
		default:
			at = at.Add(time.Duration(30+r.IntN(60)) * time.Second)
		}
		size := uint64(1 + r.IntN(1000))
		var id event.FlowID
		id[0], id[1] = byte(step), byte(step>>8)
		d.beat(k, "", k.dst, at, size, id, event.CommunityID{}, "", func(event.Alert) {})

		ns := at.UnixNano()
		i, _ := slices.BinarySearchFunc(model, ns, func(b beat, t int64) int { return cmpInt(b.at, t) })
		switch {
		case i > 0 && time.Duration(ns-model[i-1].at) < mergeGap:
			model[i-1].size += size
		case i < len(model) && time.Duration(model[i].at-ns) < mergeGap:
			model[i].size += size
		case i == 0 && len(model) > 0:
		case i == len(model) && i > 0 && ns-model[i-1].at > gap:
			model = []beat{{ns, size}}
		default:
			model = slices.Insert(model, i, beat{ns, size})
			if len(model) > maxBeats {
				model = model[1:]
			}
		}
		s := d.series[k]
		if len(s.times) != len(model) || cap(s.times) > maxBeats || cap(s.sizes) > maxBeats {
			t.Fatalf("step %d: %d beats (capacity %d), want %d", step, len(s.times), cap(s.times), len(model))
		}
		for j, b := range model {
			if s.times[j] != b.at || s.sizes[j] != b.size {
				t.Fatalf("step %d: beat %d is %d (%d bytes), want %d (%d)", step, j, s.times[j], s.sizes[j], b.at, b.size)
			}
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
