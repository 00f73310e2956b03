package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
)

// liveConfig returns a configuration for the cluster named by MAMORI_ES_URL
// (credentials in the URL, or MAMORI_ES_API_KEY; MAMORI_ES_CA_FINGERPRINT
// for a self-signed certificate) and skips the test when it is unset.
func liveConfig(t *testing.T) Config {
	u := os.Getenv("MAMORI_ES_URL")
	if u == "" {
		t.Skip("MAMORI_ES_URL not set: skipping live Elasticsearch test")
	}
	cfg := Config{Enabled: true, APIKey: os.Getenv("MAMORI_ES_API_KEY"), CAFingerprint: os.Getenv("MAMORI_ES_CA_FINGERPRINT")}
	if p, err := url.Parse(u); err == nil && p.User != nil {
		cfg.Username = p.User.Username()
		cfg.Password, _ = p.User.Password()
		p.User = nil
		u = p.String()
	}
	cfg.URLs = []string{u}
	return cfg
}

// TestLive installs the assets, ships flows and an alert into a namespace
// of its own, checks the data streams and searches the documents, imports
// the Kibana objects when MAMORI_KIBANA_URL is set, and deletes its data
// streams.
func TestLive(t *testing.T) {
	cfg := liveConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Setup(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	_, res, err := Setup(ctx, c, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != "unchanged" {
			t.Errorf("second setup: %s %s", r.Action, r.Asset.Name)
		}
	}
	ns := fmt.Sprintf("mamoritest%d", time.Now().UnixNano()%1e9)
	obs := &event.Observer{Hostname: "mamori-live-test", Namespace: ns}
	cfg.Spool.Dir = t.TempDir()
	cfg.FlushInterval = 100 * time.Millisecond
	o, err := New(cfg, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		o.Write(mkFlow(i))
	}
	o.Write(mkAlert(1))
	o.Write(mkAlert(1)) // a second send of the same alert is a 409
	if err := o.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	o.Close()
	flows, alerts := "logs-mamori.flow-"+ns, "logs-mamori.alert-"+ns
	t.Cleanup(func() {
		do(context.Background(), c, http.MethodDelete, "/_data_stream/"+flows+","+alerts, nil)
	})
	for _, ds := range []string{flows, alerts} {
		body, err := do(ctx, c, http.MethodGet, "/_data_stream/"+ds, nil)
		if err != nil || !strings.Contains(string(body), `"template":"logs-mamori"`) {
			t.Fatalf("%s: %v %s", ds, err, body)
		}
	}
	do(ctx, c, http.MethodPost, "/"+flows+","+alerts+"/_refresh", nil)
	for ds, want := range map[string]int{flows: 100, alerts: 1} {
		body, err := do(ctx, c, http.MethodGet, "/"+ds+"/_count", nil)
		var n struct{ Count int }
		json.Unmarshal(body, &n)
		if err != nil || n.Count != want {
			t.Fatalf("%s: %d documents, want %d (%v)", ds, n.Count, want, err)
		}
	}
	body, _ := do(ctx, c, http.MethodGet, "/"+flows+"/_mapping/field/source.ip,event.duration,@timestamp", nil)
	for _, want := range []string{`"type":"ip"`, `"type":"long"`, `"type":"date"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("mapping lacks %s: %s", want, body)
		}
	}
	if k := os.Getenv("MAMORI_KIBANA_URL"); k != "" {
		if _, err := ImportKibana(ctx, k, cfg, nil); err != nil {
			t.Fatal(err)
		}
	}
}
