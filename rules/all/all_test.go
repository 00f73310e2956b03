package all

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mamori/rules"
)

// TestRegistry fails when a rule package under rules/ is not registered,
// lacks its doc.go, README.md (with the required sections) or a golden
// alert file, or when ids are not unique kebab-case.
func TestRegistry(t *testing.T) {
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, d := range dirs {
		if d.IsDir() && d.Name() != "all" && d.Name() != "rulestest" {
			pkgs = append(pkgs, d.Name())
		}
	}
	if len(pkgs) < 6 {
		t.Fatalf("only %d rule packages found", len(pkgs))
	}
	reg := Rules()
	seen := map[string]bool{}
	for _, r := range reg {
		if seen[r.Meta.ID] {
			t.Errorf("rule id %q twice", r.Meta.ID)
		}
		seen[r.Meta.ID] = true
		if r.Meta.ID != strings.ToLower(r.Meta.ID) || strings.ContainsAny(r.Meta.ID, "_ ") {
			t.Errorf("rule id %q is not kebab-case", r.Meta.ID)
		}
		if r.Meta.Message[0] == "" || r.Meta.Message[1] == "" || r.Meta.Severity < rules.Low || r.Meta.Severity > rules.Critical {
			t.Errorf("%s: incomplete Meta", r.Meta.ID)
		}
		for _, id := range r.Meta.Technique {
			if rules.TechniqueName(id) == "" {
				t.Errorf("%s: technique %s has no name", r.Meta.ID, id)
			}
		}
	}
	if len(reg) != len(pkgs) {
		t.Errorf("%d packages %v, %d rules registered", len(pkgs), pkgs, len(reg))
	}
	for _, p := range pkgs {
		for _, f := range []string{"doc.go", "README.md"} {
			if _, err := os.Stat(filepath.Join("..", p, f)); err != nil {
				t.Errorf("rules/%s lacks %s", p, f)
			}
		}
		readme, _ := os.ReadFile(filepath.Join("..", p, "README.md"))
		for _, sec := range []string{"## Name", "## Description", "## Detects", "## Configuration", "## Metrics", "## Limits"} {
			if !strings.Contains(string(readme), sec) {
				t.Errorf("rules/%s/README.md lacks %q", p, sec)
			}
		}
		goldens, _ := filepath.Glob(filepath.Join("..", p, "testdata", "golden", "*.alerts.ndjson"))
		if len(goldens) == 0 {
			t.Errorf("rules/%s has no golden alert file", p)
		}
	}
}

func TestDetectors(t *testing.T) {
	var site rules.Site
	ds, err := Detectors(DefaultConfig(), site, nil)
	if err != nil || len(ds) != len(Rules()) {
		t.Fatalf("%d detectors, %v", len(ds), err)
	}
	c := DefaultConfig()
	c.Disable = []string{"segment-policy", "night-beacon"}
	ds, _ = Detectors(c, site, nil)
	for _, d := range ds {
		if slices.Contains(c.Disable, d.ID) {
			t.Errorf("%s not disabled", d.ID)
		}
	}
	c.Disable = []string{"no-such-rule"}
	c.RDPScan.MinTargets = 1
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), `disable.0: unknown rule "no-such-rule"`) || !strings.Contains(err.Error(), "rdp_scan.min_targets:") {
		t.Errorf("Validate: %v", err)
	}
}
