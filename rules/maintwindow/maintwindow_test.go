package maintwindow

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
servers:
  domain_controller: [10.10.0.10]
  pacs: [10.20.3.5]
maintenance:
  - vendor: ct-vendor
    external: [198.51.100.7, remote.ct-vendor.example]
    via: 10.10.9.5
    reach: [10.20.3.0/24]
    windows:
      - days: [tue, thu]
        start: "13:00"
        end: "17:00"
      - days: sat
        start: "22:00"
        end: "02:00"
  - vendor: lab-vendor
    external: [192.0.2.0/28]
    reach: [10.30.1.7]
    windows:
      - {days: weekdays, start: "09:00", end: "18:00"}
`

var jst = time.FixedZone("JST", 9*3600)

// local parses a Tokyo time; 2026-04-07 is a Tuesday.
func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, jst)
	if err != nil {
		panic(err)
	}
	return t
}

func newDet(t *testing.T, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg, rulestest.Site(t, site), nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMaintenance(t *testing.T) {
	vpnIn := func(at string) event.Record {
		return rulestest.Flow("198.51.100.7", "10.10.9.5", 443, local(at), rulestest.Dur(time.Hour))
	}
	jump := func(dst, at string) event.Record {
		return rulestest.Flow("10.10.9.5", dst, 3389, local(at), rulestest.Dur(30*time.Minute))
	}
	for _, tc := range []struct {
		name string
		recs []event.Record
		want string // "action sev=N" per alert, joined by |
	}{
		{"inside the window", []event.Record{vpnIn("2026-04-07 14:00"), jump("10.20.3.5", "2026-04-07 14:01")}, ""},
		{"grace before the window", []event.Record{vpnIn("2026-04-07 12:50")}, ""},
		{"outside: wednesday", []event.Record{vpnIn("2026-04-08 14:00"), jump("10.20.3.5", "2026-04-08 14:01")}, "vendor_outside_window sev=3|vendor_outside_window sev=3"}, // first raise, final update with both hosts
		{"outside: tuesday evening", []event.Record{vpnIn("2026-04-07 17:30")}, "vendor_outside_window sev=3"},
		{"saturday night window into sunday", []event.Record{vpnIn("2026-04-12 01:30")}, ""},
		{"sunday night is not a window", []event.Record{vpnIn("2026-04-12 23:30")}, "vendor_outside_window sev=4"},
		{"started inside, runs past the end", []event.Record{rulestest.Flow("198.51.100.7", "10.10.9.5", 443, local("2026-04-07 16:30"), rulestest.Dur(3*time.Hour))}, ""},
		{"via host outside the window (VPN router hides the vendor)", []event.Record{jump("10.20.3.9", "2026-04-09 03:00")}, "vendor_outside_window sev=4"},
		{"bypassing the jump host", []event.Record{rulestest.Flow("198.51.100.7", "10.20.3.5", 22, local("2026-04-07 14:00"))}, "vendor_bypass sev=4"},
		{"by name", func() []event.Record {
			f := rulestest.Flow("10.20.3.5", "203.0.113.50", 443, local("2026-04-07 14:00"))
			return sni(f, "remote.ct-vendor.example")
		}(), "vendor_bypass sev=4"},
		{"jump host to an unlisted host", []event.Record{vpnIn("2026-04-07 14:00"), jump("10.40.0.8", "2026-04-07 14:05")}, "vendor_unlisted_host sev=3"},
		{"jump host to the domain controller", []event.Record{jump("10.10.0.10", "2026-04-08 03:00")}, ""},
		{"no via: unlisted host", []event.Record{rulestest.Flow("192.0.2.3", "10.30.1.8", 443, local("2026-04-07 10:00"))}, "vendor_unlisted_host sev=3"},
		{"no via: listed host in window", []event.Record{rulestest.Flow("192.0.2.3", "10.30.1.7", 443, local("2026-04-07 10:00"))}, ""},
		{"no via: weekend", []event.Record{rulestest.Flow("10.30.1.7", "192.0.2.3", 443, local("2026-04-11 10:00"))}, "vendor_outside_window sev=3"},
		{"one episode for a night of work", []event.Record{vpnIn("2026-04-08 02:00"), jump("10.20.3.5", "2026-04-08 02:01"), jump("10.20.3.6", "2026-04-08 02:20"), jump("10.20.3.5", "2026-04-08 02:40")}, "vendor_outside_window sev=4|vendor_outside_window sev=4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := rulestest.Run(newDet(t, Config{}), tc.recs, 0)
			var got []string
			for _, a := range alerts {
				got = append(got, fmt.Sprintf("%s sev=%d", a.Action, a.Severity))
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
			if len(alerts) > 1 && alerts[0].AlertID() != alerts[len(alerts)-1].AlertID() {
				t.Error("one episode, one id")
			}
		})
	}
}

type tlsRec struct {
	event.Base
	sni string
}

func (r *tlsRec) Dataset() string                               { return "mamori.tls" }
func (r *tlsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *tlsRec) ServerName() string                            { return r.sni }

func sni(f *event.Flow, name string) []event.Record {
	r := &tlsRec{sni: name}
	r.FlowID, r.Protocol, r.Timestamp = f.ID, "tls", f.Start
	return []event.Record{r, f}
}

func TestGolden(t *testing.T) {
	recs := []event.Record{rulestest.Flow("198.51.100.7", "10.10.9.5", 443, local("2026-04-08 02:00"), rulestest.Dur(time.Hour)),
		rulestest.Flow("10.10.9.5", "10.20.3.5", 3389, local("2026-04-08 02:01"), rulestest.Dur(30*time.Minute))}
	rulestest.Golden(t, filepath.Join("testdata", "golden", "crafted_night_session.alerts.ndjson"), rulestest.Run(newDet(t, Config{}), recs, 0))
}
