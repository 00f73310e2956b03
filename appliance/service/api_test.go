package service

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/appliance/api"
	"mamori/appliance/config"
	"mamori/pipeline/event"
)

// TestStartAPI starts the live run's API on a loopback port with a real
// store and checks that it serves metrics and the alerts fed to it, that
// it refuses requests without a token, and that it stops with its context.
func TestStartAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, "sensor: {data_dir: "+dir+"}\napi: {listen: 127.0.0.1:0}\n")
	w, err := OpenPcapWriter(cfg, "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	secret, err := api.AddToken(api.TokensPath(cfg.API, cfg.Sensor.DataDir), "soc", api.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	metrics := func() []event.MetricGroup {
		st := w.Stats()
		return []event.MetricGroup{storeGroup(&st)}
	}
	s, err := startAPI(ctx, cfg, slog.New(slog.DiscardHandler), observer(cfg), w.Store(), true, metrics)
	if err != nil {
		t.Fatal(err)
	}
	s.add(&event.Alert{Rule: event.AlertRule{ID: "rdp-scan"}, Key: "10.0.0.9", First: time.Unix(1e9, 0), At: time.Unix(1e9, 0),
		Source: event.AlertEndpoint{IP: netip.MustParseAddr("10.0.0.9")}})
	s.add(&event.Flow{}) // not an alert: ignored

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+s.addr.String()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get("/metrics", ""); code != 401 {
		t.Errorf("metrics without a token: %d", code)
	}
	if code, body := get("/metrics", secret); code != 200 || !strings.Contains(body, "mamori_pcap_store_dropped 0") || !strings.Contains(body, "mamori_api_alerts_new 1") {
		t.Errorf("metrics: %d\n%s", code, body)
	}
	if code, body := get("/api/v1/alerts", secret); code != 200 || !strings.Contains(body, `"rule":{"id":"rdp-scan"`) {
		t.Errorf("alerts: %d %s", code, body)
	}
	if _, err := startAPI(ctx, cfg, slog.New(slog.DiscardHandler), observer(cfg), nil, false, nil); err != nil {
		t.Errorf("a second server on port 0: %v", err)
	}
	cfg.API.Listen = s.addr.String()
	if _, err := startAPI(ctx, cfg, slog.New(slog.DiscardHandler), observer(cfg), nil, false, nil); err == nil {
		t.Errorf("a second server on a port in use started")
	}
	cancel()
	done := make(chan struct{})
	go func() { s.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the API did not stop with its context")
	}
	if filepath.Dir(api.TokensPath(cfg.API, cfg.Sensor.DataDir)) != dir {
		t.Errorf("tokens not under the data directory")
	}
}

func loadConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	base, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("test.yaml", []byte(text), base)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
