// Command mamori is the sensor's command line: it parses flags and calls
// into appliance/. See `mamori help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"mamori/appliance/config"
	"mamori/appliance/service"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = []command{
	{"run", "capture live from a mirror port and write flow records until stopped", runRun},
	{"replay", "read capture files through the packet path and write flow records", runReplay},
	{"baseline", "learn a baseline of normal traffic from captures, show it, compare two", runBaseline},
	{"rules", "list the detection rules: ATT&CK techniques, severity, English and Japanese text", runRules},
	{"pcap", "query, verify and package the stored packets (forensic pcap store)", runPcap},
	{"es", "install Elasticsearch templates, ILM policy and Kibana dashboards; check the cluster", runES},
	{"api", "manage the tokens of the HTTP API and triage console (viewer, analyst, investigator)", runAPI},
	{"config", "print the embedded default configuration, or check a configuration file", runConfig},
	{"version", "print mamori's version", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:]))
}

func dispatch(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			return dispatch(ctx, []string{args[1], "--help"})
		}
		usage(os.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "mamori: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `mamori (守り) is a passive network sensor for hospital networks: it reads
packets from a switch's mirror port or from capture files and writes flow
records in Elastic Common Schema.

Usage: mamori COMMAND [flags] [args]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "mamori COMMAND --help" for a command's flags and an example.
`)
}

// newFlags makes a FlagSet whose --help shows the usage line, the flags and
// an example.
func newFlags(name, args, about, example string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: mamori %s %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nExample:\n%s\n", example)
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, 0
		}
		return false, 2
	}
	// Flags stop at the first argument, so "mamori api token remove --help"
	// would take --help for a token's name: a help flag anywhere is help.
	for _, a := range fs.Args() {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.Usage()
			return false, 0
		}
	}
	return true, 0
}

// parseNoArgs is parse for commands that take flags only: a stray argument
// ("mamori pcap verify /srv/pcap" for --store /srv/pcap) is an error, not
// silently ignored while the command works on something else.
func parseNoArgs(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if ok, code := parse(fs, args); !ok {
		return ok, code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mamori %s: unexpected %q (it takes flags only)\n", fs.Name(), strings.Join(fs.Args(), " "))
		fs.Usage()
		return false, 2
	}
	return true, 0
}

func runReplay(ctx context.Context, args []string) int {
	fs := newFlags("replay", "[-c CONFIG] [-o OUT] FILE...",
		`Reads pcap and pcapng files (gzip-compressed too), merged in packet-time
order, through decoding and the flow table, and writes one ECS JSON record
per flow (interim records for long flows) and a final metric record with
the run's counters. Without -o the records go to a new file under the data
directory and a summary is printed. A file that cannot be read is reported
and the others are still read; the exit status is 1 when some input could
not be read at all, 3 when records could not be written.`,
		`  mamori replay testdata/pcaps/recorded/*.pcap
  mamori replay -c /etc/mamori/mamori.yaml -o - capture.pcapng.gz | jq -c 'select(.flow.final)'
  mamori replay --pcap-store /var/lib/mamori/pcap -o flows.ndjson capture.pcap
  mamori replay -c hospital.yaml --baseline baseline.json.gz -o out.ndjson tuesday.pcap`)
	cfgPath := fs.String("c", "", "configuration `file` (default: the embedded defaults; see mamori config)")
	out := fs.String("o", "", "write NDJSON records to `file`; - for standard output")
	quiet := fs.Bool("q", false, "print no summary")
	det := detectFlags(fs)
	pcapStore := fs.String("pcap-store", "", "also store the packets in the pcap store in `directory` (see mamori pcap)")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "mamori replay: no capture files given")
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori replay: %v\n", err)
		return 2
	}
	_, err = service.Replay(ctx, service.ReplayOptions{
		Config: cfg, Files: fs.Args(), Output: *out,
		Stdout: os.Stdout, Stderr: os.Stderr,
		Progress: service.IsTerminal(os.Stderr) && !*quiet, Quiet: *quiet,
		Detect:    det.options(),
		PcapStore: *pcapStore,
	})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, service.ErrInputsUnreadable):
		fmt.Fprintf(os.Stderr, "mamori replay: %v\n", err)
		return 1
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "mamori replay: interrupted; records up to here were written")
		return 130
	default:
		fmt.Fprintf(os.Stderr, "mamori replay: %v\n", err)
		return 3
	}
}

func runConfig(_ context.Context, args []string) int {
	fs := newFlags("config", "[print | check FILE | -check FILE]",
		"Prints the embedded default configuration (every key, documented), or\nchecks a configuration file and names the line of each problem.",
		"  mamori config > /etc/mamori/mamori.yaml\n  mamori config check /etc/mamori/mamori.yaml")
	check := fs.String("check", "", "check configuration `file` and exit")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	switch a := fs.Args(); {
	case len(a) == 0:
	case len(a) == 1 && a[0] == "print" && *check == "":
	case len(a) == 2 && a[0] == "check" && *check == "":
		*check = a[1]
	default:
		// "mamori config chek x.yaml" must not print the defaults and
		// succeed, as if x.yaml had been checked.
		fmt.Fprintf(os.Stderr, "mamori config: unexpected %q\n", strings.Join(a, " "))
		fs.Usage()
		return 2
	}
	if *check == "" {
		os.Stdout.Write(config.Default())
		return 0
	}
	if _, err := config.Load(*check); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	fmt.Printf("%s: ok\n", *check)
	return 0
}

func runVersion(_ context.Context, args []string) int {
	fs := newFlags("version", "", "Prints mamori's version.", "  mamori version")
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	fmt.Println("mamori", service.Version)
	return 0
}
