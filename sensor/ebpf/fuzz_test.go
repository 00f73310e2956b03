package ebpf

import (
	"testing"
)

// FuzzParseLimit feeds configuration text to ParseLimit: it must never
// panic, never return a negative limit other than Unlimited, and what it
// accepts must print back to the same value.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"1MiB", "0", "65536", "unlimited", "none", "10 KB", "1GiB", "-1", "9223372036854775807", "8EiB", "1.5MiB", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimit(s)
		if err != nil {
			return
		}
		if l < 0 && l != Unlimited {
			t.Fatalf("%q parsed to %d", s, l)
		}
		back, err := ParseLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("%q → %d → %q → %d, %v", s, l, l.String(), back, err)
		}
	})
}

// TestParseLimit checks units and refusals.
func TestParseLimit(t *testing.T) {
	for in, want := range map[string]Limit{"1MiB": 1 << 20, "64 KiB": 64 << 10, "1MB": 1000000, "0": 0, "unlimited": Unlimited, "2GiB": 2 << 30, "512B": 512} {
		if got, err := ParseLimit(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5", "1.5MiB", "lots", "99999999999GiB", "MiB"} {
		if _, err := ParseLimit(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestLimitsMirror checks the Go mirror of the kernel's override rules.
func TestLimitsMirror(t *testing.T) {
	l := newLimits(Config{Cutoff: 100, Ports: map[uint16]Limit{3389: Unlimited, 22: 50, 80: 70}, Hosts: map[string]Limit{"10.0.0.9": 0, "10.0.0.8": 500}})
	k := func(a, b string, pa, pb uint16) *Key {
		var x Key
		x.A, x.B = mustAddr(a), mustAddr(b)
		x.PortA, x.PortB = pa, pb
		return &x
	}
	for _, tc := range []struct {
		key  *Key
		want uint64
	}{
		{k("10.0.0.1", "10.0.0.2", 5000, 6000), 100},
		{k("10.0.0.1", "10.0.0.2", 5000, 3389), 1<<64 - 1},
		{k("10.0.0.1", "10.0.0.2", 22, 80), 50},    // the lower of two ports
		{k("10.0.0.1", "10.0.0.9", 5000, 3389), 0}, // a host wins over a port
		{k("10.0.0.8", "10.0.0.9", 5000, 6000), 0}, // the lower of two hosts
		{k("10.0.0.8", "10.0.0.2", 22, 6000), 500}, // a host wins even when higher
	} {
		if got := l.of(tc.key); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.key, got, tc.want)
		}
	}
}
