package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// siteFile is a file that holds only the site's facts (and networks).
type siteFile struct {
	Site     `yaml:",inline"`
	Networks struct {
		Internal List `yaml:"internal"`
	} `yaml:"networks"`
}

// LoadSite reads a YAML file holding the site's facts (the keys of Site
// plus networks.internal) and validates it. Errors name the file, the line
// and the key: "site.yaml:12: night.start: "25:00" is not a time of day".
// mamori's own configuration file is loaded by appliance/config, which
// embeds Site; LoadSite serves tools and tests.
func LoadSite(path string) (Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Site{}, fmt.Errorf("reading site facts: %w", err)
	}
	return ParseSite(path, data)
}

// ParseSite decodes and validates data, naming it name in errors.
func ParseSite(name string, data []byte) (Site, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Site{}, yamlErrors(name, err)
	}
	var f siteFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Site{}, yamlErrors(name, err)
	}
	s := f.Site
	var bad []error
	for i, v := range f.Networks.Internal {
		p, ok := parsePrefix(v)
		if !ok {
			bad = append(bad, &FieldError{"networks.internal." + strconv.Itoa(i), fmt.Sprintf("%q is not a CIDR prefix such as 10.0.0.0/8", v)})
			continue
		}
		s.Internal = append(s.Internal, p)
	}
	if err := s.Validate(); err != nil {
		bad = append(bad, unjoin(err)...)
	}
	if len(bad) > 0 {
		return Site{}, PlaceErrors(name, &root, errors.Join(bad...))
	}
	return s, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlErrors rewrites yaml's "yaml: line 3: …" as "name:3: …".
func yamlErrors(name string, err error) error {
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

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// PlaceErrors prefixes each FieldError in err with name and the line of
// its key in the document root: "name:LINE: path: msg".
func PlaceErrors(name string, root *yaml.Node, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			if line := lineOf(root, strings.Split(fe.Path, ".")); line > 0 {
				out = append(out, fmt.Errorf("%s:%d: %w", name, line, e))
				continue
			}
		}
		out = append(out, fmt.Errorf("%s: %w", name, e))
	}
	return errors.Join(out...)
}

// lineOf finds the line of the key at path, or of its nearest ancestor.
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
		case yaml.ScalarNode:
			// A single value given for a list: its line is the answer.
			return n.Line
		default:
			return line
		}
	}
	return line
}
