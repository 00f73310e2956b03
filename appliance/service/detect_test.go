package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mamori/appliance/config"
	"mamori/internal/golden"
	"mamori/internal/testenv"
	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/smb"
	rulesall "mamori/rules/all"
	"mamori/rules/smblateral"
)

// detectConfig is the golden test configuration plus site facts (YAML
// text appended to the defaults).
func detectConfig(t *testing.T, site string) *config.Config {
	t.Helper()
	base := testConfig(t)
	if site == "" {
		return base
	}
	path := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(path, []byte(site), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sensor = base.Sensor
	return cfg
}

// detect replays files with the rules on and returns the alert lines of
// the output (latest update of each alert last) and the parsed alerts.
func detect(t *testing.T, cfg *config.Config, o DetectOptions, files ...string) (lines []string, alerts []map[string]any, res ReplayResult) {
	t.Helper()
	var out, errb bytes.Buffer
	o.Detect = true
	res, err := Replay(context.Background(), ReplayOptions{Config: cfg, Files: files, Output: "-", Stdout: &out, Stderr: &errb, Detect: &o})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if !strings.Contains(line, `"kind":"alert"`) {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("alert is not JSON: %v\n%s", err, line)
		}
		lines = append(lines, line)
		alerts = append(alerts, doc)
	}
	if !strings.Contains(errb.String(), "alerts: ") {
		t.Errorf("no alert summary on stderr:\n%s", errb.String())
	}
	return lines, alerts, res
}

// smbAccessors reports whether the SMB analyser's records give the rules
// their facts (tree connects, files, DCE/RPC): until they do, only the
// flow-based SMB findings can be expected.
func smbAccessors() bool {
	var r any = &smb.Record{}
	_, tree := r.(smblateral.Tree)
	_, file := r.(smblateral.File)
	_, rpc := r.(smblateral.RPC)
	return tree && file && rpc
}

// TestDetectGolden replays the real captures that show an attack, each
// with the site facts that make it observable, and compares the alerts
// with golden files (go test -update rewrites them). Each case also names
// the findings it must contain, independently of the golden file.
func TestDetectGolden(t *testing.T) {
	for _, tc := range []struct {
		pcap string
		site string
		want []string // "rule/action" that must be among the alerts
		smb  []string // further findings once the SMB accessors exist
	}{
		{pcap: "recorded/rdp_scan_nmap.pcap", want: []string{"rdp-scan/rdp_scan"}},
		{pcap: "recorded/smb_fanout_admin_shares.pcap", want: []string{"smb-lateral/smb_fanout"},
			smb: []string{"smb-lateral/smb_exec_write"}},
		{pcap: "recorded/smb_mass_rename.pcap", smb: []string{"smb-lateral/smb_ransomware"}},
		{pcap: "smb/sv_20171220_smb_psexec_add_user.pcap", smb: []string{"smb-lateral/smb_remote_service"}},
		{pcap: "smb/sv_20171220_smb_mimikatz_copy_to_host.pcap", smb: []string{"smb-lateral/smb_exec_write"}},
		{pcap: "smb/zeek_smb3_multichannel.pcap", smb: []string{"smb-lateral/smb_ransomware"}},
		// The CTU capture's client is on the university's public network:
		// declared internal here. 15:16 UTC is 00:16 in Tokyo, night.
		{pcap: "beacon/slips_test-cc-capture-1.pcap", site: "networks: {internal: [147.32.80.0/24]}\n",
			want: []string{"night-beacon/night_beacon", "new-external-peer/new_external_peer"}},
		{pcap: "beacon/ndpi_trickbot.pcap", want: []string{"new-external-peer/new_external_peer"}},
		{pcap: "other/slips_test7-malicious.pcap", want: []string{"new-external-peer/many_new_external_peers"}},
	} {
		t.Run(tc.pcap, func(t *testing.T) {
			lines, alerts, _ := detect(t, detectConfig(t, tc.site), DetectOptions{}, testenv.Pcap(t, tc.pcap))
			want := tc.want
			if smbAccessors() {
				want = append(want, tc.smb...)
			} else if len(tc.smb) > 0 {
				t.Logf("SMB records lack the SMBTree/SMBFile/DCERPC accessors: %v not checked", tc.smb)
			}
			have := map[string]bool{}
			for _, a := range alerts {
				rule := get(a, "rule.id").(string)
				have[rule+"/"+get(a, "event.action").(string)] = true
				// smb-lateral names its most severe finding; the others
				// are listed in the evidence.
				facts, _ := get(a, "mamori.alert.evidence.facts").([]any)
				for _, f := range facts {
					if f := f.(map[string]any); f["name"] == "findings" {
						for _, x := range strings.Split(f["value"].(string), ",") {
							have[rule+"/"+x] = true
						}
					}
				}
			}
			for _, w := range want {
				if !have[w] {
					t.Errorf("no %s alert; have %v", w, have)
				}
			}
			stem := strings.TrimSuffix(filepath.Base(tc.pcap), filepath.Ext(tc.pcap))
			golden.Compare(t, filepath.Join("testdata", "golden", "alerts", stem+".alerts.ndjson"), []byte(strings.Join(lines, "\n")+"\n"))
		})
	}
}

