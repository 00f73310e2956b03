package dns

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds what a DNS session keeps. A zero field means the default
// given in its comment.
type Config struct {
	// MaxPending is the most queries per flow waiting for a response; past
	// it the oldest is written as unanswered with the anomaly
	// "pending_overflow". Defaults to 256.
	MaxPending int `yaml:"max_pending"`
	// QueryTimeout is how long (packet time) a query waits for its
	// response before it is written as unanswered. Defaults to 10s.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxAnswers is the most answer records kept in one record; the rest
	// are counted in mamori.dns.answers_dropped. Defaults to 32.
	MaxAnswers int `yaml:"max_answers"`
	// MaxMessage is the largest DNS-over-TCP message buffered; a larger
	// one is skipped (anomaly "message_too_large"). Defaults to 65535, the
	// protocol's own limit.
	MaxMessage int `yaml:"max_message"`
	// DomainCache is how many query names' public-suffix splits
	// (dns.question.registered_domain, subdomain, top_level_domain) the
	// parser remembers: the same names are asked again and again, and the
	// lookup costs more than the rest of a record. Defaults to 4096.
	DomainCache int `yaml:"domain_cache"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{MaxPending: 256, QueryTimeout: 10 * time.Second, MaxAnswers: 32, MaxMessage: 65535, DomainCache: 4096}
}

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
	fill("max_pending", &c.MaxPending, d.MaxPending, 1, 1<<16)
	fill("max_answers", &c.MaxAnswers, d.MaxAnswers, 1, 1024)
	fill("max_message", &c.MaxMessage, d.MaxMessage, 512, 65535)
	fill("domain_cache", &c.DomainCache, d.DomainCache, 1, 1<<20)
	switch {
	case c.QueryTimeout == 0:
		c.QueryTimeout = d.QueryTimeout
	case c.QueryTimeout < 100*time.Millisecond:
		errs = append(errs, fmt.Errorf("query_timeout: must be at least 100ms, got %s", c.QueryTimeout))
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
