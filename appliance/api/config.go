package api

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Config is the api: section of the configuration file.
type Config struct {
	// Listen is the address to serve on, host:port; empty turns the API
	// off.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// AllowPlainHTTP permits plain HTTP on a non-loopback address (behind
	// a TLS-terminating proxy on the same host, say).
	AllowPlainHTTP bool `yaml:"allow_plain_http"`
	// Tokens is the token file; empty means DATA_DIR/api-tokens.
	Tokens string `yaml:"tokens"`
	// RecentAlerts bounds the alerts kept in memory for the console and
	// /api/v1/alerts (the newest are kept; Elasticsearch and the NDJSON
	// output keep them all). Zero means 1,000.
	RecentAlerts int `yaml:"recent_alerts"`
}

// DefaultConfig returns the defaults: the API off, 1,000 recent alerts.
func DefaultConfig() Config { return Config{RecentAlerts: 1000} }

// Validate fills in defaults and checks the section. Its errors read
// "key: reason".
func (c *Config) Validate() error {
	var errs []error
	if c.RecentAlerts == 0 {
		c.RecentAlerts = DefaultConfig().RecentAlerts
	}
	if c.RecentAlerts < 1 || c.RecentAlerts > 1_000_000 {
		errs = append(errs, fmt.Errorf("recent_alerts: %d: want 1 to 1000000", c.RecentAlerts))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert: tls_cert and tls_key go together"))
	}
	if c.Listen == "" {
		return errors.Join(errs...)
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listen: %q: want host:port, e.g. 127.0.0.1:8686", c.Listen))...)
	}
	if port == "" {
		errs = append(errs, fmt.Errorf("listen: %q: no port", c.Listen))
	}
	if c.TLSCert == "" && !c.AllowPlainHTTP && !loopback(host) {
		errs = append(errs, fmt.Errorf("listen: %q is not a loopback address: pcaps hold patient data, so serve TLS (tls_cert, tls_key) or set allow_plain_http behind a TLS proxy", c.Listen))
	}
	return errors.Join(errs...)
}

// TLS reports whether the server speaks TLS.
func (c *Config) TLS() bool { return c.TLSCert != "" }

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
