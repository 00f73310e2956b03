package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"mamori/internal/testenv"
)

// TestConsoleInBrowser drives the triage console in headless Chromium
// (through ChromeDriver's WebDriver protocol) against a real API server:
// sign in with a token, list the alerts, open one, set its triage state
// with a note, download its packets with a reason, and see a viewer's
// triage refused. Each step is checked on the server's side too (the
// triage log, the pcap store's audit log), and the page must raise no
// JavaScript error.
func TestConsoleInBrowser(t *testing.T) {
	driver := testenv.RequireTool(t, "chromedriver")
	browser := testenv.RequireTool(t, "chromium")
	f := newFixture(t)
	t0 := time.Date(2011, 12, 6, 0, 0, 0, 0, time.UTC) // the capture's day, so the pcap has packets
	var ids []string
	for i, rule := range []string{"rdp-scan", "smb-lateral", "night-beacon"} {
		a := testAlert(rule, "k", t0.Add(time.Duration(i)*time.Minute))
		a.MessageJA = "端末をネットワークから切り離してください（" + rule + "）"
		a.Pcap.From, a.Pcap.To = time.Time{}, time.Time{}
		f.alerts.Add(a)
		ids = append(ids, a.AlertID())
	}

	wd := startBrowser(t, driver, browser)
	wd.get(f.srv.URL + "/")
	wd.waitText("#message", "Sign in")
	signIn := func(role string) {
		t.Helper()
		wd.typeInto("#token", f.secrets[role])
		wd.click("#login button")
		wd.waitFor(`document.querySelectorAll("#alerts tbody tr").length > 0`, "the alerts table filled")
	}
	signIn("analyst")
	wd.waitText("#sensor", "test-sensor")
	rows := wd.texts("#alerts tbody tr td:nth-child(3)")
	if strings.Join(rows, ",") != "night-beacon,smb-lateral,rdp-scan" {
		t.Fatalf("rule column %q; want the three alerts, newest first", rows)
	}
	if hosts := wd.texts("#alerts tbody tr td:nth-child(4)"); hosts[0] != "10.0.0.11, 10.0.0.12" {
		t.Errorf("hosts column %q", hosts)
	}

	// A row opens its detail, with the Japanese message.
	wd.click("#alerts tbody tr:nth-child(2) td:nth-child(3)")
	wd.waitText("#detail-message-ja", "端末をネットワークから切り離してください（smb-lateral）")
	wd.waitText("#detail-facts", "pcap query")

	// Triage the smb-lateral alert: the console asks for a note.
	wd.click("#alerts tbody tr:nth-child(2) select option[value=acknowledged]")
	wd.answerPrompt("INC-7 チケット")
	wd.waitFor(`document.querySelectorAll("#alerts tbody tr").length == 2`, "the acknowledged alert leaving the 'new' list")
	if _, tr, ok := f.alerts.Get(ids[1]); !ok || tr.Status != "acknowledged" || tr.Who != "analyst-user" || tr.Note != "INC-7 チケット" {
		t.Fatalf("server's triage state after the console's change: %+v", tr)
	}
	if rows := wd.texts("#alerts tbody tr td:nth-child(3)"); strings.Join(rows, ",") != "night-beacon,rdp-scan" {
		t.Errorf("after triage the 'new' list is %q", rows)
	}

	// An analyst may not download packets: the server's refusal is shown.
	wd.click("#alerts tbody tr:nth-child(1) button")
	wd.answerPrompt("CASE-1")
	wd.waitText("#message", "investigator")

	// A viewer cannot triage: the server refuses and the console says so.
	wd.click("#logout")
	signIn("viewer")
	wd.click("#alerts tbody tr:nth-child(1) select option[value=resolved]")
	wd.answerPrompt("")
	wd.waitText("#message", "analyst")
	if _, tr, _ := f.alerts.Get(ids[2]); tr.Status != "new" {
		t.Errorf("a viewer's triage took effect: %+v", tr)
	}

	// An investigator downloads an alert's packets with a reason, which the
	// store's audit log records with the token's name.
	wd.click("#logout")
	signIn("investigator")
	wd.click("#alerts tbody tr:nth-child(1) button")
	wd.answerPrompt("CASE-2")
	deadline := time.Now().Add(10 * time.Second)
	for {
		audit, _, err := f.store.Audit()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range audit {
			found = found || (e.Why == "CASE-2" && strings.HasPrefix(e.Who, "api:investigator-user") && e.Packets > 0)
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit entry for the console's download: %+v", audit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wd.waitFor(`document.getElementById("message").textContent === ""`, "no error after the download")
	wd.noErrors()
}

// webDriver is the little of the W3C WebDriver protocol the test needs.
type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:PORT/session/ID
	timeout time.Duration
}

func startBrowser(t *testing.T, driver, browser string) *webDriver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver:\n%s", log.String())
		}
	})
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	wd := &webDriver{t: t, base: root, timeout: 15 * time.Second}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var st struct {
			Ready bool `json:"ready"`
		}
		if wd.try("GET", "/status", nil, &st) == nil && st.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not start: %s", log.String())
		}
	}
	// The flags keep a sandboxed headless Chromium from reaching out to the
	// network on its own (this machine has none) and from sharing a profile.
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":             "chrome",
		"unhandledPromptBehavior": "ignore",
		"goog:loggingPrefs":       map[string]string{"browser": "ALL"},
		"goog:chromeOptions": map[string]any{
			"binary": browser,
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir=" + t.TempDir()},
		},
	}}}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := wd.try("POST", "/session", caps, &s); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	wd.base = root + "/session/" + s.SessionID
	t.Cleanup(func() { wd.try("DELETE", "", nil, nil) })
	return wd
}

