package http

import (
	"errors"
	"fmt"
)

// Config bounds what an HTTP session keeps. A zero field means the default
// given in its comment.
type Config struct {
	// MaxHeaderBytes bounds a request or response line with its header
	// fields (and a chunked body's trailer); a longer block ends the
	// session (malformed "header block too large"). Defaults to 16 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxPending is the most requests waiting for their responses
	// (pipelining); past it the oldest is written unanswered with the
	// anomaly "pending_overflow". Defaults to 32.
	MaxPending int `yaml:"max_pending"`
	// MaxStreamBytes is how many bytes of each direction the session is
	// given: a persistent connection carries requests all along, while
	// bodies are skipped cheaply. -1 means the whole connection. Defaults
	// to 8 MiB.
	MaxStreamBytes int `yaml:"max_stream_bytes"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{MaxHeaderBytes: 16 << 10, MaxPending: 32, MaxStreamBytes: 8 << 20}
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	switch {
	case c.MaxHeaderBytes == 0:
		c.MaxHeaderBytes = d.MaxHeaderBytes
	case c.MaxHeaderBytes < 256 || c.MaxHeaderBytes > 1<<20:
		errs = append(errs, fmt.Errorf("max_header_bytes: must be between 256 and %d, got %d", 1<<20, c.MaxHeaderBytes))
	}
	switch {
	case c.MaxPending == 0:
		c.MaxPending = d.MaxPending
	case c.MaxPending < 1 || c.MaxPending > 4096:
		errs = append(errs, fmt.Errorf("max_pending: must be between 1 and 4096, got %d", c.MaxPending))
	}
	switch {
	case c.MaxStreamBytes == 0:
		c.MaxStreamBytes = d.MaxStreamBytes
	case c.MaxStreamBytes == -1:
	case c.MaxStreamBytes < 4096:
		errs = append(errs, fmt.Errorf("max_stream_bytes: must be -1 (whole connection) or at least 4096, got %d", c.MaxStreamBytes))
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
