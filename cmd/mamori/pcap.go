package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"mamori/appliance/config"
	"mamori/appliance/service"
)

type pcapCommand struct {
	name, summary string
	run           func(ctx context.Context, args []string) int
}

var pcapCommands = []pcapCommand{
	{"query", "write the packets matching a tcpdump-style expression as pcap", runPcapQuery},
	{"evidence", "write an evidence package (pcap, alert, manifest lines, hashes) for an alert or query", runPcapEvidence},
	{"verify", "check every stored file against the hash-chained manifest", runPcapVerify},
	{"pin", "keep an alert's packets past retention and make them retrievable as \"alert ID\"", runPcapPin},
	{"ls", "list the store's files, pins and totals", runPcapList},
	{"import", "import capture files into a store (without the packet path)", runPcapImport},
	{"audit", "print the audit log of retrievals and check its hash chain", runPcapAudit},
}

func runPcap(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		w := os.Stdout
		if len(args) == 0 {
			w = os.Stderr
		}
		fmt.Fprint(w, `Usage: mamori pcap COMMAND [flags] [args]

The forensic packet store: packets kept on disk in a rolling ring of pcap
files with an index, retrieved by alert, flow, host, port and time, with
SHA-256 hashes in a hash-chained manifest and an audit log of every
retrieval. The store is --store DIR, or pcap_store.dir of the configuration
(-c), or <sensor.data_dir>/pcap.

Commands:
`)
		for _, c := range pcapCommands {
			fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
		}
		fmt.Fprint(w, "\nRun \"mamori pcap COMMAND --help\" for a command's flags and an example.\n")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range pcapCommands {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "mamori pcap: unknown command %q (see mamori pcap --help)\n", args[0])
	return 2
}

// storeFlags are the flags every pcap command has.
type storeFlags struct {
	cfgPath, dir string
}

func (sf *storeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&sf.cfgPath, "c", "", "configuration `file` (its pcap_store section; default: the embedded defaults)")
	fs.StringVar(&sf.dir, "store", "", "store `directory` (overrides the configuration)")
}

func (sf *storeFlags) config(cmd string) (*config.Config, bool) {
	if sf.cfgPath == "" && sf.dir != "" {
		// The embedded defaults are the packages' defaults (a config test
		// checks it): skip parsing them, which costs more than a query.
		return &config.Config{}, true
	}
	cfg, err := config.Load(sf.cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap %s: %v\n", cmd, err)
		return nil, false
	}
	return cfg, true
}

func (sf *storeFlags) open(cmd string) (*service.PcapStore, bool) {
	cfg, ok := sf.config(cmd)
	if !ok {
		return nil, false
	}
	s, err := service.OpenPcapStore(cfg, sf.dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap %s: %v\n", cmd, err)
		return nil, false
	}
	return s, true
}

// timeFlag parses --from/--to: RFC 3339, "2006-01-02 15:04:05[.nnn]" (UTC
// unless a zone is given), a date, or a duration before now ("-2h").
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(s string) error {
	t, err := parseTime(s, time.Now())
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

func parseTime(s string, now time.Time) (time.Time, error) {
	if strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: a duration before now such as -2h30m", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: use 2024-05-01T13:45:00+09:00, \"2024-05-01 04:45:00\" (UTC), 2024-05-01 or -2h", s)
}

// whoAmI names the person for the audit log: the sudo caller, else the
// login name.
func whoAmI() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

type sizeFlag struct{ n int64 }

func (f *sizeFlag) String() string { return fmt.Sprint(f.n) }
func (f *sizeFlag) Set(s string) error {
	n, err := service.ParseByteSize(s)
	f.n = n
	return err
}

func printQueryError(cmd string, err error) {
	var se *service.PcapSyntaxError
	if errors.As(err, &se) {
		fmt.Fprintf(os.Stderr, "mamori pcap %s: %s\n", cmd, se.Detail())
		return
	}
	fmt.Fprintf(os.Stderr, "mamori pcap %s: %v\n", cmd, err)
}

