package flow

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds the flow table and sets its timeouts. A zero field means the
// default given in its comment. All timeouts run on packet time.
type Config struct {
	// MaxFlows is the most flows tracked at once; past it the least recently
	// queued flow is evicted and counted. Defaults to 1,048,576.
	MaxFlows int `yaml:"max_flows"`
	// TCPTimeout is the idle timeout of established and partial TCP flows.
	// Defaults to 5m (Zeek's tcp_inactivity_timeout).
	TCPTimeout time.Duration `yaml:"tcp_timeout"`
	// TCPAttemptTimeout is the idle timeout of TCP flows that never got past
	// the originator's SYN. Defaults to 30s.
	TCPAttemptTimeout time.Duration `yaml:"tcp_attempt_timeout"`
	// TCPClosedTimeout is how long a closed (FIN both ways) or reset TCP flow
	// lingers for stray packets before its record is written. Defaults to 5s.
	TCPClosedTimeout time.Duration `yaml:"tcp_closed_timeout"`
	// UDPTimeout defaults to 1m; ICMPTimeout to 1m; OtherTimeout (other IP
	// protocols) to 1m.
	UDPTimeout   time.Duration `yaml:"udp_timeout"`
	ICMPTimeout  time.Duration `yaml:"icmp_timeout"`
	OtherTimeout time.Duration `yaml:"other_timeout"`
	// ActiveTimeout is how often a long-lived flow gets an interim record
	// (flow.final false). Defaults to 5m. Negative disables interim records.
	ActiveTimeout time.Duration `yaml:"active_timeout"`
	// MaxFragments bounds the table that attributes IP fragments to flows.
	// Defaults to 8192.
	MaxFragments int `yaml:"max_fragments"`
	// CommunityIDSeed is the Community ID seed. Defaults to 0, as everyone uses.
	CommunityIDSeed uint16 `yaml:"community_id_seed"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxFlows:          1 << 20,
		TCPTimeout:        5 * time.Minute,
		TCPAttemptTimeout: 30 * time.Second,
		TCPClosedTimeout:  5 * time.Second,
		UDPTimeout:        time.Minute,
		ICMPTimeout:       time.Minute,
		OtherTimeout:      time.Minute,
		ActiveTimeout:     5 * time.Minute,
		MaxFragments:      8192,
	}
}

// fragmentTimeout is how long a first fragment's flow stays known to later
// fragments (RFC 791's upper bound on reassembly is 15 s; Linux uses 30 s).
const fragmentTimeout = 30 * time.Second

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	fillInt := func(name string, v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			errs = append(errs, fmt.Errorf("%s: must be > 0, got %d", name, *v))
		}
	}
	fillDur := func(name string, v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < time.Second:
			errs = append(errs, fmt.Errorf("%s: must be at least 1s, got %s", name, *v))
		}
	}
	fillInt("max_flows", &c.MaxFlows, d.MaxFlows)
	if c.MaxFlows > 1<<30 {
		errs = append(errs, fmt.Errorf("max_flows: at most %d, got %d", 1<<30, c.MaxFlows))
	}
	fillInt("max_fragments", &c.MaxFragments, d.MaxFragments)
	fillDur("tcp_timeout", &c.TCPTimeout, d.TCPTimeout)
	fillDur("tcp_attempt_timeout", &c.TCPAttemptTimeout, d.TCPAttemptTimeout)
	fillDur("tcp_closed_timeout", &c.TCPClosedTimeout, d.TCPClosedTimeout)
	fillDur("udp_timeout", &c.UDPTimeout, d.UDPTimeout)
	fillDur("icmp_timeout", &c.ICMPTimeout, d.ICMPTimeout)
	fillDur("other_timeout", &c.OtherTimeout, d.OtherTimeout)
	if c.ActiveTimeout >= 0 {
		fillDur("active_timeout", &c.ActiveTimeout, d.ActiveTimeout)
	}
	return c, errors.Join(errs...)
}

// Validate reports the first problems with c, naming the fields by their
// configuration keys.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
