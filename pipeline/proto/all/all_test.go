package all

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// notParsers are the directories under pipeline/proto that hold no parser.
var notParsers = []string{"all", "dispatch", "internal", "prototest"}

// TestEveryParserIsRegistered fails when a parser package exists under
// pipeline/proto but is missing from the registry (or the other way round).
func TestEveryParserIsRegistered(t *testing.T) {
	ents, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() && !slices.Contains(notParsers, e.Name()) {
			if m, _ := filepath.Glob(filepath.Join("..", e.Name(), "*.go")); len(m) > 0 {
				dirs = append(dirs, e.Name())
			}
		}
	}
	names := Names()
	for _, d := range dirs {
		if !slices.Contains(names, d) {
			t.Errorf("pipeline/proto/%s is not in the registry (all.go)", d)
		}
	}
	for _, n := range names {
		if !slices.Contains(dirs, n) {
			t.Errorf("registry names %q but pipeline/proto/%s does not exist", n, n)
		}
	}
}

func TestDefaultsBuild(t *testing.T) {
	ps, err := Parsers(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != len(registry) {
		t.Errorf("built %d parsers, registry has %d", len(ps), len(registry))
	}
	for i, p := range ps {
		if p.Name() != registry[i].name {
			t.Errorf("parser %d is named %q, registered as %q", i, p.Name(), registry[i].name)
		}
	}
}

func TestUnknownDisabled(t *testing.T) {
	c := DefaultConfig()
	c.Disabled = []string{"gopher"}
	if _, err := Parsers(c); err == nil {
		t.Error("an unknown protocol in disabled was accepted")
	}
}

func TestDisableAll(t *testing.T) {
	c := DefaultConfig()
	c.Disabled = []string{"all"}
	ps, err := Parsers(c)
	if err != nil || len(ps) != 0 {
		t.Errorf("disabled [all]: %d parsers, %v", len(ps), err)
	}
}