// TestBenignCaptures: ordinary traffic raises nothing of high severity;
// purely internal benign traffic raises nothing at all.
func TestBenignCaptures(t *testing.T) {
	for _, tc := range []struct {
		pcap     string
		internal bool // only internal hosts: no alert at all
	}{
		{"recorded/benign_smb_rdp.pcap", true},
		{"smb/zeek_smb2.pcap", true},
		{"smb/sv_smb2-peter.pcap", true},
		{"dicom/dcmtk_echo_store_find_reject.pcap", true},
		{"hl7/mllp_orm_adt_oru_ack.pcap", true},
		{"rdp/zeek_rdp-to-ssl.pcap", true},
		{"tls/zeek_tls1.2.pcap", false},
		{"tls/ndpi_443-firefox.pcap", false},
		{"http/zeek_http_get.pcap", false},
		{"dns/zeek_dns-edns-ecs.pcap", false},
	} {
		t.Run(tc.pcap, func(t *testing.T) {
			_, alerts, _ := detect(t, testConfig(t), DetectOptions{}, testenv.Pcap(t, tc.pcap))
			for _, a := range alerts {
				sev := get(a, "event.severity").(float64)
				if tc.internal || sev >= 3 {
					t.Errorf("%s %s severity %v: %s", get(a, "rule.id"), get(a, "event.action"), sev, get(a, "message"))
				}
			}
		})
	}
}

