package api

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mamori/pipeline/event"
	"mamori/sensor/pcapstore"
)

// Deps is what the server serves from. Every field but Log may be nil:
// the endpoints that need a missing one answer 503.
type Deps struct {
	Log      *slog.Logger
	Observer *event.Observer // for the alerts' ECS JSON
	Alerts   *Alerts
	// Metrics returns the latest health figures (the groups of the last
	// health record).
	Metrics func() []event.MetricGroup
	// Store is the pcap store retrievals read.
	Store *pcapstore.Store
	// Name and Version describe the sensor in /api/v1/status.
	Name, Version string
	// Now is the wall clock (time.Now when nil).
	Now func() time.Time
}

// Server is the appliance's HTTP API and console.
type Server struct {
	cfg     Config
	deps    Deps
	tokens  *tokenFile
	started time.Time
	mux     *http.ServeMux
}

//go:embed console
var consoleFS embed.FS

type ctxKey struct{}

// New builds the server; tokensPath is the token file (it need not exist
// yet: until it does, no token is valid).
func New(cfg Config, tokensPath string, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Server{cfg: cfg, deps: deps, tokens: &tokenFile{path: tokensPath}, started: deps.Now(), mux: http.NewServeMux()}
	static, err := fs.Sub(consoleFS, "console")
	if err != nil {
		return nil, err
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.Handle("GET /{$}", http.FileServerFS(static))
	s.mux.Handle("GET /console.js", http.FileServerFS(static))
	s.mux.Handle("GET /console.css", http.FileServerFS(static))
	s.mux.Handle("GET /favicon.svg", http.FileServerFS(static))
	s.mux.HandleFunc("GET /metrics", s.auth(RoleViewer, s.metrics))
	s.mux.HandleFunc("GET /api/v1/status", s.auth(RoleViewer, s.status))
	s.mux.HandleFunc("GET /api/v1/alerts", s.auth(RoleViewer, s.alerts))
	s.mux.HandleFunc("POST /api/v1/alerts/{id}/triage", s.auth(RoleAnalyst, s.triage))
	s.mux.HandleFunc("GET /api/v1/alerts/{id}/pcap", s.auth(RoleInvestigator, s.alertPcap))
	s.mux.HandleFunc("GET /api/v1/pcap", s.auth(RoleInvestigator, s.pcap))
	return s, nil
}

// ServeHTTP implements http.Handler, with the security headers every
// response carries.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// Serve answers on ln until ctx is done, then shuts down (waiting up to
// five seconds for requests in flight).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.deps.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if s.cfg.TLS() {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	done := make(chan error, 1)
	go func() {
		if s.cfg.TLS() {
			done <- srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-done
		return err
	}
}

// auth admits requests whose bearer token has at least role, and logs
// every request with the token's name.
func (s *Server) auth(role Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		who := "-"
		defer func() {
			s.deps.Log.Info("api", "who", who, "client", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "status", sw.code())
		}()
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="mamori"`)
			httpError(sw, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN; see mamori api token add)")
			return
		}
		tok, found, err := s.tokens.lookup(strings.TrimSpace(secret), s.deps.Now())
		switch {
		case err != nil:
			s.deps.Log.Error("api tokens", "err", err)
			httpError(sw, http.StatusServiceUnavailable, "the token file cannot be read; see the sensor's log")
			return
		case !found:
			sw.Header().Set("WWW-Authenticate", `Bearer realm="mamori", error="invalid_token"`)
			httpError(sw, http.StatusUnauthorized, "unknown token")
			return
		}
		who = tok.Name
		if tok.Role < role {
			httpError(sw, http.StatusForbidden, fmt.Sprintf("token %q has role %s; this needs %s", tok.Name, tok.Role, role))
			return
		}
		h(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, tok)))
	}
}

func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	var groups []event.MetricGroup
	if s.deps.Metrics != nil {
		groups = s.deps.Metrics()
	}
	up := event.MetricGroup{Name: "api", Values: []event.MetricValue{
		{Name: "uptime_seconds", Value: uint64(s.deps.Now().Sub(s.started) / time.Second)},
	}}
	if s.deps.Alerts != nil {
		counts := s.deps.Alerts.Counts()
		for _, st := range triageStatuses {
			up.Values = append(up.Values, event.MetricValue{Name: "alerts_" + st, Value: uint64(counts[st])})
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := writeMetrics(w, append(groups, up)); err != nil {
		s.deps.Log.Warn("api metrics", "err", err)
	}
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{
		"sensor":     s.deps.Name,
		"version":    s.deps.Version,
		"started":    s.started.UTC().Format(time.RFC3339),
		"uptime_s":   int64(s.deps.Now().Sub(s.started) / time.Second),
		"pcap_store": s.deps.Store != nil,
	}
	if s.deps.Alerts != nil {
		out["alerts"] = s.deps.Alerts.Counts()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	if s.deps.Alerts == nil {
		httpError(w, http.StatusServiceUnavailable, "detection is off on this sensor")
		return
	}
	limit := 100
	if v := r.FormValue("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			httpError(w, http.StatusBadRequest, "limit: want 1 to 10000")
			return
		}
		limit = n
	}
	status := r.FormValue("status")
	if status != "" && !slices.Contains(triageStatuses, status) {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("status: want one of %v", triageStatuses))
		return
	}
	type item struct {
		ID     string          `json:"id"`
		Triage Triage          `json:"triage"`
		Alert  json.RawMessage `json:"alert"` // the ECS record, as shipped
	}
	obs := s.deps.Observer
	if obs == nil {
		obs = &event.Observer{}
	}
	views := s.deps.Alerts.List(limit, status)
	items := make([]item, 0, len(views))
	for _, v := range views {
		items = append(items, item{ID: v.Alert.AlertID(), Triage: v.Triage, Alert: v.Alert.AppendJSON(nil, obs)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": items, "counts": s.deps.Alerts.Counts()})
}

func (s *Server) triage(w http.ResponseWriter, r *http.Request) {
	if s.deps.Alerts == nil {
		httpError(w, http.StatusServiceUnavailable, "detection is off on this sensor")
		return
	}
	id := r.PathValue("id")
	if !validAlertID(id) {
		httpError(w, http.StatusBadRequest, "not an alert id")
		return
	}
	var body struct {
		Status string `json:"status"`
		Note   string `json:"note"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		httpError(w, http.StatusBadRequest, "body: want {\"status\": \"acknowledged\", \"note\": \"…\"}: "+err.Error())
		return
	}
	tok := r.Context().Value(ctxKey{}).(Token)
	t := Triage{Alert: id, Status: body.Status, Note: body.Note, Who: tok.Name, At: s.deps.Now().UTC()}
	if err := s.deps.Alerts.SetTriage(t); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrInvalidTriage) {
			code = http.StatusBadRequest
		}
		httpError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) alertPcap(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validAlertID(id) {
		httpError(w, http.StatusBadRequest, "not an alert id")
		return
	}
	q := pcapstore.Query{Expr: "alert " + id} // the store's pin, when the alert is not in memory
	if s.deps.Alerts != nil {
		if a, _, ok := s.deps.Alerts.Get(id); ok && a.Pcap.Filter != "" {
			q = pcapstore.Query{Expr: a.Pcap.Filter, From: a.Pcap.From, To: a.Pcap.To}
		}
	}
	s.export(w, r, q, "alert-"+id)
}