func runPcapQuery(ctx context.Context, args []string) int {
	fs := newFlags("pcap query", "[--store DIR | -c CONFIG] [--from T] [--to T] [-w OUT] EXPR...",
		`Writes the stored packets that match EXPR, in time order, as pcap (pcapng
when they span several link types) to OUT or standard output. EXPR is
tcpdump's language (host, net, port, portrange, src/dst, tcp, udp, icmp,
icmp6, ip, ip6, arp, proto N, and/or/not, parentheses; VLAN tags are looked
through) plus "community-id 1:…" (a flow record's network.community_id)
and "alert ID" (the packets pinned for an alert). The index finds the
candidate packets and an exact filter checks each. The result's packet
count, time range and SHA-256 go to standard error, and the query, who ran
it and the hash to the store's audit log.`,
		`  mamori pcap query --store /var/lib/mamori/pcap -w rdp.pcap 'host 10.1.2.3 and tcp port 3389'
  mamori pcap query --from '2024-05-01 01:00' --to '2024-05-01 03:00' -w - 'net 10.20.0.0/16 and not port 53' | tcpdump -nr -
  mamori pcap query -w alert.pcap 'alert rdp-scan-7f3a'
  mamori pcap query -w flow.pcap 'community-id 1:LQU9qZlK+B5F3KDmev6m5PMibrg='`)
	var sf storeFlags
	sf.add(fs)
	var from, to timeFlag
	fs.Var(&from, "from", "first packet `time` (RFC 3339, \"2006-01-02 15:04:05\" UTC, a date, or -2h)")
	fs.Var(&to, "to", "last packet `time`")
	out := fs.String("w", "", "write the pcap to `file`; - for standard output")
	maxPkts := fs.Int64("max-packets", 0, "stop after `n` packets (default: pcap_store.max_result_packets)")
	var maxBytes sizeFlag
	fs.Var(&maxBytes, "max-bytes", "stop before the result exceeds `size` (e.g. 500MiB)")
	who := fs.String("who", whoAmI(), "who asks, for the audit log")
	why := fs.String("why", "", "why (a case or ticket number), for the audit log")
	quiet := fs.Bool("q", false, "print nothing but errors")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	expr := strings.Join(fs.Args(), " ")
	if err := service.ParsePcapExpr(expr); err != nil {
		printQueryError("query", err)
		return 2
	}
	if *out == "" {
		if service.IsTerminal(os.Stdout) {
			fmt.Fprintln(os.Stderr, "mamori pcap query: say where the pcap goes: -w FILE, or -w - to pipe it")
			return 2
		}
		*out = "-"
	}
	s, ok := sf.open("query")
	if !ok {
		return 1
	}
	// A short-lived process whose garbage is the result's few buffers:
	// collect less often.
	debug.SetGCPercent(400)
	var w io.Writer = os.Stdout
	dest := "stdout"
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640); err != nil {
			fmt.Fprintf(os.Stderr, "mamori pcap query: %v\n", err)
			return 1
		}
		w, dest = f, *out
	}
	res, err := s.Export(ctx, service.PcapQuery{Expr: expr, From: from.t, To: to.t, MaxPackets: *maxPkts, MaxBytes: maxBytes.n,
		Who: *who, Why: *why, Output: dest}, w)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*out)
		}
	}
	if err != nil {
		printQueryError("query", err)
		return 1
	}
	if !*quiet {
		printResult(os.Stderr, dest, &res)
	}
	return 0
}

