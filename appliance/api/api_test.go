package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/sensor/pcapstore"
)

const capture = "../../testdata/pcaps/smb/zeek_smb2.pcap"

type fixture struct {
	srv     *httptest.Server
	store   *pcapstore.Store
	alerts  *Alerts
	secrets map[string]string // role name → token secret
	dir     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg := pcapstore.DefaultConfig()
	cfg.Dir = filepath.Join(dir, "pcap")
	cfg.MinFree = -1
	w, err := pcapstore.OpenWriter(cfg, pcapstore.Options{Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pcapstore.Import(context.Background(), w, []string{capture}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	store, err := pcapstore.Open(cfg, pcapstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "api-tokens")
	f := &fixture{store: store, secrets: map[string]string{}, dir: dir}
	for _, r := range []string{"viewer", "analyst", "investigator"} {
		role, _ := ParseRole(r)
		if f.secrets[r], err = AddToken(tokens, r+"-user", role); err != nil {
			t.Fatal(err)
		}
	}
	if f.alerts, err = NewAlerts(3, filepath.Join(dir, "triage.jsonl")); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Listen: "127.0.0.1:0", RecentAlerts: 3}, tokens, Deps{
		Alerts: f.alerts, Store: store, Name: "test-sensor", Version: "t",
		Metrics: func() []event.MetricGroup {
			return []event.MetricGroup{
				{Name: "capture", Values: []event.MetricValue{{Name: "packets", Value: 42}, {Name: "kernel_drops", Value: 0}}},
				{Name: "worker_0", Values: []event.MetricValue{{Name: "packets", Value: 40}}},
				{Name: "worker_1", Values: []event.MetricValue{{Name: "packets", Value: 2}}},
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, role, method, path string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+f.secrets[role])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuthAndRoles(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, role, method, path string
		want                     int
	}{
		{"healthz needs no token", "", "GET", "/healthz", 200},
		{"console page needs no token", "", "GET", "/", 200},
		{"metrics without token", "", "GET", "/metrics", 401},
		{"alerts without token", "", "GET", "/api/v1/alerts", 401},
		{"pcap without token", "", "GET", "/api/v1/pcap?q=tcp&why=x", 401},
		{"viewer reads metrics", "viewer", "GET", "/metrics", 200},
		{"viewer reads alerts", "viewer", "GET", "/api/v1/alerts", 200},
		{"viewer may not triage", "viewer", "POST", "/api/v1/alerts/0123456789abcdef0123456789abcdef/triage", 403},
		{"viewer may not pull pcaps", "viewer", "GET", "/api/v1/pcap?q=tcp&why=x", 403},
		{"analyst may not pull pcaps", "analyst", "GET", "/api/v1/pcap?q=tcp&why=x", 403},
		{"investigator pulls pcaps", "investigator", "GET", "/api/v1/pcap?q=tcp&why=x", 200},
		{"unknown path", "viewer", "GET", "/api/v1/nothing", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := f.do(t, c.role, c.method, c.path, strings.NewReader(`{"status":"acknowledged"}`))
			if res.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.want, readAll(t, res.Body))
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing")
			}
		})
	}
	// A wrong token is refused like none.
	req, _ := http.NewRequest("GET", f.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer mamori_not-a-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("bad token: status %d", res.StatusCode)
	}
}

func TestTokenFileReloads(t *testing.T) {
	f := newFixture(t)
	tokens := filepath.Join(f.dir, "api-tokens")
	secret, err := AddToken(tokens, "late", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	// Make the change visible at once (mtime granularity, one-second check).
	past := time.Now().Add(-time.Hour)
	os.Chtimes(tokens, past, past)
	f.srv.Config.Handler.(*Server).tokens.checked = time.Time{}
	f.secrets["late"] = secret
	if res := f.do(t, "late", "GET", "/metrics", nil); res.StatusCode != 200 {
		t.Fatalf("a token added while running: status %d", res.StatusCode)
	}
	if _, err := AddToken(tokens, "late", RoleViewer); err == nil {
		t.Errorf("a second token with the same name was accepted")
	}
}

func TestMetricsText(t *testing.T) {
	f := newFixture(t)
	body := string(readAll(t, f.do(t, "viewer", "GET", "/metrics", nil).Body))
	for _, want := range []string{
		"# TYPE mamori_capture_packets untyped\nmamori_capture_packets 42\n",
		"mamori_capture_kernel_drops 0\n",
		"# TYPE mamori_worker_packets untyped\nmamori_worker_packets{worker=\"0\"} 40\nmamori_worker_packets{worker=\"1\"} 2\n",
		"mamori_api_alerts_new 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// promtool, when installed, checks the format independently.
	if p, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(p, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool: %v\n%s", err, out)
		}
	}
}

func testAlert(rule, key string, first time.Time) *event.Alert {
	return &event.Alert{
		Rule: event.AlertRule{ID: rule, Name: rule}, Key: key, At: first.Add(time.Minute), First: first, Last: first.Add(time.Minute),
		Action: "test", Severity: 3, Message: "test alert",
		Source:  event.AlertEndpoint{IP: netip.MustParseAddr("10.0.0.11")},
		Related: []netip.Addr{netip.MustParseAddr("10.0.0.11"), netip.MustParseAddr("10.0.0.12")},
		Pcap:    event.PcapQuery{Filter: "host 10.0.0.11 and host 10.0.0.12 and port 445"},
	}
}

func TestAlertsAndTriage(t *testing.T) {
	f := newFixture(t)
	t0 := time.Date(2026, 4, 7, 18, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 4 { // one more than RecentAlerts: the first goes
		a := testAlert("rdp-scan", string(rune('a'+i)), t0.Add(time.Duration(i)*time.Hour))
		f.alerts.Add(a)
		ids = append(ids, a.AlertID())
	}
	again := testAlert("rdp-scan", "c", t0.Add(2*time.Hour))
	again.Update = 1
	f.alerts.Add(again) // a re-raise replaces its episode and becomes newest

	var got struct {
		Alerts []struct {
			ID     string          `json:"id"`
			Triage Triage          `json:"triage"`
			Alert  json.RawMessage `json:"alert"`
		} `json:"alerts"`
		Counts map[string]int `json:"counts"`
	}
	load := func(q string) {
		t.Helper()
		res := f.do(t, "viewer", "GET", "/api/v1/alerts"+q, nil)
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
	}
	load("")
	if len(got.Alerts) != 3 || got.Alerts[0].ID != ids[2] || got.Alerts[1].ID != ids[3] || got.Alerts[2].ID != ids[1] {
		t.Fatalf("alerts %+v; want %s, %s, %s", got.Alerts, ids[2], ids[3], ids[1])
	}
	var ecs map[string]any
	if err := json.Unmarshal(got.Alerts[0].Alert, &ecs); err != nil || ecs["event"].(map[string]any)["id"] != ids[2] {
		t.Fatalf("the alert is not its ECS record: %v %s", err, got.Alerts[0].Alert)
	}

	res := f.do(t, "analyst", "POST", "/api/v1/alerts/"+ids[3]+"/triage", strings.NewReader(`{"status":"investigating","note":"チケット INC-42"}`))
	if res.StatusCode != 200 {
		t.Fatalf("triage: %d %s", res.StatusCode, readAll(t, res.Body))
	}
	for _, bad := range []string{`{"status":"closed"}`, `{"status":"resolved","extra":1}`, `not json`} {
		if res := f.do(t, "analyst", "POST", "/api/v1/alerts/"+ids[3]+"/triage", strings.NewReader(bad)); res.StatusCode != 400 {
			t.Errorf("triage body %s: status %d", bad, res.StatusCode)
		}
	}
	load("?status=investigating")
	if len(got.Alerts) != 1 || got.Alerts[0].ID != ids[3] || got.Alerts[0].Triage.Who != "analyst-user" || got.Alerts[0].Triage.Note != "チケット INC-42" {
		t.Fatalf("after triage: %+v", got.Alerts)
	}
	if got.Counts["investigating"] != 1 || got.Counts["new"] != 2 {
		t.Errorf("counts %v", got.Counts)
	}
	// A log that cannot be written is the server's fault, and the decision
	// does not take effect.
	f.alerts.log = f.dir // a directory: OpenFile fails
	if res := f.do(t, "analyst", "POST", "/api/v1/alerts/"+ids[3]+"/triage", strings.NewReader(`{"status":"resolved"}`)); res.StatusCode != 500 {
		t.Errorf("unwritable triage log: status %d", res.StatusCode)
	}
	if _, tr, _ := f.alerts.Get(ids[3]); tr.Status != "investigating" {
		t.Errorf("a decision that was not logged took effect: %+v", tr)
	}
	f.alerts.log = filepath.Join(f.dir, "triage.jsonl")
	// The triage log survives a restart.
	re, err := NewAlerts(3, filepath.Join(f.dir, "triage.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	re.Add(testAlert("rdp-scan", "d", t0.Add(3*time.Hour)))
	if _, tr, _ := re.Get(ids[3]); tr.Status != "investigating" || tr.Who != "analyst-user" {
		t.Errorf("after a restart: %+v", tr)
	}
	// A damaged log is refused with its line.
	os.WriteFile(filepath.Join(f.dir, "bad.jsonl"), []byte("{\"alert\":\"x\",\"status\":\"new\"}\n{oops\n"), 0o600)
	if _, err := NewAlerts(3, filepath.Join(f.dir, "bad.jsonl")); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2:") {
		t.Errorf("damaged triage log: %v", err)
	}
}

// pcapPackets counts the records of a classic pcap.
func pcapPackets(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) < 24 {
		t.Fatalf("not a pcap: %d bytes", len(b))
	}
	n := 0
	for p := 24; p < len(b); n++ {
		if p+16 > len(b) {
			t.Fatalf("torn record at %d", p)
		}
		p += 16 + int(binary.LittleEndian.Uint32(b[p+8:]))
	}
	return n
}

func TestPcapRetrieval(t *testing.T) {
	f := newFixture(t)
	const expr = "host 10.0.0.12 and tcp port 445"
	res := f.do(t, "investigator", "GET", "/api/v1/pcap?q="+strings.ReplaceAll(expr, " ", "+")+"&why=INC-42", nil)
	body := readAll(t, res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/vnd.tcpdump.pcap" {
		t.Fatalf("status %d %s: %.200s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	sum := sha256.Sum256(body)
	if got := res.Trailer.Get("X-Mamori-Sha256"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("trailer sha256 %q, body's %x", got, sum)
	}
	n := pcapPackets(t, body)
	if res.Trailer.Get("X-Mamori-Packets") == "" || res.Trailer.Get("X-Mamori-Packets") != strconv.Itoa(n) || n == 0 {
		t.Errorf("trailer packets %q, body has %d", res.Trailer.Get("X-Mamori-Packets"), n)
	}
	// The same packets as the store gives the command line.
	var direct bytes.Buffer
	if _, err := f.store.Export(context.Background(), pcapstore.Query{Expr: expr, Who: "test"}, &direct); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(direct.Bytes(), body) {
		t.Errorf("API result (%d bytes) differs from the store's (%d bytes)", len(body), direct.Len())
	}
	// And, independently, the packets tcpdump selects from the original.
	if tcpdump := testenv.RequireTool(t, "tcpdump"); tcpdump != "" {
		out, err := exec.Command(tcpdump, "-r", capture, "-w", "-", expr).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := pcapPackets(t, out); want != n {
			t.Errorf("API returned %d packets, tcpdump %d", n, want)
		}
	}
	// The audit log names the token, the client, the reason and the hash.
	audit, problems, err := f.store.Audit()
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	var found bool
	for _, e := range audit {
		if strings.HasPrefix(e.Who, "api:investigator-user from 127.0.0.1:") && e.Why == "INC-42" && e.Query == expr && e.SHA256 == hex.EncodeToString(sum[:]) && e.Packets == uint64(n) {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit entry for the retrieval: %+v", audit)
	}

	bad := []struct{ path, want string }{
		{"/api/v1/pcap?q=host+10.0.0.12+and&why=x", "column"},
		{"/api/v1/pcap?q=tcp", "why"},
		{"/api/v1/pcap?q=tcp&why=x&from=yesterday", "RFC 3339"},
		{"/api/v1/pcap?q=tcp&why=x&max_packets=-1", "max_packets"},
		{"/api/v1/alerts/not-an-id/pcap?why=x", "alert id"},
	}
	for _, b := range bad {
		res := f.do(t, "investigator", "GET", b.path, nil)
		msg := string(readAll(t, res.Body))
		if res.StatusCode != 400 || !strings.Contains(msg, b.want) {
			t.Errorf("%s: %d %s; want 400 mentioning %q", b.path, res.StatusCode, msg, b.want)
		}
	}
	// An alert's packets: by its query while it is in memory, 404 when
	// neither memory nor the store's pins know it.
	a := testAlert("smb-lateral", "x", time.Date(2011, 12, 6, 0, 0, 0, 0, time.UTC))
	a.Pcap.From, a.Pcap.To = time.Time{}, time.Time{}
	f.alerts.Add(a)
	res = f.do(t, "investigator", "GET", "/api/v1/alerts/"+a.AlertID()+"/pcap?why=INC-43", nil)
	if body := readAll(t, res.Body); res.StatusCode != 200 || pcapPackets(t, body) == 0 {
		t.Errorf("alert pcap: %d, %d bytes", res.StatusCode, len(body))
	}
	if res := f.do(t, "investigator", "GET", "/api/v1/alerts/0123456789abcdef0123456789abcdef/pcap?why=x", nil); res.StatusCode != 404 {
		t.Errorf("unknown alert: %d", res.StatusCode)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"off", Config{RecentAlerts: 10}, ""},
		{"loopback plain", Config{Listen: "127.0.0.1:8686", RecentAlerts: 10}, ""},
		{"ipv6 loopback", Config{Listen: "[::1]:8686", RecentAlerts: 10}, ""},
		{"lan plain refused", Config{Listen: "10.0.9.5:8686", RecentAlerts: 10}, "patient data"},
		{"all addresses plain refused", Config{Listen: ":8686", RecentAlerts: 10}, "not a loopback"},
		{"lan with TLS", Config{Listen: "10.0.9.5:8443", TLSCert: "c", TLSKey: "k", RecentAlerts: 10}, ""},
		{"lan plain allowed", Config{Listen: "10.0.9.5:8686", AllowPlainHTTP: true, RecentAlerts: 10}, ""},
		{"cert without key", Config{Listen: "127.0.0.1:1", TLSCert: "c", RecentAlerts: 10}, "go together"},
		{"no port", Config{Listen: "127.0.0.1", RecentAlerts: 10}, "host:port"},
		{"negative alerts", Config{RecentAlerts: -1}, "recent_alerts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	_, line, err := NewToken("alice", RoleInvestigator)
	if err != nil {
		t.Fatal(err)
	}
	good := "# comment\n\n" + line + "\n"
	toks, err := ParseTokens("f", []byte(good))
	if err != nil || len(toks) != 1 || toks[0].Name != "alice" || toks[0].Role != RoleInvestigator {
		t.Fatalf("%v %+v", err, toks)
	}
	for _, bad := range []struct{ text, want string }{
		{"alice viewer\n", "f:1: want NAME ROLE"},
		{"\nalice admin sha256:00\n", "f:2: unknown role"},
		{"alice viewer sha256:xyz\n", "64 hex digits"},
		{line + "\n" + line + "\n", "f:2: token name \"alice\" is used twice"},
	} {
		if _, err := ParseTokens("f", []byte(bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.text, err, bad.want)
		}
	}
}

func FuzzParseTokens(f *testing.F) {
	_, line, _ := NewToken("alice", RoleViewer)
	f.Add([]byte(line + "\n# c\nbob investigator sha256:" + strings.Repeat("ab", 32)))
	f.Add([]byte("x y z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := ParseTokens("f", data)
		if err != nil {
			return
		}
		for _, tk := range toks {
			if tk.Name == "" || tk.Role < RoleViewer || tk.Role > RoleInvestigator {
				t.Fatalf("accepted %+v", tk)
			}
		}
	})
}

func TestRemoveToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(path, []byte("# operators\n"), 0o600)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := AddToken(path, n, RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveToken(path, "b"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveToken(path, "b"); err == nil {
		t.Errorf("removing a missing token succeeded")
	}
	toks, err := ListTokens(path)
	if err != nil || len(toks) != 2 || toks[0].Name != "a" || toks[1].Name != "c" {
		t.Fatalf("%v %+v", err, toks)
	}
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), "# operators\n") {
		t.Errorf("comment lost: %q", data)
	}
}