// TestLearnThenDetect is the baseline round trip: learn on normal traffic,
// show it, detect on it again (silence), detect on an attack while
// learning (the attack is not learned), and diff the two baselines.
func TestLearnThenDetect(t *testing.T) {
	cfg := testConfig(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.json.gz")
	var errb bytes.Buffer
	res, err := Learn(context.Background(), LearnOptions{Config: cfg, Files: []string{testenv.Pcap(t, "recorded/benign_smb_rdp.pcap")}, Output: base, Stderr: &errb})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if res.Learned == 0 || !strings.Contains(errb.String(), "written: "+base) {
		t.Fatalf("learned %d:\n%s", res.Learned, errb.String())
	}
	var show bytes.Buffer
	if err := ShowBaseline(&show, cfg, base, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"10.30.1.16", "445/tcp", "3389/tcp", "10.30.1.13 → 10.30.1.15:3389/tcp"} {
		if !strings.Contains(show.String(), want) {
			t.Errorf("baseline show lacks %q:\n%s", want, show.String())
		}
	}

	// The same day again: nothing is new.
	if _, alerts, _ := detect(t, cfg, DetectOptions{Baseline: base}, testenv.Pcap(t, "recorded/benign_smb_rdp.pcap")); len(alerts) != 0 {
		t.Errorf("normal traffic against its own baseline: %d alerts (first: %v)", len(alerts), get(alerts[0], "message"))
	}

	// An attack day, learning what did not alert into a copy.
	updated := filepath.Join(dir, "updated.json.gz")
	data, _ := os.ReadFile(base)
	os.WriteFile(updated, data, 0o640)
	_, alerts, res2 := detect(t, cfg, DetectOptions{Baseline: updated, Learn: true, Save: updated},
		testenv.Pcap(t, "recorded/rdp_scan_nmap.pcap"), testenv.Pcap(t, "smb/zeek_smb2.pcap"))
	if len(alerts) == 0 {
		t.Fatal("no alert for the scan")
	}
	c := res2.Stage.Counts()
	if c.Dropped == 0 {
		t.Errorf("nothing of the scan was dropped from learning: %+v", c)
	}
	m, err := ReadBaseline(cfg, updated)
	if err != nil {
		t.Fatal(err)
	}
	scanner := netip.MustParseAddr("10.30.1.10")
	for _, h := range []string{"10.30.1.14", "10.30.1.15", "10.30.1.16"} {
		if _, ok := m.Edge(baseline.EdgeKey{Client: scanner, Server: netip.MustParseAddr(h), Port: 3389, Proto: 6}); ok {
			t.Errorf("the scan's connection to %s was learned", h)
		}
	}
	if m.Observations <= 0 {
		t.Error("nothing learned")
	}
	var d bytes.Buffer
	differ, err := DiffBaselines(&d, cfg, base, updated, 0)
	if err != nil || !differ {
		t.Fatalf("diff: %v %v", differ, err)
	}
	if strings.Contains(d.String(), "10.30.1.10 → ") || !strings.Contains(d.String(), "+ 10.0.0.11 → 10.0.0.12:445/tcp") {
		t.Errorf("the updated baseline should hold the new SMB traffic and none of the scan:\n%s", d.String())
	}
	if same, _ := DiffBaselines(&bytes.Buffer{}, cfg, base, base, 0); same {
		t.Error("a baseline differs from itself")
	}
}

// TestBaselineZoneMismatch: a baseline learned in another time zone is
// refused (its hours would be wrong).
func TestBaselineZoneMismatch(t *testing.T) {
	cfg := testConfig(t)
	base := filepath.Join(t.TempDir(), "b.json.gz")
	if _, err := Learn(context.Background(), LearnOptions{Config: cfg, Files: []string{testenv.Pcap(t, "recorded/benign_smb_rdp.pcap")}, Output: base, Stderr: &bytes.Buffer{}, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	utc := detectConfig(t, "timezone: UTC\n")
	var out bytes.Buffer
	_, err := Replay(context.Background(), ReplayOptions{Config: utc, Files: []string{testenv.Pcap(t, "recorded/benign_smb_rdp.pcap")}, Output: "-", Stdout: &out, Stderr: &out,
		Detect: &DetectOptions{Detect: true, Baseline: base}})
	if err == nil || !strings.Contains(err.Error(), "counts hours in Asia/Tokyo") {
		t.Errorf("got %v", err)
	}
}

// BenchmarkReplayDetect measures what detection (rules) and learning add
// to a full-pipeline replay of the mixed captures: compare the sub-
// benchmarks' ns/op.
func BenchmarkReplayDetect(b *testing.B) {
	dir := testenv.SharedPcaps(b)
	files, _ := filepath.Glob(filepath.Join(dir, "mixed", "*.pcap"))
	more, _ := filepath.Glob(filepath.Join(testenv.Pcaps(b), "*", "*.pcap"))
	files = append(files, more...)
	cfg, err := config.Load("")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Sensor.Hostname = "bench"
	base := filepath.Join(b.TempDir(), "baseline.json.gz")
	if _, err := Learn(context.Background(), LearnOptions{Config: cfg, Files: files, Output: base, Stderr: &bytes.Buffer{}, Quiet: true}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    *DetectOptions
	}{
		{"flows_and_protocols", nil},
		{"detect_without_baseline", &DetectOptions{Detect: true}},
		{"detect_with_baseline", &DetectOptions{Detect: true, Baseline: base}},
		{"detect_and_learn", &DetectOptions{Detect: true, Learn: true, Baseline: base}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				var out bytes.Buffer
				if _, err := Replay(context.Background(), ReplayOptions{Config: cfg, Files: files, Output: "-", Stdout: &out, Stderr: &out, Quiet: true, Detect: tc.o}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLiveLearningPhase: while the baseline spans less than learn_for the
// baseline rules are off; the stage saves the baseline as it goes and
// switches them on once the span is reached.
func TestLiveLearningPhase(t *testing.T) {
	cfg := testConfig(t)
	path := filepath.Join(t.TempDir(), "live.json.gz")
	var n int
	st, err := NewStage(cfg, DetectOptions{Detect: true, Learn: true, Baseline: path, MissingOK: true, Save: path,
		LearnFor: 2 * time.Hour, SaveEvery: 30 * time.Minute}, func(event.Record) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !st.Learning() {
		t.Fatal("a new baseline must start learning")
	}
	for _, d := range st.dets {
		if slices.Contains(baselineRules, d.ID) {
			t.Errorf("%s runs while learning", d.ID)
		}
	}
	t0 := time.Date(2026, 4, 8, 10, 0, 0, 0, time.UTC)
	for i := range 150 { // a new external peer every minute for 2.5 h
		f := &event.Flow{Start: t0.Add(time.Duration(i) * time.Minute), End: t0.Add(time.Duration(i)*time.Minute + time.Second), Final: true, Transport: 6, ConnState: "SF",
			Source:      event.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 50000, Packets: 3, Bytes: 300},
			Destination: event.Endpoint{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 443, Packets: 3, Bytes: 900}}
		f.ID[0] = byte(i)
		if err := st.Record(f); err != nil {
			t.Fatal(err)
		}
	}
	if st.Learning() {
		t.Error("still learning after the learning span")
	}
	if !slices.ContainsFunc(st.dets, func(d rulesall.Named) bool { return d.ID == "new-external-peer" }) {
		t.Error("new-external-peer not switched on")
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	if st.Counts().Episodes == 0 {
		t.Error("no new peer alerted after learning")
	}
	m, err := ReadBaseline(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Peer(netip.MustParseAddr("10.1.2.3"), netip.AddrFrom4([4]byte{192, 0, 2, 5})); !ok {
		t.Error("a peer of the learning phase is not in the saved baseline")
	}
}