func printResult(w io.Writer, dest string, r *service.PcapResult) {
	fmt.Fprintf(w, "%s: %d packets, %d bytes (%s), sha256 %s\n", dest, r.Packets, r.Bytes, r.Format, r.SHA256)
	if r.Packets > 0 {
		fmt.Fprintf(w, "  packets from %s to %s\n", r.First.UTC().Format(time.RFC3339Nano), r.Last.UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintf(w, "  %d store files, %d candidate packets checked, %s\n", len(r.Files), r.Candidates, r.Elapsed.Round(time.Millisecond))
	if len(r.Scanned) > 0 {
		fmt.Fprintf(w, "  read without an index: %s\n", strings.Join(r.Scanned, ", "))
	}
	if r.Truncated {
		fmt.Fprintln(w, "  stopped at the packet or byte limit: there are more packets (raise --max-packets/--max-bytes)")
	}
}

func runPcapEvidence(ctx context.Context, args []string) int {
	fs := newFlags("pcap evidence", "[--store DIR | -c CONFIG] (--alert ID | EXPR...) -o DIR|FILE.tar --why TEXT",
		`Writes an evidence package for investigators: a directory (or a tar file
when OUT ends in .tar) holding the matching packets (packets.pcap), the
alert record(s) as JSON, the pin(s), the manifest lines of the store files
the packets came from (each with its SHA-256 and the hash chain), a
query.json and a README listing every file's SHA-256 and the times, and
SHA256SUMS for sha256sum -c. The package is recorded in the audit log.`,
		`  mamori pcap evidence --alert smb-lateral-0042 --why 'police case 2024-117' -o /media/usb/case-117.tar
  mamori pcap evidence --from 2024-05-01 --to 2024-05-02 --why 'incident 9' -o incident-9 'host 10.1.2.3'`)
	var sf storeFlags
	sf.add(fs)
	alert := fs.String("alert", "", "the alert `id` whose pinned packets to package")
	var from, to timeFlag
	fs.Var(&from, "from", "first packet `time`")
	fs.Var(&to, "to", "last packet `time`")
	out := fs.String("o", "", "package `directory`, or a file ending in .tar")
	who := fs.String("who", whoAmI(), "who asks")
	why := fs.String("why", "", "why: the case or request (required)")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	expr := strings.Join(fs.Args(), " ")
	switch {
	case *alert != "" && expr != "":
		expr = "alert " + *alert + " and (" + expr + ")"
	case *alert != "":
		expr = "alert " + *alert
	case expr == "":
		fmt.Fprintln(os.Stderr, "mamori pcap evidence: give --alert ID or an expression")
		return 2
	}
	if *out == "" || *why == "" {
		fmt.Fprintln(os.Stderr, "mamori pcap evidence: -o and --why are required")
		return 2
	}
	if err := service.ParsePcapExpr(expr); err != nil {
		printQueryError("evidence", err)
		return 2
	}
	s, ok := sf.open("evidence")
	if !ok {
		return 1
	}
	res, err := s.Evidence(ctx, service.PcapEvidenceRequest{
		Query: service.PcapQuery{Expr: expr, From: from.t, To: to.t, Who: *who, Why: *why},
		Out:   *out, Tool: "mamori " + service.Version})
	if err != nil {
		printQueryError("evidence", err)
		return 1
	}
	fmt.Printf("%s: %d packets", res.Out, res.Result.Packets)
	if res.SHA256 != "" {
		fmt.Printf(", tar sha256 %s", res.SHA256)
	}
	fmt.Println()
	for _, f := range res.Files {
		fmt.Printf("  %s  %s\n", f.SHA256, f.Name)
	}
	return 0
}

func runPcapVerify(ctx context.Context, args []string) int {
	fs := newFlags("pcap verify", "[--store DIR | -c CONFIG] [-q]",
		`Checks the manifest's hash chain, that every file it lists is present with
the SHA-256 recorded when it closed (and its index), that no file is there
that it does not list, and the audit log's chain. Prints each problem with
the file it concerns and exits 1 if there is any.`,
		`  mamori pcap verify --store /var/lib/mamori/pcap`)
	var sf storeFlags
	sf.add(fs)
	quiet := fs.Bool("q", false, "print only problems")
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	s, ok := sf.open("verify")
	if !ok {
		return 1
	}
	r, err := s.Verify(ctx, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap verify: %v\n", err)
		return 1
	}
	for _, p := range r.Problems {
		fmt.Printf("FAIL %s\n", p)
	}
	if !*quiet {
		fmt.Printf("%d files (%d bytes) checked, manifest %d lines, head %s\n", r.Files, r.Bytes, r.Lines, r.Head)
		fmt.Printf("audit log %d lines, head %s\n", r.Audit, r.AuditHead)
		for _, o := range r.Open {
			fmt.Printf("open (not yet closed): %s\n", o)
		}
	}
	if !r.OK() {
		fmt.Printf("verify FAILED: %d problems\n", len(r.Problems))
		return 1
	}
	if !*quiet {
		fmt.Println("verify ok")
	}
	return 0
}

func runPcapPin(ctx context.Context, args []string) int {
	fs := newFlags("pcap pin", "[--store DIR | -c CONFIG] --alert ID --from T --to T [--for DUR] [--record FILE] [EXPR...]",
		`Pins an alert: the files holding the packets that match EXPR between --from
and --to are kept past retention for --for (default pcap_store.pin_for),
and "alert ID" retrieves those packets. --record stores the alert's JSON
for evidence packages. Pinning the same alert again replaces its pin;
--for 0s ends it.`,
		`  mamori pcap pin --alert rdp-scan-7f3a --from '2024-05-01 01:58' --to '2024-05-01 02:10' --record alert.json 'host 10.1.2.3 and tcp port 3389'`)
	var sf storeFlags
	sf.add(fs)
	alert := fs.String("alert", "", "alert `id`")
	var from, to timeFlag
	fs.Var(&from, "from", "start of the alert's packets (`time`)")
	fs.Var(&to, "to", "end of the alert's packets (`time`)")
	keep := fs.Duration("for", 0, "keep the files this long from now (default pcap_store.pin_for)")
	record := fs.String("record", "", "the alert record (JSON `file`)")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if *alert == "" || from.t.IsZero() || to.t.IsZero() {
		fmt.Fprintln(os.Stderr, "mamori pcap pin: --alert, --from and --to are required")
		return 2
	}
	p := service.PcapPin{AlertID: *alert, From: from.t, To: to.t, Expr: strings.Join(fs.Args(), " ")}
	if *record != "" {
		b, err := os.ReadFile(*record)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mamori pcap pin: %v\n", err)
			return 1
		}
		p.Alert = json.RawMessage(b)
	}
	if isSet(fs, "for") {
		p.Until = time.Now().Add(*keep)
		if *keep <= 0 {
			p.Until = time.Now()
		}
	}
	s, ok := sf.open("pin")
	if !ok {
		return 1
	}
	if err := s.Pin(p); err != nil {
		printQueryError("pin", err)
		return 1
	}
	got, err := s.LookupPin(*alert)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap pin: %v\n", err)
		return 1
	}
	fmt.Printf("pinned %s: %s .. %s, kept until %s\n", got.AlertID, got.From.Format(time.RFC3339Nano), got.To.Format(time.RFC3339Nano), got.Until.Format(time.RFC3339))
	return 0
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func runPcapList(ctx context.Context, args []string) int {
	fs := newFlags("pcap ls", "[--store DIR | -c CONFIG]",
		"Lists the store's packet files (oldest first) with their packets, bytes\nand time range, the open file, the pins, and totals.",
		`  mamori pcap ls --store /var/lib/mamori/pcap`)
	var sf storeFlags
	sf.add(fs)
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	s, ok := sf.open("ls")
	if !ok {
		return 1
	}
	files, err := s.Files()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap ls: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tPACKETS\tBYTES\tINDEX\tFIRST\tLAST")
	var pkts uint64
	var bytes, idx int64
	for _, f := range files {
		first, last := "-", "-"
		if !f.First.IsZero() {
			first, last = f.First.UTC().Format(time.RFC3339), f.Last.UTC().Format(time.RFC3339)
		}
		state := fmt.Sprint(f.Index)
		if f.Open {
			state = "open"
		} else if !f.Indexed {
			state = "none"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", f.Name, f.Packets, f.Size, state, first, last)
		pkts += f.Packets
		bytes += f.Size
		idx += f.Index
	}
	tw.Flush()
	ratio := 0.0
	if bytes > 0 {
		ratio = 100 * float64(idx) / float64(bytes)
	}
	fmt.Printf("%d files, %d packets, %d bytes, index %d bytes (%.2f%% of the data)\n", len(files), pkts, bytes, idx, ratio)
	pins, err := s.Pins()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap ls: %v\n", err)
		return 1
	}
	now := time.Now()
	for _, p := range pins {
		state := "until " + p.Until.Format(time.RFC3339)
		if !p.Until.After(now) {
			state = "expired"
		}
		fmt.Printf("pin %s: %s .. %s %q, %s\n", p.AlertID, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Expr, state)
	}
	return 0
}

func runPcapImport(ctx context.Context, args []string) int {
	fs := newFlags("pcap import", "[--store DIR | -c CONFIG] FILE...",
		`Imports capture files (pcap, pcapng, gzip too; several are merged in
time order) into the store, creating it if needed, without decoding flows.
The files close by size and duration as in live capture; retention
applies. mamori replay --pcap-store DIR does the same while replaying.`,
		`  mamori pcap import --store /tmp/store testdata/pcaps/recorded/*.pcap`)
	var sf storeFlags
	sf.add(fs)
	quiet := fs.Bool("q", false, "print nothing but problems")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "mamori pcap import: no capture files given")
		return 2
	}
	cfg, ok := sf.config("import")
	if !ok {
		return 2
	}
	start := time.Now()
	st, err := service.ImportPcap(ctx, cfg, sf.dir, fs.Args(), func(err error) {
		fmt.Fprintf(os.Stderr, "mamori pcap import: %v\n", err)
	})
	if !*quiet {
		el := time.Since(start)
		fmt.Fprintf(os.Stderr, "%d packets (%d bytes) stored in %s (%.0f MB/s), %d files closed, %d deleted by retention\n",
			st.Packets, st.Bytes, el.Round(time.Millisecond), float64(st.Bytes)/1e6/el.Seconds(), st.FilesClosed, st.FilesDeleted)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap import: %v\n", err)
		return 1
	}
	if st.Lost+st.Dropped > 0 {
		fmt.Fprintf(os.Stderr, "mamori pcap import: %d packets not stored: %s\n", st.Lost+st.Dropped, st.LastError)
		return 1
	}
	return 0
}

func runPcapAudit(ctx context.Context, args []string) int {
	fs := newFlags("pcap audit", "[--store DIR | -c CONFIG] [--json]",
		"Prints the audit log: every export and evidence package, who, when,\nwhich query, how many packets and the SHA-256 of the result; and checks\nits hash chain (exit 1 if broken).",
		`  mamori pcap audit --store /var/lib/mamori/pcap`)
	var sf storeFlags
	sf.add(fs)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	s, ok := sf.open("audit")
	if !ok {
		return 1
	}
	entries, problems, err := s.Audit()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori pcap audit: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(os.Stdout)
	for _, e := range entries {
		if *asJSON {
			enc.Encode(e)
			continue
		}
		status := fmt.Sprintf("%d packets, sha256 %s", e.Packets, e.SHA256)
		if e.Error != "" {
			status = "failed: " + e.Error
		}
		fmt.Printf("%s  %-8s %-12s %q -> %s: %s\n", e.Time.Format(time.RFC3339), e.Op, e.Who, e.Query, e.Output, status)
	}
	for _, p := range problems {
		fmt.Printf("FAIL audit.jsonl line %d: %s\n", p.Line, p.Msg)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}
