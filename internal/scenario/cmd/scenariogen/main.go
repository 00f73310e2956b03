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

	"mamori/internal/scenario"
)

func main() {
	fs := flag.NewFlagSet("scenariogen", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "the scenario's `seed`: host counts, addresses, ports, periods, times")
	out := fs.String("o", "", "write the scenario into `directory` (created if needed)")
	ws := fs.Int("workstations", 0, "clinical workstations (0: drawn from the seed, 20–50)")
	days := fs.Int("learn-days", 0, "normal days before the attack day (0: drawn from the seed, 3–5)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: scenariogen -seed N -o DIR

Writes a simulated hospital (HIS, PACS, department, device, DMZ and vendor
segments) as captures with protocol-correct packets: DIR/site.yaml (the
site facts for mamori -c), DIR/learn-N.pcap (one per normal day),
DIR/attack.pcap (the attack day and the next morning) and DIR/labels.json
(the attack episodes each rule must report and the near misses none may).

Example:
  go run ./internal/scenario/cmd/scenariogen -seed 3 -o /tmp/h3
  mamori baseline learn -c /tmp/h3/site.yaml -o /tmp/h3/base.json.gz /tmp/h3/learn-*.pcap
  mamori replay -c /tmp/h3/site.yaml --baseline /tmp/h3/base.json.gz -o /tmp/h3/out.ndjson /tmp/h3/attack.pcap

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