func (s *Server) pcap(w http.ResponseWriter, r *http.Request) {
	q := pcapstore.Query{Expr: r.FormValue("q")}
	var err error
	if q.From, err = formTime(r, "from"); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.To, err = formTime(r, "to"); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.export(w, r, q, "query")
}

// export streams q's packets as a pcap. Headers go out with the first
// byte, so an error before it (a bad expression, an unknown alert) is a
// proper status; one after it aborts the response, which the client sees
// as a broken transfer rather than a short but valid-looking pcap.
func (s *Server) export(w http.ResponseWriter, r *http.Request, q pcapstore.Query, name string) {
	if s.deps.Store == nil {
		httpError(w, http.StatusServiceUnavailable, "this sensor keeps no packets (pcap_store is off)")
		return
	}
	q.Why = strings.TrimSpace(r.FormValue("why"))
	if q.Why == "" {
		httpError(w, http.StatusBadRequest, "why: say why the packets are needed (a case or ticket number); it goes to the audit log")
		return
	}
	for _, lim := range []struct {
		key string
		dst *int64
	}{{"max_packets", &q.MaxPackets}, {"max_bytes", &q.MaxBytes}} {
		if v := r.FormValue(lim.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				httpError(w, http.StatusBadRequest, lim.key+": want a positive number")
				return
			}
			*lim.dst = n
		}
	}
	if _, err := pcapstore.ParseExpr(q.Expr); err != nil {
		var se *pcapstore.SyntaxError
		if errors.As(err, &se) {
			httpError(w, http.StatusBadRequest, se.Detail())
			return
		}
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	tok := r.Context().Value(ctxKey{}).(Token)
	q.Who = "api:" + tok.Name + " from " + r.RemoteAddr
	q.Output = "http response"
	w.Header().Set("Trailer", "X-Mamori-Sha256, X-Mamori-Packets, X-Mamori-Truncated")
	lw := &lazyWriter{w: w, start: func(h http.Header) {
		h.Set("Content-Type", "application/vnd.tcpdump.pcap")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="mamori-%s-%s.pcap"`, name, s.deps.Now().UTC().Format("20060102T150405Z")))
	}}
	res, err := s.deps.Store.Export(r.Context(), q, lw)
	if err != nil {
		if lw.started {
			s.deps.Log.Error("api pcap export failed mid-stream", "who", tok.Name, "query", q.Expr, "err", err)
			panic(http.ErrAbortHandler)
		}
		code := http.StatusInternalServerError
		var se *pcapstore.SyntaxError
		switch {
		case errors.Is(err, pcapstore.ErrNotFound):
			code = http.StatusNotFound
		case errors.As(err, &se):
			code = http.StatusBadRequest
		}
		httpError(w, code, err.Error())
		return
	}
	if !lw.started { // nothing written at all: still a response
		lw.start(w.Header())
		w.WriteHeader(http.StatusOK)
	}
	w.Header().Set("X-Mamori-Sha256", res.SHA256)
	w.Header().Set("X-Mamori-Packets", strconv.FormatUint(res.Packets, 10))
	w.Header().Set("X-Mamori-Truncated", strconv.FormatBool(res.Truncated))
}

// lazyWriter sets the success headers on the first write.
type lazyWriter struct {
	w       http.ResponseWriter
	start   func(http.Header)
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.start(l.w.Header())
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush lets streamed responses reach the client as they go.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

func formTime(r *http.Request, key string) (time.Time, error) {
	v := r.FormValue(key)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q: want RFC 3339, e.g. 2026-11-23T03:10:00+09:00", key, v)
	}
	return t, nil
}

// validAlertID accepts alert ids (32 hex digits) and nothing that could
// change the meaning of an "alert ID" expression.
func validAlertID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
