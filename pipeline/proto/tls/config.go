package tls

import (
	"errors"
	"fmt"
)

// Config bounds what a TLS session buffers and reports. Zero fields take
// their defaults.
type Config struct {
	// HandshakeLimit is the largest handshake message buffered, per
	// direction (a ClientHello, a Certificate chain). Longer messages are
	// skipped and noted in mamori.tls.anomalies. Defaults to 64 KiB; at
	// most 16 MiB (the handshake length field's range).
	HandshakeLimit int `yaml:"handshake_limit"`
	// StreamLimit is how many bytes of each direction the dispatcher
	// delivers. The handshake is almost always in the first few KiB.
	// Defaults to 64 KiB.
	StreamLimit int `yaml:"stream_limit"`
	// MaxCertificates is how many certificates of each side's chain are
	// parsed and reported (the leaf first). Defaults to 8.
	MaxCertificates int `yaml:"max_certificates"`
	// MaxListItems bounds each list a record carries (cipher suites,
	// extensions, groups, ALPN values, subject alternative names).
	// Fingerprints always use the whole lists. Defaults to 512.
	MaxListItems int `yaml:"max_list_items"`
	// CertCache is how many parsed certificates the parser remembers, by
	// SHA-256, across connections and workers. Defaults to 1024.
	CertCache int `yaml:"cert_cache"`
	// HelloCache is how many distinct ClientHello offers (their lists,
	// fingerprints and rendered names), and as many ServerHello choices
	// (JA3S), the parser remembers across connections and workers.
	// Defaults to 256.
	HelloCache int `yaml:"hello_cache"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{HandshakeLimit: 64 << 10, StreamLimit: 64 << 10, MaxCertificates: 8, MaxListItems: 512, CertCache: 1024, HelloCache: 256}
}

const maxHandshakeLimit = 1<<24 - 1

// Validate reports every field out of range as "key: reason".
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.HandshakeLimit < 0:
		errs = append(errs, errors.New("handshake_limit: must not be negative"))
	case c.HandshakeLimit > maxHandshakeLimit:
		errs = append(errs, fmt.Errorf("handshake_limit: %d is more than the largest handshake message (%d)", c.HandshakeLimit, maxHandshakeLimit))
	case c.HandshakeLimit > 0 && c.HandshakeLimit < 512:
		errs = append(errs, fmt.Errorf("handshake_limit: %d is too small to hold a ClientHello (at least 512)", c.HandshakeLimit))
	}
	if c.StreamLimit < 0 {
		errs = append(errs, errors.New("stream_limit: must not be negative"))
	}
	if c.MaxCertificates < 0 {
		errs = append(errs, errors.New("max_certificates: must not be negative"))
	}
	if c.MaxListItems < 0 {
		errs = append(errs, errors.New("max_list_items: must not be negative"))
	}
	if c.CertCache < 0 {
		errs = append(errs, errors.New("cert_cache: must not be negative"))
	}
	if c.HelloCache < 0 {
		errs = append(errs, errors.New("hello_cache: must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HandshakeLimit == 0 {
		c.HandshakeLimit = d.HandshakeLimit
	}
	if c.StreamLimit == 0 {
		c.StreamLimit = d.StreamLimit
	}
	if c.MaxCertificates == 0 {
		c.MaxCertificates = d.MaxCertificates
	}
	if c.MaxListItems == 0 {
		c.MaxListItems = d.MaxListItems
	}
	if c.CertCache == 0 {
		c.CertCache = d.CertCache
	}
	if c.HelloCache == 0 {
		c.HelloCache = d.HelloCache
	}
	return c
}