// try sends one command; out receives the reply's "value".
func (wd *webDriver) try(method, path string, in, out any) error {
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, err := http.NewRequest(method, wd.base+path, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var reply struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(res.Body).Decode(&reply); err != nil {
		return fmt.Errorf("%s %s: %d, %v", method, path, res.StatusCode, err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, reply.Value)
	}
	if out != nil {
		return json.Unmarshal(reply.Value, out)
	}
	return nil
}

func (wd *webDriver) do(method, path string, in, out any) {
	wd.t.Helper()
	if err := wd.try(method, path, in, out); err != nil {
		wd.t.Fatal(err)
	}
}

func (wd *webDriver) get(url string) {
	wd.t.Helper()
	wd.do("POST", "/url", map[string]string{"url": url}, nil)
}

func (wd *webDriver) exec(script string, args ...any) json.RawMessage {
	wd.t.Helper()
	if args == nil {
		args = []any{}
	}
	var v json.RawMessage
	wd.do("POST", "/execute/sync", map[string]any{"script": script, "args": args}, &v)
	return v
}

// element finds one element by CSS selector, waiting for it to appear.
func (wd *webDriver) element(css string) string {
	wd.t.Helper()
	deadline := time.Now().Add(wd.timeout)
	for {
		var el map[string]string
		err := wd.try("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el)
		if err == nil {
			for _, id := range el {
				return id
			}
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("no element %s: %v", css, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (wd *webDriver) click(css string) {
	wd.t.Helper()
	wd.do("POST", "/element/"+wd.element(css)+"/click", map[string]any{}, nil)
}

func (wd *webDriver) typeInto(css, text string) {
	wd.t.Helper()
	wd.do("POST", "/element/"+wd.element(css)+"/value", map[string]string{"text": text}, nil)
}

// answerPrompt waits for the page's prompt(), types text and accepts it.
func (wd *webDriver) answerPrompt(text string) {
	wd.t.Helper()
	deadline := time.Now().Add(wd.timeout)
	for wd.try("GET", "/alert/text", nil, nil) != nil {
		if time.Now().After(deadline) {
			wd.t.Fatal("the console asked nothing (no prompt)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if text != "" {
		wd.do("POST", "/alert/text", map[string]string{"text": text}, nil)
	}
	wd.do("POST", "/alert/accept", map[string]any{}, nil)
}

// texts returns the text of every element matching css.
func (wd *webDriver) texts(css string) []string {
	wd.t.Helper()
	var out []string
	json.Unmarshal(wd.exec(`return Array.from(document.querySelectorAll(arguments[0])).map((e) => e.textContent)`, css), &out)
	return out
}

// waitFor polls a JavaScript condition until it holds.
func (wd *webDriver) waitFor(cond, what string) {
	wd.t.Helper()
	deadline := time.Now().Add(wd.timeout)
	for {
		var ok bool
		if json.Unmarshal(wd.exec("return !!("+cond+")"), &ok); ok {
			return
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("waiting for %s: page message %q", what, wd.texts("#message"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until the element's text contains want.
func (wd *webDriver) waitText(css, want string) {
	wd.t.Helper()
	deadline := time.Now().Add(wd.timeout)
	for {
		got := wd.texts(css)
		if len(got) > 0 && strings.Contains(got[0], want) {
			return
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("%s says %q; want it to contain %q (page message %q)", css, got, want, wd.texts("#message"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noErrors fails the test on any JavaScript error or failed resource load
// the browser logged, other than the API's deliberate refusals (403).
func (wd *webDriver) noErrors() {
	wd.t.Helper()
	var entries []struct {
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	if err := wd.try("POST", "/se/log", map[string]string{"type": "browser"}, &entries); err != nil {
		wd.t.Logf("browser log not available: %v", err)
		return
	}
	for _, e := range entries {
		if e.Level == "SEVERE" && !strings.Contains(e.Message, "403") {
			wd.t.Errorf("browser: %s", e.Message)
		}
	}
}
