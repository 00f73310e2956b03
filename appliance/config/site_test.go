package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSiteFacts checks that the hospital's facts sit at the top level of
// the configuration (rules.Site inlined), with the rules: and baseline:
// sections, and that the bundled example loads.
func TestSiteFacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mamori.yaml")
	os.WriteFile(path, []byte(`
networks:
  internal: [10.0.0.0/8]
timezone: Asia/Tokyo
night: {start: "23:00"}
segments:
  - {name: his, cidrs: [10.10.0.0/16]}
admins: [10.10.5.5]
rules:
  rdp_scan:
    min_targets: 20
  disable: [segment-policy]
baseline:
  learn_for: 72h
`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	site, err := c.Site.WithInternal(c.Networks.Internal)
	if err != nil {
		t.Fatal(err)
	}
	if site.Segment(netip.MustParseAddr("10.10.1.1")) != "his" || !site.IsAdmin(netip.MustParseAddr("10.10.5.5")) {
		t.Error("site facts not decoded")
	}
	night := time.Date(2026, 4, 1, 14, 30, 0, 0, time.UTC) // 23:30 JST
	if !site.IsNight(night) || site.IsNight(night.Add(-time.Hour)) {
		t.Error("night start not applied (end must stay at the default)")
	}
	if c.Rules.RDPScan.MinTargets != 20 || c.Rules.Disable[0] != "segment-policy" || c.Baseline.LearnFor != 72*time.Hour {
		t.Errorf("sections: %+v %+v", c.Rules, c.Baseline)
	}
}

func TestSiteErrorsNameTheLine(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"site field":        {"sensor:\n  name: x\nnight:\n  start: \"25:00\"\n", "mamori.yaml:4: night.start: \"25:00\" is not a time of day"},
		"nested site field": {"maintenance:\n  - vendor: v\n    via: 10.0.0.1\n    windows:\n      - {days: [tue, xyz], start: \"13:00\", end: \"17:00\"}\n", "mamori.yaml:5: maintenance.0.windows.0.days.1:"},
		"unknown top key":   {"timezon: UTC\n", "mamori.yaml:1: field timezon not found"},
		"rules section":     {"rules:\n  rdp_scan:\n    min_targets: 1\n", "mamori.yaml:3: rules.rdp_scan.min_targets: must be at least 2"},
		"rules unknown key": {"rules:\n  rdp_scan:\n    min_target: 5\n", "mamori.yaml:3: field min_target not found"},
		"baseline section":  {"baseline:\n  save_every: 10s\n", "mamori.yaml:2: baseline.save_every: must be at least 1m"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mamori.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o600)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestExampleHospital(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "hospital-500.yaml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	site, err := c.Site.WithInternal(c.Networks.Internal)
	if err != nil {
		t.Fatal(err)
	}
	if len(site.Vendors()) == 0 || !site.HasSegmentPolicy() || len(site.SegmentNames()) < 5 {
		t.Errorf("the example should show every kind of fact: %d vendors, %d segments", len(site.Vendors()), len(site.SegmentNames()))
	}
}
