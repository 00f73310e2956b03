package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"mamori/appliance/api"
	"mamori/pipeline/baseline"
	"mamori/pipeline/flow"
	"mamori/pipeline/output/elasticsearch"
	"mamori/pipeline/proto/all"
	"mamori/rules"
	rulesall "mamori/rules/all"
	"mamori/sensor/pcapstore"
)

//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded default configuration text.
func Default() []byte { return bytes.Clone(defaultYAML) }

// Config is the whole configuration file.
type Config struct {
	Sensor   Sensor      `yaml:"sensor"`
	Networks Networks    `yaml:"networks"`
	Flow     flow.Config `yaml:"flow"`
	// Protocols configures the application-protocol parsers and the TCP
	// reassembly that feeds them.
	Protocols all.Config `yaml:"protocols"`
	// Capture configures live capture (mamori run).
	Capture Capture `yaml:"capture"`
	// Site is the hospital's facts, at the top level of the file:
	// timezone, night, segments, servers, admins, allowed_external,
	// maintenance, segment_policy (see examples/hospital-500.yaml).
	Site rules.Site `yaml:",inline"`
	// Rules tunes the detectors.
	Rules rulesall.Config `yaml:"rules"`
	// Baseline bounds the learned model and says how the live service
	// learns and saves it.
	Baseline baseline.Config `yaml:"baseline"`
	// PcapStore is the forensic packet store (mamori pcap, replay
	// --pcap-store).
	PcapStore pcapstore.Config `yaml:"pcap_store"`
	// Elasticsearch ships records to a cluster (off by default: NDJSON
	// files stay the output); its spool: section sizes the disk spool.
	Elasticsearch elasticsearch.Config `yaml:"elasticsearch"`
	// API is the appliance's authenticated HTTP API and triage console
	// (off unless api.listen is set).
	API api.Config `yaml:"api"`

	// File is where the configuration came from ("(embedded defaults)"
	// when none was given).
	File string `yaml:"-"`
}

// Sensor identifies the sensor and where it keeps its data.
type Sensor struct {
	Name      string `yaml:"name"`
	Hostname  string `yaml:"hostname"`
	DataDir   string `yaml:"data_dir"`
	Namespace string `yaml:"namespace"`
}

// Networks are the hospital's address plan.
type Networks struct {
	Internal []netip.Prefix `yaml:"internal"`
}

// UnmarshalYAML parses the prefixes itself so that a bad one is reported
// with its line (yaml reports TextUnmarshaler errors without one).
func (n *Networks) UnmarshalYAML(node *yaml.Node) error {
	for i := 0; node.Kind == yaml.MappingNode && i < len(node.Content); i += 2 {
		if k := node.Content[i]; k.Value != "internal" {
			return fmt.Errorf("line %d: field %s not found in networks", k.Line, k.Value)
		}
	}
	var raw struct {
		Internal []yaml.Node `yaml:"internal"`
	}
	if err := node.Decode(&raw); err != nil {
		return err
	}
	if raw.Internal == nil {
		return nil
	}
	n.Internal = make([]netip.Prefix, 0, len(raw.Internal))
	for _, item := range raw.Internal {
		p, err := netip.ParsePrefix(item.Value)
		if err != nil {
			return fmt.Errorf("line %d: networks.internal: %q is not a CIDR prefix such as 10.0.0.0/8", item.Line, item.Value)
		}
		n.Internal = append(n.Internal, p.Masked())
	}
	return nil
}

// Load reads the configuration at path over the embedded defaults. An empty
// path means the defaults alone.
func Load(path string) (*Config, error) {
	c, err := Parse("(embedded defaults)", defaultYAML, nil)
	if err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(path, data, c)
}

// Parse decodes data (named name in errors) over base, or over zero values
// when base is nil, and validates the result.
func Parse(name string, data []byte, base *Config) (*Config, error) {
	c := &Config{}
	if base != nil {
		*c = *base // a list given in the file replaces the base's list
	}
	c.File = name
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, lineErrors(name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return nil, lineErrors(name, err)
	}
	if err := c.validate(); err != nil {
		return nil, placeErrors(name, &root, err)
	}
	return c, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// lineErrors rewrites yaml's "yaml: line 3: …" messages as "file:3: …".
func lineErrors(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out []error
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		if loc := yamlLine.FindStringSubmatchIndex(m); loc != nil {
			out = append(out, fmt.Errorf("%s:%s: %s", name, m[loc[2]:loc[3]], m[:loc[0]]+m[loc[1]:]))
			continue
		}
		out = append(out, fmt.Errorf("%s: %s", name, m))
	}
	return errors.Join(out...)
}

// fieldError is a validation problem at a key path such as "flow.tcp_timeout".
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

// sections lists each section whose package validates its own Config: its
// Validate errors read "key: reason" and are placed under the section name.
// Add one line here per section.
func (c *Config) sections() []section {
	return []section{
		{"flow", c.Flow.Validate},
		{"protocols", c.Protocols.Validate},
		{"capture", c.Capture.Validate},
		{"pcap_store", c.PcapStore.Validate},
		{"rules", c.Rules.Validate},
		{"baseline", c.Baseline.Validate},
		{"elasticsearch", c.Elasticsearch.Validate},
		{"api", c.API.Validate},
		{"", c.Site.Validate}, // top-level keys: its errors carry their own path
	}
}

type section struct {
	name     string
	validate func() error
}

func (c *Config) validate() error {
	var errs []error
	for _, s := range c.sections() {
		if err := s.validate(); err != nil {
			for _, e := range unjoin(err) {
				key, msg, _ := strings.Cut(e.Error(), ": ")
				if s.name != "" {
					key = s.name + "." + key
				}
				errs = append(errs, &fieldError{key, msg})
			}
		}
	}
	if ns := c.Sensor.Namespace; ns != "" && !validNamespace(ns) {
		errs = append(errs, &fieldError{"sensor.namespace", fmt.Sprintf("%q: use lowercase letters, digits and '_' (no '-'), at most 100 characters", ns)})
	}
	for i, p := range c.Networks.Internal {
		if !p.IsValid() {
			errs = append(errs, &fieldError{"networks.internal." + strconv.Itoa(i), "not a CIDR prefix"})
		}
	}
	return errors.Join(errs...)
}

func validNamespace(s string) bool {
	if len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// placeErrors prefixes each field error with the file and the line of its key.
func placeErrors(name string, root *yaml.Node, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *fieldError
		if errors.As(e, &fe) {
			if line := lineOf(root, strings.Split(fe.path, ".")); line > 0 {
				out = append(out, fmt.Errorf("%s:%d: %s", name, line, fe))
				continue
			}
		}
		out = append(out, fmt.Errorf("%s: %w", name, e))
	}
	return errors.Join(out...)
}

// lineOf finds the line of the key at path in a YAML document, or 0 when
// the key is not in the file (the value came from the defaults).
func lineOf(n *yaml.Node, path []string) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(key)
			if err != nil || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}
