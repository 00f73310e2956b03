package config

import (
	"errors"
	"fmt"
	"time"

	"mamori/sensor/afpacket"
	"mamori/sensor/ebpf"
	"mamori/sensor/iface"
)

// Capture configures live capture (mamori run): the rings and fanout
// (afpacket's keys, inline), the sniffing interface's setup (link), the
// kernel flow counter and bulk-flow cutoff (ebpf), and how often health
// records are written.
type Capture struct {
	afpacket.Config `yaml:",inline"`
	Link            iface.Config `yaml:"link"`
	EBPF            ebpf.Config  `yaml:"ebpf"`
	// HealthInterval is how often an event.kind "metric" record with every
	// worker's counters is written. Defaults to 10s.
	HealthInterval time.Duration `yaml:"health_interval"`
}

// DefaultHealthInterval is Capture.HealthInterval's default.
const DefaultHealthInterval = 10 * time.Second

// Validate checks the section; errors read "key: reason".
func (c Capture) Validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	for _, sub := range []struct {
		name string
		err  error
	}{{"link", c.Link.Validate()}, {"ebpf", c.EBPF.Validate()}} {
		if sub.err != nil {
			for _, e := range unjoin(sub.err) {
				errs = append(errs, fmt.Errorf("%s.%w", sub.name, e))
			}
		}
	}
	if c.HealthInterval != 0 && (c.HealthInterval < time.Second || c.HealthInterval > time.Hour) {
		errs = append(errs, fmt.Errorf("health_interval: must be between 1s and 1h, got %s", c.HealthInterval))
	}
	return errors.Join(errs...)
}
