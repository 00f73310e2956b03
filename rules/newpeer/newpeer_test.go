package newpeer

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
networks: {internal: [10.0.0.0/8]}
allowed_external:
  - from: 10.10.0.30
    to: [update.example.com, 203.0.113.0/24]
    ports: [443]
    proto: tcp
maintenance:
  - vendor: ct-vendor
    external: [198.51.100.7]
    via: 10.10.9.5
`

var (
	jst = time.FixedZone("JST", 9*3600)
	t0  = time.Date(2026, 4, 8, 14, 0, 0, 0, jst)
)

func newDet(t *testing.T, cfg Config, base baseline.View) *Detector {
	t.Helper()
	d, err := New(cfg, rulestest.Site(t, site), base)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tlsRec stands in for a TLS ClientHello record: ServerName is its SNI.
type tlsRec struct {
	event.Base
	sni string
}

func (r *tlsRec) Dataset() string                               { return "mamori.tls" }
func (r *tlsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *tlsRec) ServerName() string                            { return r.sni }

func withSNI(f *event.Flow, sni string) []event.Record {
	r := &tlsRec{sni: sni}
	r.FlowID, r.Protocol, r.Timestamp = f.ID, "tls", f.Start
	r.Source = netip.AddrPortFrom(f.Source.IP, f.Source.Port)
	r.Destination = netip.AddrPortFrom(f.Destination.IP, f.Destination.Port)
	return []event.Record{r, f}
}

func TestNewPeer(t *testing.T) {
	m := baseline.New(baseline.DefaultConfig(), jst, nil)
	var obs []baseline.Obs
	for _, r := range append(withSNI(rulestest.Flow("10.10.3.21", "192.0.2.80", 443, t0.Add(-72*time.Hour)), "portal.vendor-cloud.example"),
		rulestest.Flow("10.10.3.22", "192.0.2.90", 443, t0.Add(-72*time.Hour))) {
		obs = baseline.Extract(r, obs[:0])
		for i := range obs {
			m.Learn(&obs[i])
		}
	}
	night := time.Date(2026, 4, 8, 2, 0, 0, 0, jst)
	for _, tc := range []struct {
		name string
		recs []event.Record
		base baseline.View
		want string // "key sev=N", "" for none
	}{
		{"outbound https", []event.Record{rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0)}, nil, "peer/10.10.3.21>192.0.2.10 sev=2"},
		{"twice is one alert", []event.Record{rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0), rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0.Add(time.Minute))}, nil, "peer/10.10.3.21>192.0.2.10 sev=2"},
		{"inbound rdp", []event.Record{rulestest.Flow("192.0.2.66", "10.10.3.21", 3389, t0)}, nil, "peer/10.10.3.21>192.0.2.66 sev=4"},
		{"inbound noise nobody answered", []event.Record{rulestest.Flow("192.0.2.66", "10.10.3.21", 3389, t0, rulestest.State("S0"))}, nil, ""},
		{"outbound blocked", []event.Record{rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0, rulestest.State("S0"))}, nil, "peer/10.10.3.21>192.0.2.10 sev=1"},
		{"large upload at night", []event.Record{rulestest.Flow("10.10.3.21", "192.0.2.10", 443, night, rulestest.Bytes(50e6, 1e5), rulestest.Dur(10*time.Minute))}, nil, "peer/10.10.3.21>192.0.2.10 sev=4"},
		{"allowed by prefix", []event.Record{rulestest.Flow("10.10.0.30", "203.0.113.5", 443, t0)}, nil, ""},
		{"allowed by SNI", withSNI(rulestest.Flow("10.10.0.30", "192.0.2.44", 443, t0), "eu.update.example.com"), nil, ""},
		{"allowed name, wrong host", withSNI(rulestest.Flow("10.10.0.31", "192.0.2.44", 443, t0), "update.example.com"), nil, "peer/10.10.0.31>192.0.2.44 sev=2"},
		{"vendor address: maintenance rule's", []event.Record{rulestest.Flow("198.51.100.7", "10.10.9.5", 443, t0)}, nil, ""},
		{"in the baseline by address", []event.Record{rulestest.Flow("10.10.3.22", "192.0.2.90", 443, t0)}, m, ""},
		{"in the baseline by name (new CDN address)", withSNI(rulestest.Flow("10.10.3.21", "192.0.2.81", 443, t0), "static.vendor-cloud.example"), m, ""},
		{"baseline of another host", []event.Record{rulestest.Flow("10.10.3.21", "192.0.2.90", 443, t0)}, m, "peer/10.10.3.21>192.0.2.90 sev=2"},
		{"internal only", []event.Record{rulestest.Flow("10.10.3.21", "10.10.0.20", 445, t0)}, nil, ""},
		{"multicast", []event.Record{rulestest.Flow("10.10.3.21", "224.0.0.251", 5353, t0, rulestest.UDP())}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := rulestest.Run(newDet(t, Config{}, tc.base), tc.recs, 0)
			var got []string
			for _, a := range alerts {
				got = append(got, fmt.Sprintf("%s sev=%d", a.Key, a.Severity))
			}
			want := []string{}
			if tc.want != "" {
				want = append(want, tc.want)
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestSeverityRises: a blocked attempt is low; when the peer answers later
// the same alert is raised again, higher.
func TestSeverityRises(t *testing.T) {
	alerts := rulestest.Run(newDet(t, Config{}, nil), []event.Record{
		rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0, rulestest.State("S0")),
		rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0.Add(time.Minute)),
		rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0.Add(2*time.Minute)),
	}, 0)
	if len(alerts) != 2 || alerts[0].Severity != rules.Low || alerts[1].Severity != rules.Medium || alerts[0].AlertID() != alerts[1].AlertID() || alerts[1].Update != 1 {
		t.Fatalf("alerts:\n%s", rulestest.Summary(alerts))
	}
}

// TestNoFlood: a host that talks to 300 new peers gives a few separate
// alerts and one folded alert, updated as it grows.
func TestNoFlood(t *testing.T) {
	var recs []event.Record
	for i := range 300 {
		recs = append(recs, rulestest.Flow("10.10.3.21", fmt.Sprintf("192.0.%d.%d", 2+i/250, 1+i%250), 443, t0.Add(time.Duration(i)*5*time.Second)))
	}
	alerts := rulestest.Run(newDet(t, Config{}, nil), recs, 0)
	keys := rulestest.Keys(alerts)
	if len(keys) != 6 || keys[5] != "peers/10.10.3.21" || len(alerts) > 16 {
		t.Fatalf("%d alerts, keys %v", len(alerts), keys)
	}
	last := alerts[len(alerts)-1]
	if last.Evidence.Count != 295 || last.Action != "many_new_external_peers" {
		t.Errorf("folded alert counts %d (%s)", last.Evidence.Count, last.Action)
	}
}

func TestGolden(t *testing.T) {
	alerts := rulestest.Run(newDet(t, Config{}, nil), withSNI(rulestest.Flow("10.10.3.21", "192.0.2.10", 443, t0, rulestest.Bytes(20e6, 3e5)), "files.example.org"), 0)
	rulestest.Golden(t, filepath.Join("testdata", "golden", "crafted_upload.alerts.ndjson"), alerts)
}

// TestPairTable: IPv4 pairs (one word) and the others (their addresses)
// are told apart by both addresses in order, and each kind is bounded.
func TestPairTable(t *testing.T) {
	t0 := time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)
	a4, b4, c4 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("2001:db8::7")
	tests := []struct {
		name       string
		host, peer netip.Addr
		other      [][2]netip.Addr // pairs that must not find it
	}{
		{"ipv4", a4, b4, [][2]netip.Addr{{b4, a4}, {a4, c4}, {c4, b4}}},
		{"ipv6", a6, b6, [][2]netip.Addr{{b6, a6}, {a6, a6}}},
		{"mixed", a4, b6, [][2]netip.Addr{{b6, a4}, {a6, b6}, {a4, b4}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := newPairTable(time.Hour, 4)
			tab.Open(tc.host, tc.peer, event.Alert{Last: t0})
			tab.Mark(tc.peer, tc.host, t0) // the reverse pair, marked
			if tab.Get(tc.host, tc.peer) == nil || tab.Remark(tc.host, tc.peer, t0) {
				t.Fatal("the open pair is not found as open")
			}
			if tab.Get(tc.peer, tc.host) != nil || !tab.Remark(tc.peer, tc.host, t0) {
				t.Fatal("the marked reverse pair is not found as marked")
			}
			for _, o := range tc.other[1:] {
				if tab.Get(o[0], o[1]) != nil || tab.Remark(o[0], o[1], t0) {
					t.Errorf("%v > %v found", o[0], o[1])
				}
			}
			if tab.Len() != 2 {
				t.Errorf("Len %d, want 2", tab.Len())
			}
		})
	}
	tab := newPairTable(time.Hour, 2)
	for i := range 5 {
		tab.Mark(a4, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), t0.Add(time.Duration(i)*time.Minute))
		tab.Mark(a6, netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: byte(i)}), t0.Add(time.Duration(i)*time.Minute))
	}
	if tab.v4.Len() != 2 || tab.v6.Len() != 2 || tab.Evicted() != 6 {
		t.Errorf("held %d IPv4 and %d IPv6 pairs, evicted %d; want 2, 2, 6", tab.v4.Len(), tab.v6.Len(), tab.Evicted())
	}
	if tab.Expire(t0.Add(3 * time.Hour)); tab.Len() != 0 {
		t.Errorf("after expiry %d pairs left", tab.Len())
	}
}
