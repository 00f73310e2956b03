package rdpscan

import (
	"errors"
	"time"
)

// Config tunes the rule. A zero field means the default.
type Config struct {
	// Ports are the TCP ports RDP is expected on. Defaults to [3389].
	Ports []uint16 `yaml:"ports"`
	// Window is the sliding window of a scan and of a brute force.
	// Defaults to 10m.
	Window time.Duration `yaml:"window"`
	// MinTargets is how many distinct hosts one source must try. Defaults
	// to 10.
	MinTargets int `yaml:"min_targets"`
	// LongWindow and LongMinTargets catch slow scans: LongMinTargets hosts
	// within LongWindow (with the same failed share). Default 1h and twice
	// MinTargets.
	LongWindow     time.Duration `yaml:"long_window"`
	LongMinTargets int           `yaml:"long_min_targets"`
	// MinFailedRatio is the share of targets whose every attempt failed
	// (no answer, refused, reset) or was only a probe (short, without a
	// real session). Defaults to 0.6.
	MinFailedRatio float64 `yaml:"min_failed_ratio"`
	// BruteAttempts is how many short RDP sessions from one source to one
	// host make a brute force. Defaults to 10.
	BruteAttempts int `yaml:"brute_attempts"`
	// ShortSession is the longest a session may last to count as a probe
	// or a failed logon. Defaults to 30s.
	ShortSession time.Duration `yaml:"short_session"`
	// NewPairs raises an alert for an RDP session between a pair the
	// baseline never saw (admins excepted). Defaults to true; set
	// new_pairs: false to turn it off.
	NewPairs *bool `yaml:"new_pairs"`
	// MaxSources bounds the sources tracked. Defaults to 16,384.
	MaxSources int `yaml:"max_sources"`
	// MaxTargets bounds the targets tracked per source. Defaults to 4,096.
	MaxTargets int `yaml:"max_targets"`
	// MaxPairs bounds the (source, target) pairs tracked for brute force.
	// Defaults to 16,384.
	MaxPairs int `yaml:"max_pairs"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	t := true
	return Config{
		Ports: []uint16{3389}, Window: 10 * time.Minute, MinTargets: 10, MinFailedRatio: 0.6,
		LongWindow: time.Hour, LongMinTargets: 20,
		BruteAttempts: 10, ShortSession: 30 * time.Second, NewPairs: &t,
		MaxSources: 16_384, MaxTargets: 4_096, MaxPairs: 16_384,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Ports == nil {
		c.Ports = d.Ports
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.MinTargets == 0 {
		c.MinTargets = d.MinTargets
	}
	if c.LongWindow == 0 {
		c.LongWindow = max(d.LongWindow, c.Window)
	}
	if c.LongMinTargets == 0 {
		c.LongMinTargets = 2 * c.MinTargets
	}
	if c.MinFailedRatio == 0 {
		c.MinFailedRatio = d.MinFailedRatio
	}
	if c.BruteAttempts == 0 {
		c.BruteAttempts = d.BruteAttempts
	}
	if c.ShortSession == 0 {
		c.ShortSession = d.ShortSession
	}
	if c.NewPairs == nil {
		c.NewPairs = d.NewPairs
	}
	if c.MaxSources == 0 {
		c.MaxSources = d.MaxSources
	}
	if c.MaxTargets == 0 {
		c.MaxTargets = d.MaxTargets
	}
	if c.MaxPairs == 0 {
		c.MaxPairs = d.MaxPairs
	}
	return c
}

// Validate reports bad values as "key: reason", joined.
func (c Config) Validate() error {
	var errs []error
	if c.Window < 0 || (c.Window > 0 && c.Window < 10*time.Second) {
		errs = append(errs, errors.New("window: must be at least 10s"))
	}
	if c.MinTargets < 0 || c.MinTargets == 1 {
		errs = append(errs, errors.New("min_targets: must be at least 2"))
	}
	if c.LongWindow < 0 || (c.LongWindow > 0 && c.Window > 0 && c.LongWindow < c.Window) {
		errs = append(errs, errors.New("long_window: must be at least window"))
	}
	if c.LongMinTargets < 0 || c.LongMinTargets == 1 {
		errs = append(errs, errors.New("long_min_targets: must be at least 2"))
	}
	if c.MinFailedRatio < 0 || c.MinFailedRatio > 1 {
		errs = append(errs, errors.New("min_failed_ratio: must be between 0 and 1"))
	}
	if c.BruteAttempts < 0 || c.BruteAttempts == 1 {
		errs = append(errs, errors.New("brute_attempts: must be at least 2"))
	}
	if c.ShortSession < 0 {
		errs = append(errs, errors.New("short_session: must not be negative"))
	}
	for _, p := range []struct {
		k string
		v int
	}{{"max_sources", c.MaxSources}, {"max_targets", c.MaxTargets}, {"max_pairs", c.MaxPairs}} {
		if p.v < 0 {
			errs = append(errs, errors.New(p.k+": must be > 0"))
		}
	}
	return errors.Join(errs...)
}
