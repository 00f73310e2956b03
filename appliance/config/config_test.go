package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto/all"
)

func TestDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Flow.TCPTimeout != 5*time.Minute || c.Sensor.DataDir != "/var/lib/mamori" || len(c.Networks.Internal) != 6 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

// TestDefaultsDocumentCode checks that the values written in default.yaml
// are the packages' own defaults: the file documents the code, not a
// second set of numbers.
func TestDefaultsDocumentCode(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if want := all.DefaultConfig(); !reflect.DeepEqual(c.Protocols, want) {
		t.Errorf("default.yaml protocols:\n%+v\ncode's defaults:\n%+v", c.Protocols, want)
	}
	if want := flow.DefaultConfig(); !reflect.DeepEqual(c.Flow, want) {
		t.Errorf("default.yaml flow:\n%+v\ncode's defaults:\n%+v", c.Flow, want)
	}
}

func TestOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mamori.yaml")
	os.WriteFile(path, []byte("sensor:\n  name: his-01\nnetworks:\n  internal: [10.20.0.0/16]\nflow:\n  udp_timeout: 30s\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sensor.Name != "his-01" || c.Flow.UDPTimeout != 30*time.Second || c.Flow.TCPTimeout != 5*time.Minute {
		t.Errorf("got %+v", c)
	}
	if len(c.Networks.Internal) != 1 || c.Networks.Internal[0] != netip.MustParsePrefix("10.20.0.0/16") {
		t.Errorf("internal networks %v: the file's list must replace the default list", c.Networks.Internal)
	}
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(empty, nil, 0o600)
	if _, err := Load(empty); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

// TestErrorsNameTheLine checks that a broken configuration is refused with
// the file, line and key at fault.
func TestErrorsNameTheLine(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":         {"sensor:\n  name: x\n  nmae: y\n", "mamori.yaml:3: field nmae not found"},
		"bad duration":        {"flow:\n  tcp_timeout: 5 minutes\n", "mamori.yaml:2:"},
		"timeout too short":   {"sensor:\n  name: x\nflow:\n  max_flows: 10\n  udp_timeout: 10ms\n", "mamori.yaml:5: flow.udp_timeout: must be at least 1s"},
		"negative bound":      {"flow:\n  max_flows: -1\n", "mamori.yaml:2: flow.max_flows: must be > 0"},
		"bad prefix":          {"networks:\n  internal:\n    - 10.0.0.0/33\n", "mamori.yaml:3:"},
		"bad namespace":       {"sensor:\n  namespace: Hospital-A\n", "mamori.yaml:2: sensor.namespace"},
		"unknown network key": {"networks:\n  internl: [10.0.0.0/8]\n", "mamori.yaml:2: field internl not found"},
		"not yaml":            {"sensor: [\n", "mamori.yaml:"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mamori.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o600)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Default())
	f.Add([]byte("flow:\n  tcp_timeout: 1s\n"))
	f.Add([]byte("networks:\n  internal: [::/0]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data, nil)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error without file name: %v", err)
		}
	})
}
