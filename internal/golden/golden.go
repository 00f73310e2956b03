// Package golden compares test output with files under testdata/golden and
// rewrites them with `go test ./... -update` (make golden). The diff of a
// rewrite is reviewed in the commit. Only _test.go files import it.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Update reports whether -update was given.
func Update() bool { return *update }

// Compare checks got against the golden file at path, or rewrites the file
// with -update. On a mismatch it reports the first differing line.
func Compare(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			tb.Fatalf("%s: line %d differs (%d lines got, %d want)\n got: %s\nwant: %s\n(run go test -update to accept)", path, i+1, len(gl), len(wl), g, w)
		}
	}
}
