// Package systemd_test checks the service unit that runs mamori as an
// appliance (mamori.service, installed by `make install`).
package systemd_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mamori/internal/testenv"
)

// TestUnit builds mamori, points the unit's commands at it and at a
// configuration written by `mamori config`, and checks that
// systemd-analyze accepts the unit and that its commands' flags are real:
// the pre-start check passes on a good configuration and fails, naming
// the line, on a broken one.
func TestUnit(t *testing.T) {
	analyze := testenv.RequireTool(t, "systemd-analyze")
	dir := t.TempDir()
	bin := filepath.Join(dir, "mamori")
	if out, err := exec.Command("go", "build", "-o", bin, "mamori/cmd/mamori").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "mamori.yaml")
	out, err := exec.Command(bin, "config").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, out, 0o600); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("mamori.service")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("/usr/local/bin/mamori", bin, "/etc/mamori/mamori.yaml", cfg).Replace(string(unit))
	path := filepath.Join(dir, "mamori.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	commands := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && (strings.HasPrefix(k, "Exec") || k == "RestartPreventExitStatus") {
			commands[k] = strings.Fields(v)
		}
	}
	pre, start := commands["ExecStartPre"], commands["ExecStart"]
	if len(pre) < 2 || len(start) < 2 || pre[0] != bin || start[0] != bin || start[1] != "run" {
		t.Fatalf("unexpected commands: %q", commands)
	}
	if out, err := exec.Command(pre[0], pre[1:]...).CombinedOutput(); err != nil {
		t.Errorf("%q on a good configuration: %v\n%s", pre, err, out)
	}
	// run's flags parse (--help after them stops before capture).
	if out, err := exec.Command(start[0], append(start[1:], "--help")...).CombinedOutput(); err != nil {
		t.Errorf("%q --help: %v\n%s", start, err, out)
	}
	// A broken configuration stops the service before it starts, with
	// the line at fault, and with exit status 2, which the unit does not
	// restart on.
	if err := os.WriteFile(cfg, []byte("flow:\n  tcp_timeout: soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(pre[0], pre[1:]...).CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !strings.Contains(string(out), cfg+":2") {
		t.Errorf("broken configuration: %v\n%s", err, out)
	} else if errors.As(err, &ee) && !slices.Contains(commands["RestartPreventExitStatus"], strconv.Itoa(ee.ExitCode())) {
		t.Errorf("config -check exits %d, which the unit would restart on", ee.ExitCode())
	}
}
