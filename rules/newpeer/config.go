package newpeer

import (
	"errors"
)

// Config tunes the rule. A zero field means the default.
type Config struct {
	// RiskyPorts are server ports that make a new peer worse: remote
	// access, file sharing, VPN and remote-support tools. Defaults to 22 23
	// 139 445 500 1194 1723 3389 4500 5500 5900 5938 8443.
	RiskyPorts []uint16 `yaml:"risky_ports"`
	// PublicPorts are the services a DMZ normally offers to the internet:
	// an unknown peer reaching one of them inbound is medium, not high.
	// Defaults to 25 53 80 123 443 587.
	PublicPorts []uint16 `yaml:"public_ports"`
	// LargeBytes is the upload (bytes sent by the internal host) that
	// raises severity as possible exfiltration. Defaults to 10 MB.
	LargeBytes uint64 `yaml:"large_bytes"`
	// InboundFailed also reports inbound attempts nobody answered (off:
	// internet background noise).
	InboundFailed bool `yaml:"inbound_failed"`
	// MaxPerHost is how many separate alerts one host gets in an hour
	// before its new peers are folded into one. Defaults to 5.
	MaxPerHost int `yaml:"max_per_host"`
	// MaxPairs bounds the (host, peer) pairs remembered as alerted (IPv4
	// pairs and the others each). Defaults to 65,536.
	MaxPairs int `yaml:"max_pairs"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		RiskyPorts:  []uint16{22, 23, 139, 445, 500, 1194, 1723, 3389, 4500, 5500, 5900, 5938, 8443},
		PublicPorts: []uint16{25, 53, 80, 123, 443, 587},
		LargeBytes:  10_000_000, MaxPerHost: 5, MaxPairs: 65_536,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RiskyPorts == nil {
		c.RiskyPorts = d.RiskyPorts
	}
	if c.PublicPorts == nil {
		c.PublicPorts = d.PublicPorts
	}
	if c.LargeBytes == 0 {
		c.LargeBytes = d.LargeBytes
	}
	if c.MaxPerHost == 0 {
		c.MaxPerHost = d.MaxPerHost
	}
	if c.MaxPairs == 0 {
		c.MaxPairs = d.MaxPairs
	}
	return c
}

// Validate reports bad values as "key: reason", joined.
func (c Config) Validate() error {
	var errs []error
	if c.MaxPerHost < 0 {
		errs = append(errs, errors.New("max_per_host: must be > 0"))
	}
	if c.MaxPairs < 0 {
		errs = append(errs, errors.New("max_pairs: must be > 0"))
	}
	return errors.Join(errs...)
}
