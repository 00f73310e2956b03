package nightbeacon

import (
	"errors"
	"time"
)

// Config tunes the rule. A zero field means the default.
type Config struct {
	// MinBeats is how many beats make a beacon. Defaults to 6.
	MinBeats int `yaml:"min_beats"`
	// MinPeriod and MaxPeriod bound the period. Default 1s and 75m.
	//
	// The default maximum is an hour with headroom. The period is
	// measured (the median interval), and an hourly beacon with 20 %
	// jitter measures over an hour half the time: by up to 16 % in 99 %
	// of nights (5 to 8 intervals), 20 % at worst. With a maximum of
	// 1h it was rejected as often as not; 75 minutes (+25 %) keeps every
	// one, and 6 beats at that period (6¼ h) still fit a night of 8.
	MinPeriod time.Duration `yaml:"min_period"`
	MaxPeriod time.Duration `yaml:"max_period"`
	// MaxJitter is the largest deviation of an interval from the period,
	// as a fraction of it, that still counts as regular. Defaults to 0.3.
	MaxJitter float64 `yaml:"max_jitter"`
	// MinScore is the score (0–1) that alerts. Defaults to 0.65.
	MinScore float64 `yaml:"min_score"`
	// InternalPeers also watches beacons between internal hosts.
	InternalPeers bool `yaml:"internal_peers"`
	// MaxPairs bounds the pairs tracked. Defaults to 65,536.
	MaxPairs int `yaml:"max_pairs"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MinBeats: 6, MinPeriod: time.Second, MaxPeriod: 75 * time.Minute, MaxJitter: 0.3, MinScore: 0.65, MaxPairs: 65_536}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MinBeats == 0 {
		c.MinBeats = d.MinBeats
	}
	if c.MinPeriod == 0 {
		c.MinPeriod = d.MinPeriod
	}
	if c.MaxPeriod == 0 {
		c.MaxPeriod = d.MaxPeriod
	}
	if c.MaxJitter == 0 {
		c.MaxJitter = d.MaxJitter
	}
	if c.MinScore == 0 {
		c.MinScore = d.MinScore
	}
	if c.MaxPairs == 0 {
		c.MaxPairs = d.MaxPairs
	}
	return c
}

// Validate reports bad values as "key: reason", joined.
func (c Config) Validate() error {
	var errs []error
	if c.MinBeats < 0 || (c.MinBeats > 0 && c.MinBeats < 4) || c.MinBeats > maxBeats {
		errs = append(errs, errors.New("min_beats: must be between 4 and 32"))
	}
	if c.MinPeriod < 0 || c.MaxPeriod < 0 || (c.MaxPeriod > 0 && c.MaxPeriod <= c.MinPeriod) {
		errs = append(errs, errors.New("max_period: must be longer than min_period"))
	}
	if c.MaxJitter < 0 || c.MaxJitter >= 0.5 {
		errs = append(errs, errors.New("max_jitter: must be between 0 and 0.5"))
	}
	if c.MinScore < 0 || c.MinScore > 1 {
		errs = append(errs, errors.New("min_score: must be between 0 and 1"))
	}
	if c.MaxPairs < 0 {
		errs = append(errs, errors.New("max_pairs: must be > 0"))
	}
	return errors.Join(errs...)
}
