package main

import (
	"context"
	"fmt"
	"strings"

	"mamori/appliance/service"
)

func runRules(_ context.Context, args []string) int {
	if len(args) > 0 && args[0] == "list" {
		args = args[1:]
	}
	fs := newFlags("rules", "[list] [-ja]",
		`Lists the detection rules: id (the key to disable it under rules:), the
MITRE ATT&CK techniques and tactics, the default severity, what it detects
and its alert text in English and Japanese.`,
		`  mamori rules list
  mamori rules list -ja`)
	ja := fs.Bool("ja", false, "show the Japanese text only")
	if ok, code := parseNoArgs(fs, args); !ok {
		return code
	}
	for _, r := range service.Rules() {
		fmt.Printf("%s — %s (default severity %s; configure under rules.%s)\n", r.ID, r.Name, r.Severity, r.ConfigKey)
		fmt.Printf("  ATT&CK: %s\n", strings.Join(r.Techniques, "; "))
		if !*ja {
			fmt.Printf("  %s\n  EN: %s\n", r.Description, r.Message[0])
		}
		fmt.Printf("  JA: %s\n\n", r.Message[1])
	}
	return 0
}
