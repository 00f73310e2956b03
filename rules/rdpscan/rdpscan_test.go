package rdpscan

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
	"mamori/rules/rulestest"
)

const site = `
timezone: Asia/Tokyo
servers:
  domain_controller: [10.10.0.10]
  jump_host: [10.10.9.5]
admins: [10.10.5.5]
`

var jst = time.FixedZone("JST", 9*3600)

// noon on a Wednesday, local time
var t0 = time.Date(2026, 4, 8, 12, 0, 0, 0, jst)

func newDet(t *testing.T, cfg Config, base baseline.View) *Detector {
	t.Helper()
	d, err := New(cfg, rulestest.Site(t, site), base)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scan crafts src trying 3389 on n hosts 10.10.3.(1..n), every gap, each
// attempt refused unless answered says otherwise.
func scan(src string, n int, start time.Time, gap time.Duration, state string) []event.Record {
	var recs []event.Record
	for i := range n {
		at := start.Add(time.Duration(i) * gap)
		recs = append(recs, rulestest.Flow(src, fmt.Sprintf("10.10.3.%d", i+1), 3389, at, rulestest.State(state), rulestest.Dur(3*time.Millisecond)))
	}
	return recs
}

// rdpRec stands in for pipeline/proto/rdp's record: rules see it through
// event.Base and the RDPCookie accessor only.
type rdpRec struct {
	event.Base
	cookie string
}

func (r *rdpRec) Dataset() string                               { return "mamori.rdp" }
func (r *rdpRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *rdpRec) RDPCookie() string                             { return r.cookie }

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		name      string
		recs      []event.Record
		wantKeys  []string
		wantSev   int
		maxAlerts int // the first raise, doublings, and a final update at the episode's end
	}{
		{"refused on 12 hosts", scan("10.10.3.200", 12, t0, 100*time.Millisecond, "REJ"), []string{"scan/10.10.3.200"}, rules.High, 2},
		{"unanswered on 12 hosts", scan("10.10.3.200", 12, t0, time.Second, "S0"), []string{"scan/10.10.3.200"}, rules.High, 2},
		{"9 hosts is not a scan", scan("10.10.3.200", 9, t0, time.Second, "REJ"), nil, 0, 0},
		{"spread over more than the window", scan("10.10.3.200", 12, t0, 2*time.Minute, "REJ"), nil, 0, 0},
		{"slow: 25 hosts in 50 minutes", scan("10.10.3.200", 25, t0, 2*time.Minute, "REJ"), []string{"scan/10.10.3.200"}, rules.High, 2},
		{"from the jump host", scan("10.10.9.5", 12, t0, time.Second, "REJ"), []string{"scan/10.10.9.5"}, rules.Critical, 2},
		{"at night (Tokyo)", scan("10.10.3.200", 12, time.Date(2026, 4, 8, 3, 0, 0, 0, jst), time.Second, "REJ"), []string{"scan/10.10.3.200"}, rules.Critical, 2},
		{"200 hosts: one episode, few updates", scan("10.10.3.200", 200, t0, 50*time.Millisecond, "REJ"), []string{"scan/10.10.3.200"}, rules.High, 6}, // 10, 20, 40, 80, 160, and the final 200
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := rulestest.Run(newDet(t, Config{}, nil), tc.recs, 0)
			if got := rulestest.Keys(alerts); fmt.Sprint(got) != fmt.Sprint(tc.wantKeys) {
				t.Fatalf("keys %v, want %v\n%s", got, tc.wantKeys, rulestest.Summary(alerts))
			}
			if len(alerts) > tc.maxAlerts {
				t.Errorf("%d alerts, want at most %d:\n%s", len(alerts), tc.maxAlerts, rulestest.Summary(alerts))
			}
			if len(alerts) == 0 {
				return
			}
			if alerts[0].Severity != tc.wantSev {
				t.Errorf("severity %d, want %d", alerts[0].Severity, tc.wantSev)
			}
			id := alerts[0].AlertID()
			for i, a := range alerts {
				if a.AlertID() != id || a.Update != i {
					t.Errorf("alert %d: id %s update %d: one episode must keep its id", i, a.AlertID(), a.Update)
				}
			}
			// Time to alert: within 60 s of the 10th target (the 20th
			// for a slow scan).
			nth := tc.recs[9].(*event.Flow).Start
			if strings.HasPrefix(tc.name, "slow") {
				nth = tc.recs[19].(*event.Flow).Start
			}
			if lag := alerts[0].At.Sub(nth); lag < 0 || lag > 60*time.Second {
				t.Errorf("alerted %v after the 10th target", lag)
			}
			last := alerts[len(alerts)-1]
			if last.Evidence.TargetCount != len(tc.recs) {
				t.Errorf("last update counts %d targets, want %d", last.Evidence.TargetCount, len(tc.recs))
			}
		})
	}
}

