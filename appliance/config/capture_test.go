package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/sensor/afpacket"
	"mamori/sensor/ebpf"
)

// TestCapture checks the capture section's defaults and a file that sets
// byte counts with units, "unlimited" and per-host overrides.
func TestCapture(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	cp := c.Capture
	def := afpacket.DefaultConfig()
	if cp.BlockSize != def.BlockSize || cp.BlockCount != def.BlockCount || cp.FrameSize != def.FrameSize || cp.BlockTimeout != def.BlockTimeout ||
		cp.EBPF.Cutoff != ebpf.DefaultCutoff || cp.HealthInterval != 10*time.Second || cp.Workers != 0 {
		t.Fatalf("defaults: %+v", cp)
	}
	path := filepath.Join(t.TempDir(), "mamori.yaml")
	os.WriteFile(path, []byte(`capture:
  interface: enp3s0f1
  workers: 4
  ebpf:
    cutoff: 256KiB
    cutoff_ports: {3389: unlimited, 22: 1MB}
    cutoff_hosts: {10.1.2.3: 0, "2001:db8::9": 64KiB}
`), 0o600)
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Capture.EBPF
	if c.Capture.Interface != "enp3s0f1" || c.Capture.Workers != 4 || e.Cutoff != 256<<10 ||
		e.Ports[3389] != ebpf.Unlimited || e.Ports[22] != 1000000 || e.Hosts["10.1.2.3"] != 0 || e.Hosts["2001:db8::9"] != 64<<10 {
		t.Fatalf("got %+v", c.Capture)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"ring":    {"capture:\n  block_size: 1000\n", ":2: capture.block_size: must be a multiple of the page size"},
		"link":    {"capture:\n  link:\n    mtu: 10\n", ":3: capture.link.mtu: must be between 68 and 65535"},
		"host":    {"capture:\n  ebpf:\n    cutoff_hosts: {backup: 0}\n", "capture.ebpf.cutoff_hosts: \"backup\" is not an IP address"},
		"limit":   {"capture:\n  ebpf:\n    cutoff: lots\n", "\"lots\" is not a byte count"},
		"health":  {"capture:\n  health_interval: 1ms\n", ":2: capture.health_interval: must be between 1s and 1h"},
		"unknown": {"capture:\n  ring_size: 5\n", ":2: field ring_size not found"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o600)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
