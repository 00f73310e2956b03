package hl7

import (
	"errors"
	"fmt"
)

// Config bounds what an HL7 session keeps. A zero field means the default
// given in its comment; every limit reached is counted in the record's
// mamori.hl7.anomalies, never silent.
type Config struct {
	// MaxSegmentBytes is the most bytes kept of each segment the session
	// reads (MSH, MSA, ERR); fields past it are lost ("segment
	// truncated"). Every other segment is counted, never buffered.
	// Defaults to 2048.
	MaxSegmentBytes int `yaml:"max_segment_bytes"`
	// MaxPending is the most messages awaiting an acknowledgement per
	// connection; past it the oldest is written as unanswered ("pending
	// table full"). Defaults to 64.
	MaxPending int `yaml:"max_pending"`
	// MaxSegmentTypes is the most distinct segment IDs listed per message.
	// Defaults to 32.
	MaxSegmentTypes int `yaml:"max_segment_types"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{MaxSegmentBytes: 2048, MaxPending: 64, MaxSegmentTypes: 32}
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	fill := func(name string, v *int, def, lo, hi int) {
		switch {
		case *v == 0:
			*v = def
		case *v < lo || *v > hi:
			errs = append(errs, fmt.Errorf("%s: must be between %d and %d, got %d", name, lo, hi, *v))
		}
	}
	fill("max_segment_bytes", &c.MaxSegmentBytes, d.MaxSegmentBytes, 256, 1<<20)
	fill("max_pending", &c.MaxPending, d.MaxPending, 1, 65536)
	fill("max_segment_types", &c.MaxSegmentTypes, d.MaxSegmentTypes, 1, 1024)
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys ("max_pending: must be ...").
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
