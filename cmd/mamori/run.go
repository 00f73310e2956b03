package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"mamori/appliance/config"
	"mamori/appliance/service"
)

func runRun(ctx context.Context, args []string) int {
	fs := newFlags("run", "[-c CONFIG] [-i IFACE] [-o OUT]",
		`Captures live from the mirror port (capture.interface, or -i) with one
worker per CPU, each owning its share of the flows (the kernel's fanout
keeps both directions of a flow on one worker), and writes the same
records as replay: flows, protocol records, and every
capture.health_interval a health metric record (packets, kernel drops,
queue freezes, eBPF cut-off, flows per worker); link changes become state
records. Needs root (or CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF). It refuses
an interface that has an IP address: a passive sensor must not be
reachable on its mirror port. SIGINT or SIGTERM stops it cleanly: the
rings are drained, every flow's final record is written, the interface is
restored as found and a summary is printed. Exit status: 2 when capture
could not start, 3 when records could not be written.`,
		`  sudo mamori run -c /etc/mamori/mamori.yaml -i enp3s0f1
  sudo mamori run -i enp3s0f1 -o - | jq -c 'select(.event.kind != "event")'`)
	cfgPath := fs.String("c", "", "configuration `file` (default: the embedded defaults; see mamori config)")
	ifname := fs.String("i", "", "capture `interface` (overrides capture.interface)")
	out := fs.String("o", "", "write NDJSON records to `file`; - for standard output (default: a new file under sensor.data_dir/live)")
	quiet := fs.Bool("q", false, "print no summary")
	noDetect := fs.Bool("no-detect", false, "run no rules and learn no baseline: flow and protocol records only")
	noStore := fs.Bool("no-pcap-store", false, "keep no packets (default: every captured packet goes to the pcap store)")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mamori run: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori run: %v\n", err)
		return 2
	}
	_, err = service.Run(ctx, service.RunOptions{
		Config: cfg, Interface: *ifname, Output: *out,
		Stdout: os.Stdout, Stderr: os.Stderr, Quiet: *quiet, NoDetect: *noDetect, NoPcapStore: *noStore,
	})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, service.ErrCaptureSetup):
		fmt.Fprintf(os.Stderr, "mamori run: %v\n", err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "mamori run: %v\n", err)
		return 3
	}
}
