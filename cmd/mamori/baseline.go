package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"mamori/appliance/config"
	"mamori/appliance/service"
)

// detect holds replay's detection flags.
type detect struct {
	baseline *string
	learn    *bool
	off      *bool
}

func detectFlags(fs *flag.FlagSet) detect {
	return detect{
		baseline: fs.String("baseline", "", "detect with the baseline `file` made by mamori baseline learn (default: rules without a baseline)"),
		learn:    fs.Bool("learn", false, "keep learning what did not alert and save the baseline back to --baseline"),
		off:      fs.Bool("no-detect", false, "run no rules: write flow and protocol records only"),
	}
}

func (d detect) options() *service.DetectOptions {
	switch {
	case *d.off && !*d.learn:
		return nil
	case *d.off:
		return &service.DetectOptions{Baseline: *d.baseline, Learn: true, Save: *d.baseline, MissingOK: true}
	}
	o := &service.DetectOptions{Detect: true, Baseline: *d.baseline}
	if *d.learn && *d.baseline != "" {
		o.Learn, o.Save = true, *d.baseline
	}
	return o
}

var baselineUsage = `Usage: mamori baseline COMMAND [flags] [args]

The baseline is what mamori learned is normal on this network: every host
with its services and hours, who talks to whom on which port and when, the
outside peers each host uses, DICOM and HL7 links. Rules compare new traffic
with it (mamori replay --baseline, and the live service).

Commands:
  learn   learn a baseline from capture files of normal days
  show    print a baseline for people
  diff    print what changed between two baselines
  merge   merge baselines learned separately into one

Run "mamori baseline COMMAND --help" for its flags and an example.
`

func runBaseline(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stdout, baselineUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "learn":
		return baselineLearn(ctx, args[1:])
	case "show":
		return baselineShow(args[1:])
	case "diff":
		return baselineDiff(args[1:])
	case "merge":
		return baselineMerge(args[1:])
	}
	fmt.Fprintf(os.Stderr, "mamori baseline: unknown command %q\n\n%s", args[0], baselineUsage)
	return 2
}

func loadConfig(name, path string) (*config.Config, int) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori %s: %v\n", name, err)
		return nil, 2
	}
	return cfg, 0
}

func baselineLearn(ctx context.Context, args []string) int {
	fs := newFlags("baseline learn", "[-c CONFIG] -o BASELINE [--merge] FILE...",
		`Reads capture files of normal traffic (pcap, pcapng, gzip-compressed too)
through the whole packet path and learns a baseline from their flows and
protocol records, in the configuration's time zone. The file is written
atomically: a crash leaves the old one or the new one. With --merge the
captures are learned on top of an existing BASELINE. Progress is shown on
a terminal and a summary at the end.`,
		`  mamori baseline learn -c /etc/mamori/mamori.yaml -o baseline.json.gz week1/*.pcap
  mamori baseline learn -c hospital.yaml -o baseline.json.gz --merge week2/*.pcap.gz
  mamori replay -c hospital.yaml --baseline baseline.json.gz -o out.ndjson today.pcap`)
	cfgPath := fs.String("c", "", "configuration `file` (timezone, networks.internal, baseline limits)")
	out := fs.String("o", "", "write the baseline to `file` (required)")
	merge := fs.Bool("merge", false, "learn on top of the existing -o file")
	quiet := fs.Bool("q", false, "print no summary")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "mamori baseline learn: need -o BASELINE and capture files")
		fs.Usage()
		return 2
	}
	cfg, code := loadConfig("baseline learn", *cfgPath)
	if cfg == nil {
		return code
	}
	_, err := service.Learn(ctx, service.LearnOptions{Config: cfg, Files: fs.Args(), Output: *out, Merge: *merge,
		Stderr: os.Stderr, Progress: service.IsTerminal(os.Stderr) && !*quiet, Quiet: *quiet})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, service.ErrInputsUnreadable):
		fmt.Fprintf(os.Stderr, "mamori baseline learn: %v\n", err)
		return 1
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "mamori baseline learn: interrupted; nothing written")
		return 130
	}
	fmt.Fprintf(os.Stderr, "mamori baseline learn: %v\n", err)
	return 3
}

func baselineShow(args []string) int {
	fs := newFlags("baseline show", "[-c CONFIG] [-n ROWS] BASELINE",
		`Prints a baseline: its span and sizes, the hosts (servers first, with
their services and a 24-hour activity profile), the busiest connections,
each host's outside peers with their names, DICOM AE pairs and HL7 links.`,
		`  mamori baseline show baseline.json.gz | less -S
  mamori baseline show -n 0 baseline.json.gz > baseline.txt`)
	cfgPath := fs.String("c", "", "configuration `file` (baseline limits)")
	rows := fs.Int("n", 50, "at most `rows` per table; 0 for all")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg, code := loadConfig("baseline show", *cfgPath)
	if cfg == nil {
		return code
	}
	if err := service.ShowBaseline(os.Stdout, cfg, fs.Arg(0), *rows); err != nil {
		fmt.Fprintf(os.Stderr, "mamori baseline show: %v\n", err)
		return 1
	}
	return 0
}

func baselineDiff(args []string) int {
	fs := newFlags("baseline diff", "[-c CONFIG] [-n ROWS] OLD NEW",
		`Prints what NEW has that OLD lacks (+) and the reverse (-): hosts, roles,
services, connections, outside peers, names, DICOM and HL7 links. The exit
status is 0 when they are the same, 1 when they differ, 2 on trouble.`,
		`  mamori baseline diff last-month.json.gz baseline.json.gz`)
	cfgPath := fs.String("c", "", "configuration `file` (baseline limits)")
	rows := fs.Int("n", 50, "at most `rows` per section; 0 for all")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return 2
	}
	cfg, code := loadConfig("baseline diff", *cfgPath)
	if cfg == nil {
		return code
	}
	differ, err := service.DiffBaselines(os.Stdout, cfg, fs.Arg(0), fs.Arg(1), *rows)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori baseline diff: %v\n", err)
		return 2
	}
	if differ {
		return 1
	}
	return 0
}

func baselineMerge(args []string) int {
	fs := newFlags("baseline merge", "[-c CONFIG] -o OUT BASELINE...",
		`Merges baselines (learned in the same time zone) into one: counts and
hour histograms are summed, first/last seen widened.`,
		`  mamori baseline merge -o baseline.json.gz ward-a.json.gz ward-b.json.gz`)
	cfgPath := fs.String("c", "", "configuration `file` (baseline limits)")
	out := fs.String("o", "", "write the merged baseline to `file` (required)")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, code := loadConfig("baseline merge", *cfgPath)
	if cfg == nil {
		return code
	}
	if err := service.MergeBaselines(cfg, *out, fs.Args()...); err != nil {
		fmt.Fprintf(os.Stderr, "mamori baseline merge: %v\n", err)
		return 1
	}
	return 0
}
