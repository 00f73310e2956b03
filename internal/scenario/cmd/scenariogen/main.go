// Command scenariogen writes a simulated hospital scenario to a directory:
// the site configuration, a capture per normal day to learn from, the
// attack day's capture and the labels of its attack episodes and near
// misses.
//
//	go run ./internal/scenario/cmd/scenariogen -seed 3 -o /tmp/hospital3
//	mamori baseline learn -c /tmp/hospital3/site.yaml -o /tmp/hospital3/base.json.gz /tmp/hospital3/learn-*.pcap
//	mamori replay -c /tmp/hospital3/site.yaml --baseline /tmp/hospital3/base.json.gz -o /tmp/hospital3/out.ndjson /tmp/hospital3/attack.pcap
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"mamori/internal/scenario"
)

func main() {
	fs := flag.NewFlagSet("scenariogen", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "the scenario's `seed`: host counts, addresses, ports, periods, times")
	out := fs.String("o", "", "write the scenario into `directory` (created if needed)")
	ws := fs.Int("workstations", 0, "clinical workstations (0: drawn from the seed, 20–50)")
	days := fs.Int("learn-days", 0, "normal days before the attack day (0: drawn from the seed, 3–5)")
	score := fs.String("score", "", "instead of writing a scenario, score mamori's NDJSON output `file` against DIR/labels.json (-o DIR)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: scenariogen -seed N -o DIR

Writes a simulated hospital (HIS, PACS, department, device, DMZ and vendor
segments) as captures with protocol-correct packets: DIR/site.yaml (the
site facts for mamori -c), DIR/learn-N.pcap (one per normal day),
DIR/attack.pcap (the attack day and the next morning) and DIR/labels.json
(the attack episodes each rule must report and the near misses none may).

labels.json lists, per label: the rule, a name, the actor (and peer) an
alert must name as source, destination or related address, the span its
evidence must start in (an hour's slack either side), near_miss for
traffic no alert may match, and alert_by where the first alert has a
deadline. With -score, scenariogen prints per-rule recall and precision of
a replay's alerts against those labels; it exits 1 when a rule is below
0.95 or a near miss alerted.

Example:
  go run ./internal/scenario/cmd/scenariogen -seed 3 -o /tmp/h3
  mamori baseline learn -c /tmp/h3/site.yaml -o /tmp/h3/base.json.gz /tmp/h3/learn-*.pcap
  mamori replay -c /tmp/h3/site.yaml --baseline /tmp/h3/base.json.gz -o /tmp/h3/out.ndjson /tmp/h3/attack.pcap
  go run ./internal/scenario/cmd/scenariogen -o /tmp/h3 -score /tmp/h3/out.ndjson

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *out == "" {
		fmt.Fprintln(os.Stderr, "scenariogen: -o DIR is required")
		fs.Usage()
		os.Exit(2)
	}
	if *score != "" {
		os.Exit(runScore(*score, filepath.Join(*out, "labels.json")))
	}
	s := scenario.Generate(scenario.Config{Seed: *seed, Workstations: *ws, LearnDays: *days})
	files, err := s.Write(*out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenariogen: %v\n", err)
		os.Exit(1)
	}
	lp, lb, ap, ab := s.Packets()
	attacks, near := 0, 0
	for _, l := range s.Labels {
		if l.NearMiss {
			near++
		} else {
			attacks++
		}
	}
	fmt.Printf("seed %d: %d learning days (%d packets, %.1f MB), attack day %s (%d packets, %.1f MB), %d attack labels, %d near misses\n",
		*seed, len(files.Learn), lp, float64(lb)/1e6, s.AttackDay.Format("2006-01-02 Mon"), ap, float64(ab)/1e6, attacks, near)
	fmt.Printf("written: %s, %s, %d learn-N.pcap, %s\n", files.Site, files.Attack, len(files.Learn), files.Labels)
}

func runScore(ndjson, labels string) int {
	ls, err := scenario.ReadLabels(labels)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenariogen: %v\n", err)
		return 2
	}
	f, err := os.Open(ndjson)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenariogen: %v\n", err)
		return 2
	}
	defer f.Close()
	scores, err := scenario.Score(f, ls)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenariogen: %v\n", err)
		return 2
	}
	scenario.WriteScore(os.Stdout, scores)
	for _, s := range scores {
		if len(s.NearMisses) > 0 || s.Labelled > 0 && float64(s.Found) < 0.95*float64(s.Labelled) ||
			s.Episodes > 0 && float64(s.Matching) < 0.95*float64(s.Episodes) {
			return 1
		}
	}
	return 0
}
