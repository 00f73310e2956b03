// Package all is the explicit registry of mamori's protocol parsers: every
// parser package under pipeline/proto is listed here, in match order, with
// its configuration section. A test fails when a parser package is missing.
package all

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"mamori/pipeline/proto"
	"mamori/pipeline/proto/dicom"
	"mamori/pipeline/proto/dispatch"
	"mamori/pipeline/proto/dns"
	"mamori/pipeline/proto/hl7"
	"mamori/pipeline/proto/http"
	"mamori/pipeline/proto/rdp"
	"mamori/pipeline/proto/smb"
	"mamori/pipeline/proto/tls"
)

// Config is the "protocols" section of the configuration file.
type Config struct {
	// Reassembly bounds the TCP reassembly that feeds the parsers.
	Reassembly dispatch.Config `yaml:"reassembly"`
	// Disabled names parsers not to run (e.g. [http]); [all] runs none
	// (flow records only).
	Disabled []string `yaml:"disabled"`

	RDP   rdp.Config   `yaml:"rdp"`
	SMB   smb.Config   `yaml:"smb"`
	DICOM dicom.Config `yaml:"dicom"`
	TLS   tls.Config   `yaml:"tls"`
	HL7   hl7.Config   `yaml:"hl7"`
	HTTP  http.Config  `yaml:"http"`
	DNS   dns.Config   `yaml:"dns"`
}

// DefaultConfig returns every parser's defaults.
func DefaultConfig() Config {
	return Config{
		Reassembly: dispatch.DefaultConfig(),
		RDP:        rdp.DefaultConfig(),
		SMB:        smb.DefaultConfig(),
		DICOM:      dicom.DefaultConfig(),
		TLS:        tls.DefaultConfig(),
		HL7:        hl7.DefaultConfig(),
		HTTP:       http.DefaultConfig(),
		DNS:        dns.DefaultConfig(),
	}
}

// entry is one registered parser: its name, how to check its section and
// how to build it.
type entry struct {
	name     string
	validate func(c *Config) error
	build    func(c *Config) (proto.Parser, error)
}

// reg makes an entry from a parser package's Config accessor and New.
func reg[C interface{ Validate() error }, P proto.Parser](name string, section func(*Config) C, mk func(C) (P, error)) entry {
	return entry{
		name:     name,
		validate: func(c *Config) error { return section(c).Validate() },
		build: func(c *Config) (proto.Parser, error) {
			p, err := mk(section(c))
			return p, err
		},
	}
}

// registry lists the parsers in match order: the strictest signatures
// first (TPKT+X.224, SMB magic, DICOM PDU, MLLP+MSH, TLS record), the
// loosest (HTTP's method token, DNS's header sanity checks) last.
var registry = []entry{
	reg("rdp", func(c *Config) rdp.Config { return c.RDP }, rdp.New),
	reg("smb", func(c *Config) smb.Config { return c.SMB }, smb.New),
	reg("dicom", func(c *Config) dicom.Config { return c.DICOM }, dicom.New),
	reg("hl7", func(c *Config) hl7.Config { return c.HL7 }, hl7.New),
	reg("tls", func(c *Config) tls.Config { return c.TLS }, tls.New),
	reg("http", func(c *Config) http.Config { return c.HTTP }, http.New),
	reg("dns", func(c *Config) dns.Config { return c.DNS }, dns.New),
}

// Names lists the registered parser names in match order.
func Names() []string {
	names := make([]string, len(registry))
	for i, e := range registry {
		names[i] = e.name
	}
	return names
}

// Validate reports problems as "key: reason".
func (c Config) Validate() error {
	var errs []error
	if err := c.Reassembly.Validate(); err != nil {
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("reassembly.%w", e))
		}
	}
	for _, e := range registry {
		if err := e.validate(&c); err != nil {
			for _, x := range unjoin(err) {
				errs = append(errs, fmt.Errorf("%s.%w", e.name, x))
			}
		}
	}
	for i, n := range c.Disabled {
		if n != "all" && !slices.Contains(Names(), n) {
			errs = append(errs, fmt.Errorf("disabled.%d: unknown protocol %q (known: %s)", i, n, strings.Join(Names(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// Parsers builds every enabled parser, in match order.
func Parsers(c Config) ([]proto.Parser, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var ps []proto.Parser
	for _, e := range registry {
		if slices.Contains(c.Disabled, e.name) || slices.Contains(c.Disabled, "all") {
			continue
		}
		p, err := e.build(&c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
