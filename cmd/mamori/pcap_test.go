package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2024-05-01T13:45:00+09:00":     time.Date(2024, 5, 1, 4, 45, 0, 0, time.UTC),
		"2024-05-01 04:45:00":           time.Date(2024, 5, 1, 4, 45, 0, 0, time.UTC),
		"2024-05-01 04:45:00.123456789": time.Date(2024, 5, 1, 4, 45, 0, 123456789, time.UTC),
		"2024-05-01":                    time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"-2h30m":                        now.Add(-150 * time.Minute),
	} {
		got, err := parseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := parseTime("yesterday", now); err == nil {
		t.Error("yesterday accepted")
	}
}

// TestPcapCommands runs import, query, verify and ls on a new store and
// checks their exit statuses.
func TestPcapCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	pcap := filepath.Join("..", "..", "testdata", "pcaps", "recorded", "rdp_scan_nmap.pcap")
	out := filepath.Join(t.TempDir(), "out.pcap")
	ctx := context.Background()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	stdout := os.Stdout
	os.Stdout = devnull
	defer func() { os.Stdout = stdout }()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"pcap", "query", "--store", dir, "-w", out, "tcp"}, 1}, // no store yet
		{[]string{"pcap", "import", "-q", "--store", dir, pcap}, 0},
		{[]string{"pcap", "query", "-q", "--store", dir, "-w", out, "tcp port 3389"}, 0},
		{[]string{"pcap", "query", "--store", dir, "-w", out + "2", "tcp port"}, 2},
		{[]string{"pcap", "verify", "-q", "--store", dir}, 0},
		{[]string{"pcap", "ls", "--store", dir}, 0},
		{[]string{"pcap", "audit", "--store", dir}, 0},
		{[]string{"pcap", "nope"}, 2},
		{[]string{"pcap", "query", "--help"}, 0},
	} {
		if got := dispatch(ctx, tc.args); got != tc.want {
			t.Errorf("mamori %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
	if st, err := os.Stat(out); err != nil || st.Size() <= 24 {
		t.Errorf("query wrote %v, %v", st, err)
	}
}

// TestHelpAfterArguments: --help after a command's arguments prints help
// and does nothing else (it once removed a token named "--help").
func TestHelpAfterArguments(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("sensor:\n  data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	os.Stderr = devnull
	defer func() { os.Stderr = stderr }()
	for _, args := range [][]string{
		{"-c", cfg, "token", "remove", "--help"},
		{"-c", cfg, "token", "add", "x", "viewer", "-h"},
	} {
		if code := runAPI(context.Background(), args); code != 0 {
			t.Errorf("mamori api %v: exit %d, want 0 (help)", args, code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "api-tokens")); err == nil {
		t.Error("a help request wrote the tokens file")
	}
}

// TestConfigCommand: "config check FILE" checks FILE (the line at fault);
// a mistyped subcommand is an error, never the defaults and success.
func TestConfigCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("flow:\n  tcp_timeout: soon\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("flow:\n  tcp_timeout: 2m\n"), 0o600)
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = devnull, devnull
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"check", good}, 0},
		{[]string{"-check", good}, 0},
		{[]string{"check", bad}, 1},
		{[]string{"-check", bad}, 1},
		{[]string{"chek", bad}, 2},
		{[]string{"check"}, 2},
		{[]string{"print"}, 0},
		{nil, 0},
	} {
		if got := runConfig(context.Background(), c.args); got != c.want {
			t.Errorf("mamori config %v: exit %d, want %d", c.args, got, c.want)
		}
	}
}

// TestStrayArguments: a command that takes flags only refuses an argument
// (a store directory given without --store must not verify another store).
func TestStrayArguments(t *testing.T) {
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = devnull, devnull
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	ctx := context.Background()
	for name, run := range map[string]func() int{
		"pcap verify DIR": func() int { return runPcapVerify(ctx, []string{t.TempDir()}) },
		"pcap ls DIR":     func() int { return runPcapList(ctx, []string{t.TempDir()}) },
		"pcap audit DIR":  func() int { return runPcapAudit(ctx, []string{t.TempDir()}) },
		"rules lst":       func() int { return runRules(ctx, []string{"lst"}) },
		"version x":       func() int { return runVersion(ctx, []string{"x"}) },
	} {
		if got := run(); got != 2 {
			t.Errorf("mamori %s: exit %d, want 2", name, got)
		}
	}
}
