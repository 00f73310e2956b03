package iface

import "fmt"

// Config says how the sniffing interface may be set up. The zero value is
// the safe default: refuse an interface with an address, switch IPv6 off on
// it, leave its MTU alone.
type Config struct {
	// AllowAddress lets the sensor start on an interface that carries an IP
	// address. A passive sensor must not be reachable on its mirror port,
	// so by default it refuses to start there.
	AllowAddress bool `yaml:"allow_address"`
	// KeepIPv6 leaves IPv6 on. By default it is switched off on the
	// interface (and back on when the sensor stops), so that the kernel
	// gives the interface no link-local address and sends nothing on it
	// (router solicitations, MLD reports, duplicate address detection).
	KeepIPv6 bool `yaml:"keep_ipv6"`
	// MTU, when not 0, is set on the interface (and the old value restored
	// when the sensor stops): raise it for a mirror port that carries
	// jumbo frames, which the kernel drops when they exceed the MTU.
	MTU int `yaml:"mtu"`
}

// Validate checks the configuration; errors read "key: reason".
func (c Config) Validate() error {
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		return fmt.Errorf("mtu: must be between 68 and 65535, got %d", c.MTU)
	}
	return nil
}
