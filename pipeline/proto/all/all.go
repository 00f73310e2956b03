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
	"mamori/pipeline/proto/dispatch"
)

// Config is the "protocols" section of the configuration file.
type Config struct {
	// Reassembly bounds the TCP reassembly that feeds the parsers.
	Reassembly dispatch.Config `yaml:"reassembly"`
	// Disabled names parsers not to run (e.g. [http]).
	Disabled []string `yaml:"disabled"`
}

// DefaultConfig returns every parser's defaults.
func DefaultConfig() Config {
	return Config{Reassembly: dispatch.DefaultConfig()}
}

// entry is one registered parser: its name and how to build it.
type entry struct {
	name  string
	build func(c *Config) (proto.Parser, error)
}

// registry lists the parsers in match order: the most specific first, so
// that a protocol with a strict signature wins over a looser one.
var registry = []entry{}

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
	for i, n := range c.Disabled {
		if !slices.Contains(Names(), n) {
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
		if slices.Contains(c.Disabled, e.name) {
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
