package event

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAppendState checks a state record's members: the common header and
// observer of every record, the event object, and the body's own members.
func TestAppendState(t *testing.T) {
	at := time.Date(2026, 4, 7, 18, 0, 0, 5, time.UTC)
	h := StateHead{At: at, Categories: []string{"host", "network"}, Type: "change", Action: "link_down", Message: "eth1 down", Interface: "eth1"}
	b := AppendState(nil, &Observer{Hostname: "s1", Version: "v"}, &h, func(w *JSON) {
		w.Object("mamori")
		w.Bool("up", false)
		w.End()
	})
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	want := map[string]any{
		"@timestamp":  "2026-04-07T18:00:00.000000005Z",
		"ecs":         map[string]any{"version": ECSVersion},
		"data_stream": map[string]any{"type": "logs", "dataset": "mamori.state", "namespace": "default"},
		"event": map[string]any{"kind": "state", "category": []any{"host", "network"}, "type": []any{"change"},
			"action": "link_down", "dataset": "mamori.state", "module": "mamori"},
		"message": "eth1 down",
		"observer": map[string]any{"type": "sensor", "vendor": "mamori", "product": "mamori", "version": "v", "hostname": "s1",
			"ingress": map[string]any{"interface": map[string]any{"name": "eth1"}}},
		"host":   map[string]any{"name": "s1"},
		"mamori": map[string]any{"up": false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