// TestAdminSessionsAreNotAScan: real sessions to many hosts (an admin
// patching servers) are not probes.
func TestAdminSessionsAreNotAScan(t *testing.T) {
	var recs []event.Record
	for i := range 15 {
		recs = append(recs, rulestest.Flow("10.10.5.5", fmt.Sprintf("10.10.0.%d", 20+i), 3389, t0.Add(time.Duration(i)*20*time.Second),
			rulestest.Dur(40*time.Minute), rulestest.Bytes(2e6, 30e6)))
	}
	if alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0); len(alerts) != 0 {
		t.Errorf("alerts:\n%s", rulestest.Summary(alerts))
	}
}

// TestRDPByContent counts flows on any port that the RDP analyser
// recognised, and reports the cookies.
func TestRDPByContent(t *testing.T) {
	var recs []event.Record
	for i := range 10 {
		f := rulestest.Flow("10.10.3.200", fmt.Sprintf("10.10.4.%d", i+1), 33890, t0.Add(time.Duration(i)*time.Second), rulestest.Dur(200*time.Millisecond), rulestest.Bytes(400, 300))
		r := &rdpRec{cookie: "nmap"}
		r.FlowID, r.Protocol, r.Timestamp = f.ID, "rdp", f.Start
		recs = append(recs, r, f)
	}
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	if len(alerts) != 1 || alerts[0].Evidence.Ports[0] != 33890 || len(alerts[0].RelatedUsers) != 1 || alerts[0].RelatedUsers[0] != "nmap" {
		t.Fatalf("alerts:\n%s%+v", rulestest.Summary(alerts), alerts)
	}
	if q := alerts[0].Pcap.Filter; q != "host 10.10.3.200 and tcp port 33890" {
		t.Errorf("pcap query %q", q)
	}
	// Without the RDP records, port 33890 is not RDP.
	var flows []event.Record
	for _, r := range recs {
		if f, ok := r.(*event.Flow); ok {
			flows = append(flows, f)
		}
	}
	if alerts := rulestest.Run(newDet(t, Config{}, nil), flows, 0); len(alerts) != 0 {
		t.Errorf("port 33890 without RDP records: %s", rulestest.Summary(alerts))
	}
}

// TestRDPPortLearned: a scan of a non-standard port is mostly refused
// attempts that carry no RDP bytes; once a few hosts answered RDP on that
// port, the source's other attempts on it count too. Another source's
// refused attempts on the same port do not.
func TestRDPPortLearned(t *testing.T) {
	var recs []event.Record
	for i := range 30 {
		at := t0.Add(time.Duration(i) * 2 * time.Second)
		dst := fmt.Sprintf("10.10.4.%d", i+1)
		if i%10 == 5 { // every tenth host answers RDP on the port
			f := rulestest.Flow("10.10.3.200", dst, 33891, at, rulestest.Dur(200*time.Millisecond), rulestest.Bytes(400, 300))
			r := &rdpRec{cookie: "Administr"}
			r.FlowID, r.Protocol, r.Timestamp = f.ID, "rdp", f.Start
			recs = append(recs, r, f)
			continue
		}
		recs = append(recs, rulestest.Flow("10.10.3.200", dst, 33891, at, rulestest.State("REJ"), rulestest.Dur(time.Millisecond)))
		recs = append(recs, rulestest.Flow("10.10.3.201", dst, 33891, at, rulestest.State("REJ"), rulestest.Dur(time.Millisecond)))
	}
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	eps := map[string]event.Alert{}
	for _, a := range alerts {
		eps[a.Key] = a
	}
	a, ok := eps["scan/10.10.3.200"]
	if len(eps) != 1 || !ok {
		t.Fatalf("want one scan alert for 10.10.3.200, got:\n%s", rulestest.Summary(alerts))
	}
	// The first answer teaches the port: the five refusals before it are
	// not RDP yet, the 25 hosts from it on are.
	if a.Evidence.TargetCount != 25 || a.Evidence.Ports[0] != 33891 {
		t.Errorf("targets %d ports %v, want 25 on 33891", a.Evidence.TargetCount, a.Evidence.Ports)
	}
}

