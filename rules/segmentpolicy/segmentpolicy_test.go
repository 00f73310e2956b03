package segmentpolicy

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
	"mamori/rules/rulestest"
)

const site = `
timezone: Asia/Tokyo
networks: {internal: [10.0.0.0/8]}
segments:
  - {name: his, cidrs: [10.10.0.0/16]}
  - {name: department, cidrs: [10.20.0.0/16]}
  - {name: devices, cidrs: [10.30.0.0/16]}
segment_policy:
  allow:
    - {from: department, to: his, ports: [443, "8000-8080"], proto: tcp}
    - {from: "*", to: his, ports: [53], proto: udp}
    - {from: devices, to: his, ports: [104, 2575]}
`

var t0 = time.Date(2026, 4, 8, 14, 0, 0, 0, time.FixedZone("JST", 9*3600))

func newDet(t *testing.T, y string) *Detector {
	t.Helper()
	d, err := New(Config{}, rulestest.Site(t, y), nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []event.Record
		want string
	}{
		{"allowed port", []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 443, t0)}, ""},
		{"allowed range", []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 8080, t0)}, ""},
		{"any segment to DNS", []event.Record{rulestest.Flow("10.30.1.5", "10.10.0.10", 53, t0, rulestest.UDP())}, ""},
		{"any proto for devices", []event.Record{rulestest.Flow("10.30.1.5", "10.10.3.5", 104, t0)}, ""},
		{"same segment", []event.Record{rulestest.Flow("10.10.1.5", "10.10.0.20", 445, t0)}, ""},
		{"outside the segments", []event.Record{rulestest.Flow("10.99.1.5", "10.10.0.20", 445, t0)}, ""},
		{"denied: SMB from department to HIS", []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 445, t0)}, "segment/department>his:445/tcp sev=2"},
		{"denied: reverse of an allowed line", []event.Record{rulestest.Flow("10.10.0.20", "10.20.1.5", 443, t0)}, "segment/his>department:443/tcp sev=2"},
		{"denied but refused", []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 3389, t0, rulestest.State("REJ"))}, "segment/department>his:3389/tcp sev=1"},
		{"denied at night", []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 445, t0.Add(-12*time.Hour))}, "segment/department>his:445/tcp sev=3"},
		{"many hosts, one episode", func() (r []event.Record) {
			for i := range 50 {
				r = append(r, rulestest.Flow(fmt.Sprintf("10.20.1.%d", i+1), "10.10.0.20", 445, t0.Add(time.Duration(i)*time.Second)))
			}
			return
		}(), "segment/department>his:445/tcp sev=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := rulestest.Run(newDet(t, site), tc.recs, 0)
			keys := rulestest.Keys(alerts)
			var got string
			if len(keys) > 0 {
				got = fmt.Sprintf("%s sev=%d", keys[0], alerts[0].Severity)
			}
			if len(keys) > 1 || got != tc.want {
				t.Errorf("got %v (%s), want %q", keys, got, tc.want)
			}
			if len(alerts) > 6 {
				t.Errorf("%d alerts for one episode", len(alerts))
			}
		})
	}
}

// TestNoPolicyNoAlerts: without segment_policy the rule is silent.
func TestNoPolicyNoAlerts(t *testing.T) {
	y := site[:strings.Index(site, "segment_policy:")]
	if alerts := rulestest.Run(newDet(t, y), []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 445, t0)}, 0); len(alerts) != 0 {
		t.Errorf("alerts without a policy: %s", rulestest.Summary(alerts))
	}
}

func TestGolden(t *testing.T) {
	recs := []event.Record{rulestest.Flow("10.20.1.5", "10.10.0.20", 445, t0), rulestest.Flow("10.20.1.6", "10.10.0.21", 445, t0.Add(time.Minute))}
	rulestest.Golden(t, filepath.Join("testdata", "golden", "crafted_smb_across.alerts.ndjson"), rulestest.Run(newDet(t, site), recs, 0))
}
