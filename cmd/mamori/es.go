package main

import (
	"context"
	"fmt"
	"os"

	"mamori/appliance/config"
	"mamori/appliance/service"
)

func runES(ctx context.Context, args []string) int {
	if len(args) == 0 || (args[0] != "setup" && args[0] != "check") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			esUsage(os.Stdout)
			return 0
		}
		esUsage(os.Stderr)
		return 2
	}
	sub := args[0]
	about := `Installs, idempotently, what mamori's data streams need: the ILM policy
mamori-400d (rollover at 50 GB or 30 days, warm at 30d, cold at 90d, deleted
400 days after rollover), the component templates mamori-mappings,
mamori-health-mappings and mamori-settings, and the index templates
logs-mamori and metrics-mamori (priority 501). Each carries a digest in
_meta: running setup again changes nothing unless mamori's assets changed.
With --kibana it also imports the data views, visualisations and the
"mamori overview" dashboard. Use an administrator's key (manage_ilm,
manage_index_templates), not the sensor's shipping key.`
	example := `  mamori es setup -c /etc/mamori/mamori.yaml
  mamori es setup -c /etc/mamori/mamori.yaml --kibana https://kibana.hospital.example:5601`
	if sub == "check" {
		about = `Reports whether the cluster has mamori's current ILM policy and templates
and lists mamori's data streams. Exit status 1 when something is missing
or outdated.`
		example = "  mamori es check -c /etc/mamori/mamori.yaml"
	}
	fs := newFlags("es "+sub, "-c CONFIG", about, example)
	cfgPath := fs.String("c", "", "configuration `file` with the elasticsearch: section")
	kibana := ""
	force := false
	if sub == "setup" {
		fs.StringVar(&kibana, "kibana", "", "also import the saved objects into Kibana at `URL`")
		fs.BoolVar(&force, "force", false, "install every asset even when it is current")
	}
	if ok, code := parseNoArgs(fs, args[1:]); !ok {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori es: %v\n", err)
		return 2
	}
	if len(cfg.Elasticsearch.URLs) == 0 {
		fmt.Fprintf(os.Stderr, "mamori es: %s: elasticsearch.urls is empty\n", cfg.File)
		return 2
	}
	if sub == "setup" {
		err = service.ESSetup(ctx, cfg, kibana, force, os.Stdout)
	} else {
		err = service.ESCheck(ctx, cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori es %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func esUsage(w *os.File) {
	fmt.Fprint(w, `Usage: mamori es setup|check -c CONFIG [flags]

  setup   install the ILM policy, component and index templates (idempotent);
          --kibana URL also imports the Kibana dashboards
  check   report whether they are installed and current; list data streams

Run "mamori es setup --help" for the flags and an example.
`)
}
