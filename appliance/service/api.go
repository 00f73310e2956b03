package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"mamori/appliance/api"
	"mamori/appliance/config"
	"mamori/pipeline/event"
	"mamori/sensor/pcapstore"
)

// apiServer is the appliance API of a live run: it serves until the run's
// context ends.
type apiServer struct {
	alerts *api.Alerts // fed by the detection stage; nil when detection is off
	addr   net.Addr
	done   chan struct{}
}

// startAPI serves the appliance API on api.listen (nil, nil when it is
// empty). store is the live run's pcap store (nil when the run keeps no
// packets); metrics returns the current health figures; detect says
// whether alerts will be fed. The listener is opened before it returns,
// so a wrong address or a port in use stops the run at start.
func startAPI(ctx context.Context, cfg *config.Config, log *slog.Logger, obs *event.Observer, store *pcapstore.Store,
	detect bool, metrics func() []event.MetricGroup) (*apiServer, error) {
	if cfg.API.Listen == "" {
		return nil, nil
	}
	if err := os.MkdirAll(cfg.Sensor.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &apiServer{done: make(chan struct{})}
	deps := api.Deps{Log: log.With("component", "api"), Observer: obs, Metrics: metrics, Store: store, Name: cfg.Sensor.Name, Version: Version}
	if detect {
		alerts, err := api.NewAlerts(cfg.API.RecentAlerts, filepath.Join(cfg.Sensor.DataDir, "triage.jsonl"))
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		s.alerts, deps.Alerts = alerts, alerts
	}
	tokens := api.TokensPath(cfg.API, cfg.Sensor.DataDir)
	srv, err := api.New(cfg.API, tokens, deps)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.addr = ln.Addr()
	if _, err := os.Stat(tokens); errors.Is(err, os.ErrNotExist) {
		log.Warn("api: no token file yet: every request will be refused until one is added (mamori api token add NAME ROLE)", "tokens", tokens)
	}
	log.Info("api listening", "address", s.addr.String(), "tls", cfg.API.TLS(), "tokens", tokens)
	go func() {
		defer close(s.done)
		if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("api stopped", "err", err)
		}
	}()
	return s, nil
}

// add feeds an alert to the console; it is a no-op on a nil server.
func (s *apiServer) add(r event.Record) {
	if s == nil || s.alerts == nil {
		return
	}
	if a, ok := r.(*event.Alert); ok {
		s.alerts.Add(a)
	}
}

// wait returns when the server has shut down.
func (s *apiServer) wait() {
	if s != nil {
		<-s.done
	}
}
