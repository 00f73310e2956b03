package baseline

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds the model and says how the live service learns. A zero
// field means the default.
type Config struct {
	// File is where the live service keeps the baseline. Defaults to
	// baseline.json.gz under the data directory.
	File string `yaml:"file"`
	// LearnFor is how long (packet time) the live service learns before it
	// starts detecting with the baseline. Defaults to 7 days.
	LearnFor time.Duration `yaml:"learn_for"`
	// SaveEvery is how often (packet time) the live service saves the
	// baseline. Defaults to 1 hour.
	SaveEvery time.Duration `yaml:"save_every"`
	// HoldBack is how long observations wait before they are learned, so
	// that those of alerted traffic can be dropped. Defaults to 10 minutes.
	HoldBack time.Duration `yaml:"hold_back"`
	// MaxHoldBack bounds the observations waiting. Defaults to 200,000.
	MaxHoldBack int `yaml:"max_hold_back"`

	// MaxHosts bounds the hosts. Defaults to 65,536.
	MaxHosts int `yaml:"max_hosts"`
	// MaxEdges bounds the communication matrix. Defaults to 262,144.
	MaxEdges int `yaml:"max_edges"`
	// MaxPeers bounds the (internal host, external peer) pairs. Defaults
	// to 131,072.
	MaxPeers int `yaml:"max_peers"`
	// MaxNames bounds the (internal host, name) pairs. Defaults to 131,072.
	MaxNames int `yaml:"max_names"`
	// MaxLinks bounds DICOM AE pairs and HL7 links (each). Defaults to 8,192.
	MaxLinks int `yaml:"max_links"`
	// MaxServices bounds the services kept per host. Defaults to 64.
	MaxServices int `yaml:"max_services"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		File:        "",
		LearnFor:    7 * 24 * time.Hour,
		SaveEvery:   time.Hour,
		HoldBack:    10 * time.Minute,
		MaxHoldBack: 200_000,
		MaxHosts:    65_536,
		MaxEdges:    262_144,
		MaxPeers:    131_072,
		MaxNames:    131_072,
		MaxLinks:    8_192,
		MaxServices: 64,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.LearnFor == 0 {
		c.LearnFor = d.LearnFor
	}
	if c.SaveEvery == 0 {
		c.SaveEvery = d.SaveEvery
	}
	if c.HoldBack == 0 {
		c.HoldBack = d.HoldBack
	}
	for _, p := range []struct {
		v *int
		d int
	}{
		{&c.MaxHoldBack, d.MaxHoldBack}, {&c.MaxHosts, d.MaxHosts}, {&c.MaxEdges, d.MaxEdges},
		{&c.MaxPeers, d.MaxPeers}, {&c.MaxNames, d.MaxNames}, {&c.MaxLinks, d.MaxLinks},
		{&c.MaxServices, d.MaxServices},
	} {
		if *p.v == 0 {
			*p.v = p.d
		}
	}
	return c
}

// Validate reports bad values as "key: reason", joined.
func (c Config) Validate() error {
	var errs []error
	for _, p := range []struct {
		key string
		v   int
	}{
		{"max_hold_back", c.MaxHoldBack}, {"max_hosts", c.MaxHosts}, {"max_edges", c.MaxEdges},
		{"max_peers", c.MaxPeers}, {"max_names", c.MaxNames}, {"max_links", c.MaxLinks},
		{"max_services", c.MaxServices},
	} {
		if p.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must be > 0", p.key))
		}
	}
	for _, p := range []struct {
		key string
		v   time.Duration
	}{{"learn_for", c.LearnFor}, {"save_every", c.SaveEvery}, {"hold_back", c.HoldBack}} {
		if p.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", p.key))
		}
	}
	if c.SaveEvery > 0 && c.SaveEvery < time.Minute {
		errs = append(errs, errors.New("save_every: must be at least 1m"))
	}
	return errors.Join(errs...)
}
