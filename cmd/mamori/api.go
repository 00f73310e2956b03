package main

import (
	"context"
	"fmt"
	"os"

	"mamori/appliance/api"
	"mamori/appliance/config"
)

func runAPI(_ context.Context, args []string) int {
	fs := newFlags("api", "[-c CONFIG] token add NAME ROLE | token list | token remove NAME",
		`Manages the tokens of the appliance's HTTP API and triage console
(served by mamori run when api.listen is set; see mamori config). A token
has a name, which the logs and the pcap audit log record, and a role:
  viewer        health figures (/metrics), status, alerts
  analyst       and alert triage (status and note, kept in a log)
  investigator  and pcap retrieval (each one audited with its reason)
"token add" prints the new secret once: only its SHA-256 is kept, in
api.tokens (default <sensor.data_dir>/api-tokens, mode 0600). The running
sensor re-reads the file within a second: no restart is needed.`,
		`  sudo mamori api -c /etc/mamori/mamori.yaml token add soc-kibana viewer
  sudo mamori api -c /etc/mamori/mamori.yaml token add yamada investigator
  sudo mamori api -c /etc/mamori/mamori.yaml token list
  sudo mamori api -c /etc/mamori/mamori.yaml token remove yamada
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8686/metrics
  curl -H "Authorization: Bearer $TOKEN" -o alert.pcap \
    "http://127.0.0.1:8686/api/v1/alerts/$ALERT_ID/pcap?why=INC-2026-0042"`)
	cfgPath := fs.String("c", "", "configuration `file` (default: the embedded defaults)")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	a := fs.Args()
	if len(a) < 2 || a[0] != "token" {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mamori api: %v\n", err)
		return 2
	}
	path := api.TokensPath(cfg.API, cfg.Sensor.DataDir)
	switch {
	case a[1] == "add" && len(a) == 4:
		role, err := api.ParseRole(a[3])
		if err != nil {
			fmt.Fprintf(os.Stderr, "mamori api: %v\n", err)
			return 2
		}
		if err := os.MkdirAll(cfg.Sensor.DataDir, 0o750); err != nil && cfg.API.Tokens == "" {
			fmt.Fprintf(os.Stderr, "mamori api: %v\n", err)
			return 1
		}
		secret, err := api.AddToken(path, a[2], role)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mamori api: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "token %q (%s) added to %s; the secret is shown only now:\n", a[2], role, path)
		fmt.Println(secret)
	case a[1] == "list" && len(a) == 2:
		toks, err := api.ListTokens(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mamori api: %v\n", err)
			return 1
		}
		if len(toks) == 0 {
			fmt.Fprintf(os.Stderr, "no tokens in %s\n", path)
		}
		for _, t := range toks {
			fmt.Printf("%-24s %s\n", t.Name, t.Role)
		}
	case a[1] == "remove" && len(a) == 3:
		if err := api.RemoveToken(path, a[2]); err != nil {
			fmt.Fprintf(os.Stderr, "mamori api: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "token %q removed from %s\n", a[2], path)
	default:
		fs.Usage()
		return 2
	}
	return 0
}
