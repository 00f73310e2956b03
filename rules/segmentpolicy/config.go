package segmentpolicy

import (
	"errors"
	"time"
)

// Config tunes the rule. A zero field means the default.
type Config struct {
	// Quiet ends an episode after this long without a violation. Defaults
	// to 1h.
	Quiet time.Duration `yaml:"quiet"`
	// MaxEpisodes bounds the open episodes. Defaults to 4,096.
	MaxEpisodes int `yaml:"max_episodes"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Quiet: time.Hour, MaxEpisodes: 4096} }

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Quiet == 0 {
		c.Quiet = d.Quiet
	}
	if c.MaxEpisodes == 0 {
		c.MaxEpisodes = d.MaxEpisodes
	}
	return c
}

// Validate reports bad values as "key: reason", joined.
func (c Config) Validate() error {
	var errs []error
	if c.Quiet < 0 {
		errs = append(errs, errors.New("quiet: must not be negative"))
	}
	if c.MaxEpisodes < 0 {
		errs = append(errs, errors.New("max_episodes: must be > 0"))
	}
	return errors.Join(errs...)
}
