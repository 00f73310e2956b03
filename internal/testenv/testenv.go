// Package testenv holds the helpers every test uses to find the module's
// data and to require tools or privileges: locally a missing requirement
// skips the test with a message; with MAMORI_TEST_STRICT=1 (set by .ci/run)
// it fails, so CI can never go green by skipping.
//
// Only _test.go files import this package.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Strict reports whether missing requirements fail instead of skip.
func Strict() bool { return os.Getenv("MAMORI_TEST_STRICT") == "1" }

// skipOrFail skips the test, or fails it in strict mode.
func skipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Strict() {
		tb.Fatalf("MAMORI_TEST_STRICT=1: "+format, args...)
	}
	tb.Skipf(format, args...)
}

// RequireTool returns the path of an external program the test needs
// (tshark, tcpdump, softflowd), or skips (fails in strict mode) without it.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(tb, "%s is not installed (apt-get install %s)", name, debianPackage(name))
	}
	return path
}

func debianPackage(tool string) string {
	switch tool {
	case "editcap", "mergecap", "capinfos":
		return "wireshark-common"
	case "chromedriver":
		return "chromium-driver"
	}
	return tool
}

// RequireRoot skips (fails in strict mode) unless the test runs as root,
// for tests that create network namespaces or capture sockets.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(tb, "needs root (network namespaces, raw sockets)")
	}
}

var (
	rootOnce sync.Once
	root     string
)

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				root = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	if root == "" {
		tb.Fatal("go.mod not found above the working directory")
	}
	return root
}

// Pcaps is the bundled capture directory, testdata/pcaps.
func Pcaps(tb testing.TB) string { return filepath.Join(ModuleRoot(tb), "testdata", "pcaps") }

// Pcap is one bundled capture, e.g. Pcap(t, "smb/zeek_smb2.pcap").
func Pcap(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(Pcaps(tb), rel)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("bundled capture: %v", err)
	}
	return p
}

// SharedPcaps is ../shared/pcaps beside the checkout: captures without a
// redistribution licence, which are not bundled. Tests that read them skip,
// with this message, where the folder is absent (even in strict mode: the
// folder is not part of the project).
func SharedPcaps(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(ModuleRoot(tb), "..", "shared", "pcaps")
	if _, err := os.Stat(filepath.Join(p, "MANIFEST.md")); err != nil {
		tb.Skipf("../shared/pcaps is absent: this test reads captures that are not bundled (no redistribution licence)")
	}
	return p
}

// BundledPcaps lists every capture under testdata/pcaps (pcap, pcapng, cap
// and their .gz forms), relative to that directory. It fails on an empty list.
func BundledPcaps(tb testing.TB) []string {
	tb.Helper()
	var out []string
	dir := Pcaps(tb)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".pcap", ".pcapng", ".cap", ".gz":
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		tb.Fatalf("no bundled captures under %s: %v", dir, err)
	}
	return out
}
