package ebpf

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Unlimited is the Limit of a flow that is never cut off.
const Unlimited Limit = -1

// Limit is a per-flow cutoff in bytes. In configuration it is a number of
// bytes, optionally with a unit (KiB, MiB, GiB, KB, MB, GB), or "unlimited".
type Limit int64

// UnmarshalText parses "1MiB", "65536", "0" or "unlimited".
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalText writes the limit in bytes, or "unlimited".
func (l Limit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l Limit) String() string {
	if l < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(int64(l), 10)
}

// bytes is the limit as the kernel program stores it (~0 for none).
func (l Limit) bytes() uint64 {
	if l < 0 {
		return math.MaxUint64
	}
	return uint64(l)
}

var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseLimit parses a byte count with an optional unit, or "unlimited".
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "unlimited" || s == "none" {
		return Unlimited, nil
	}
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a byte count such as 1MiB, 65536 or unlimited", s)
	}
	return Limit(n * mult), nil
}

// Config is the kernel flow counter's configuration. A zero field means the
// default given in its comment.
type Config struct {
	// Disabled leaves the program out: every packet is copied to user space
	// and no kernel counters are kept.
	Disabled bool `yaml:"disabled"`
	// Cutoff is how many bytes of a flow (both directions together) are
	// copied to user space; after it only TCP SYN, FIN and RST packets are,
	// while the kernel still counts every packet. Defaults to 1 MiB; 0 means
	// the default; "unlimited" turns the cutoff off (counting goes on).
	Cutoff Limit `yaml:"cutoff"`
	// Ports overrides Cutoff for flows with either port, e.g. 3389:
	// unlimited for RDP. Host overrides win over port overrides; where
	// several ports (or hosts) of a flow match, the lowest limit counts.
	Ports map[uint16]Limit `yaml:"cutoff_ports"`
	// Hosts overrides Cutoff for flows to or from an address, e.g. the
	// nightly backup target: 0.
	Hosts map[string]Limit `yaml:"cutoff_hosts"`
	// MaxFlows is the size of the kernel's flow map; past it the least
	// recently used flow is forgotten (its counts start again if it comes
	// back). Defaults to 262,144 (about 34 MiB of kernel memory).
	MaxFlows int `yaml:"max_flows"`
}

// DefaultCutoff is Config.Cutoff's default.
const DefaultCutoff Limit = 1 << 20

// Limits of the override maps (their kernel map sizes).
const (
	maxPortOverrides = 1024
	maxHostOverrides = 4096
)

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Cutoff: DefaultCutoff, MaxFlows: 1 << 18}
}

// Validate checks the configuration; errors read "key: reason".
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	if c.Cutoff == 0 {
		c.Cutoff = d.Cutoff
	}
	if c.Cutoff < Unlimited {
		errs = append(errs, fmt.Errorf("cutoff: must be a byte count or unlimited, got %d", c.Cutoff))
	}
	switch {
	case c.MaxFlows == 0:
		c.MaxFlows = d.MaxFlows
	case c.MaxFlows < 0 || c.MaxFlows > 1<<24:
		errs = append(errs, fmt.Errorf("max_flows: must be between 1 and %d, got %d", 1<<24, c.MaxFlows))
	}
	if len(c.Ports) > maxPortOverrides {
		errs = append(errs, fmt.Errorf("cutoff_ports: at most %d overrides, got %d", maxPortOverrides, len(c.Ports)))
	}
	for p, l := range c.Ports {
		if l < Unlimited {
			errs = append(errs, fmt.Errorf("cutoff_ports: %d: must be a byte count or unlimited", p))
		}
	}
	if len(c.Hosts) > maxHostOverrides {
		errs = append(errs, fmt.Errorf("cutoff_hosts: at most %d overrides, got %d", maxHostOverrides, len(c.Hosts)))
	}
	for h, l := range c.Hosts {
		if _, err := netip.ParseAddr(h); err != nil {
			errs = append(errs, fmt.Errorf("cutoff_hosts: %q is not an IP address", h))
		}
		if l < Unlimited {
			errs = append(errs, fmt.Errorf("cutoff_hosts: %s: must be a byte count or unlimited", h))
		}
	}
	return c, errors.Join(errs...)
}

// limits is the Go mirror of the kernel's override lookup.
type limits struct {
	def   uint64
	ports map[uint16]uint64
	hosts map[[16]byte]uint64
}

func newLimits(c Config) limits {
	l := limits{def: c.Cutoff.bytes(), ports: map[uint16]uint64{}, hosts: map[[16]byte]uint64{}}
	for p, v := range c.Ports {
		l.ports[p] = v.bytes()
	}
	for h, v := range c.Hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			l.hosts[a.As16()] = v.bytes()
		}
	}
	return l
}

// of is the cutoff of a flow: the lowest matching host override, else the
// lowest matching port override, else the default (flowcount.c limit_for).
func (l *limits) of(k *Key) uint64 {
	best, found := uint64(0), false
	pick := func(v uint64, ok bool) {
		if ok && (!found || v < best) {
			best, found = v, true
		}
	}
	va, oka := l.hosts[k.A]
	pick(va, oka)
	vb, okb := l.hosts[k.B]
	pick(vb, okb)
	if found {
		return best
	}
	pa, okpa := l.ports[k.PortA]
	pick(pa, okpa)
	pb, okpb := l.ports[k.PortB]
	pick(pb, okpb)
	if found {
		return best
	}
	return l.def
}