func TestBruteForce(t *testing.T) {
	var recs []event.Record
	for i := range 12 {
		recs = append(recs, rulestest.Flow("10.10.3.200", "10.10.0.10", 3389, t0.Add(time.Duration(i)*10*time.Second), rulestest.Dur(2*time.Second), rulestest.Bytes(3000, 4000)))
	}
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	if got := rulestest.Keys(alerts); len(got) != 1 || got[0] != "brute/10.10.3.200>10.10.0.10" {
		t.Fatalf("keys %v", got)
	}
	if a := alerts[0]; a.Action != "rdp_bruteforce" || a.Severity != rules.Critical || a.Threat.Techniques[0].ID != "T1110" {
		t.Errorf("alert %+v", a)
	}
	// Nine attempts are not enough; nor are long sessions.
	if alerts := rulestest.Run(newDet(t, Config{}, nil), recs[:9], 0); len(alerts) != 0 {
		t.Errorf("9 attempts: %s", rulestest.Summary(alerts))
	}
}

func TestNewPair(t *testing.T) {
	m := baseline.New(baseline.DefaultConfig(), jst, nil)
	var obs []baseline.Obs
	for _, r := range []event.Record{
		rulestest.Flow("10.10.3.21", "10.10.0.20", 3389, t0.Add(-48*time.Hour), rulestest.Dur(time.Hour), rulestest.Bytes(1e6, 9e6)),
	} {
		obs = baseline.Extract(r, obs[:0])
		for i := range obs {
			m.Learn(&obs[i])
		}
	}
	session := func(src, dst string, at time.Time) event.Record {
		return rulestest.Flow(src, dst, 3389, at, rulestest.Dur(20*time.Minute), rulestest.Bytes(1e6, 9e6))
	}
	for _, tc := range []struct {
		name string
		recs []event.Record
		want string
	}{
		{"known pair", []event.Record{session("10.10.3.21", "10.10.0.20", t0)}, ""},
		{"new pair", []event.Record{session("10.10.3.21", "10.10.0.21", t0), session("10.10.3.21", "10.10.0.21", t0.Add(time.Hour))}, "rdp-scan rdp_new_pair pair/10.10.3.21>10.10.0.21 sev=2 update=0\n"},
		{"new pair at night to a server", []event.Record{session("10.10.3.21", "10.10.0.10", time.Date(2026, 4, 8, 2, 0, 0, 0, jst))}, "rdp-scan rdp_new_pair pair/10.10.3.21>10.10.0.10 sev=4 update=0\n"},
		{"admin", []event.Record{session("10.10.5.5", "10.10.0.21", t0)}, ""},
		{"refused is no session", []event.Record{rulestest.Flow("10.10.3.21", "10.10.0.21", 3389, t0, rulestest.State("REJ"))}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulestest.Summary(rulestest.Run(newDet(t, Config{}, m), tc.recs, 0)); got != tc.want {
				t.Errorf("got\n%swant\n%s", got, tc.want)
			}
		})
	}
	// Without a baseline there is no "new" pair.
	if alerts := rulestest.Run(newDet(t, Config{}, nil), []event.Record{session("10.10.3.21", "10.10.0.21", t0)}, 0); len(alerts) != 0 {
		t.Errorf("no baseline: %s", rulestest.Summary(alerts))
	}
	off := false
	if alerts := rulestest.Run(newDet(t, Config{NewPairs: &off}, m), []event.Record{session("10.10.3.21", "10.10.0.21", t0)}, 0); len(alerts) != 0 {
		t.Errorf("new_pairs off: %s", rulestest.Summary(alerts))
	}
}

func TestBounded(t *testing.T) {
	d := newDet(t, Config{MaxSources: 2, MaxTargets: 5}, nil)
	var recs []event.Record
	for s := range 3 {
		recs = append(recs, scan(fmt.Sprintf("10.10.8.%d", s+1), 8, t0, time.Second, "REJ")...)
	}
	rulestest.Run(d, rulestest.Sorted(recs), 0)
	stats := map[string]uint64{}
	for _, v := range d.Stats() {
		stats[v.Name] = v.Value
	}
	if stats["dropped_sources"] == 0 || stats["dropped_targets"] == 0 {
		t.Errorf("limits not counted: %v", stats)
	}
	if stats["sources"] != 0 {
		t.Errorf("state not expired by the final tick: %v", stats)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]Config{
		"window":  {Window: time.Second},
		"ratio":   {MinFailedRatio: 2},
		"targets": {MinTargets: 1},
	} {
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), map[string]string{"window": "window:", "ratio": "min_failed_ratio:", "targets": "min_targets:"}[name]) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func TestGolden(t *testing.T) {
	alerts := rulestest.Run(newDet(t, Config{}, nil), scan("10.10.3.200", 12, time.Date(2026, 4, 8, 3, 0, 0, 0, jst), time.Second, "REJ"), 0)
	rulestest.Golden(t, filepath.Join("testdata", "golden", "crafted_night_scan.alerts.ndjson"), alerts)
	_ = netip.Addr{}
}
