package rdp

import (
	"errors"
	"fmt"
)

// Config bounds what an RDP session buffers. A zero field means the default
// given in its comment.
type Config struct {
	// MaxPDU is the largest TPKT PDU buffered during connection set-up
	// (the MCS Connect Response carries the server's certificate chain);
	// a larger PDU is skipped and noted as the anomaly "pdu_too_large".
	// Defaults to 16 KiB; at most 64 KiB (a TPKT length is 16 bits).
	MaxPDU int `yaml:"max_pdu"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{MaxPDU: 16 << 10} }

func (c Config) withDefaults() (Config, error) {
	var errs []error
	switch {
	case c.MaxPDU == 0:
		c.MaxPDU = DefaultConfig().MaxPDU
	case c.MaxPDU < 512 || c.MaxPDU > 65535:
		errs = append(errs, fmt.Errorf("max_pdu: must be between 512 and 65535, got %d", c.MaxPDU))
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
