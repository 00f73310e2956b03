package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mamori/appliance/config"
	"mamori/appliance/service"
	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/rules/rulestest"
)

// maxUpdates is the most records one alert episode may write: an alert is
// updated as its episode grows, never once per flow.
const maxUpdates = 12

// TestPacketScenarios renders simulated hospitals as captures, learns a
// baseline from their normal days with `mamori baseline learn`'s code
// (service.Learn), replays the attack day with `mamori replay --baseline`'s
// (service.Replay) and checks, per rule over the seeds, recall and
// precision against the labels, that no near miss alerts and that no
// episode floods.
func TestPacketScenarios(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() || raceEnabled {
		seeds = seeds[:1]
	}
	if env := os.Getenv("MAMORI_SCENARIO_SEEDS"); env != "" { // e.g. 1-50, for a wider sweep
		var lo, hi uint64
		if _, err := fmt.Sscanf(env, "%d-%d", &lo, &hi); err != nil || hi < lo {
			t.Fatalf("MAMORI_SCENARIO_SEEDS=%q: want FIRST-LAST", env)
		}
		seeds = seeds[:0]
		for s := lo; s <= hi; s++ {
			seeds = append(seeds, s)
		}
	}
	found, total := map[string]int{}, map[string]int{}
	good, all := map[string]int{}, map[string]int{}
	for _, seed := range seeds {
		c := Config{Seed: seed}
		if raceEnabled {
			c.Workstations, c.LearnDays = 20, 2 // a smaller hospital: the race detector is slow
		}
		s := Generate(c)
		alerts, updates, firstAt, lines := detect(t, s)
		sc := &rulestest.Scenario{Labels: s.Labels}
		recall, precision, near, unmatched := sc.Score(alerts)
		lp, lb, ap, ab := s.Packets()
		t.Logf("seed %d: learn %d packets (%.1f MB), attack %d packets (%.1f MB), %d alerts; recall %s precision %s",
			seed, lp, float64(lb)/1e6, ap, float64(ab)/1e6, len(alerts), fmtMap(recall), fmtMap(precision))
		for _, n := range near {
			t.Errorf("seed %d: near miss alerted: %s", seed, n)
		}
		for _, u := range unmatched {
			t.Errorf("seed %d: alert matches no label: %s", seed, u)
		}
		checkFindings(t, s, alerts)
		checkScoreAgrees(t, s, recall, precision, lines)
		checkOneEpisode(t, s, alerts)
		checkDeadlines(t, s, alerts, firstAt)
		for id, n := range updates {
			if n > maxUpdates {
				t.Errorf("seed %d: alert %s written %d times (a flood)", seed, id, n)
			}
		}
		episodes := map[string]int{}
		for _, a := range alerts {
			episodes[a.Rule.ID]++
		}
		for _, l := range s.Labels {
			if !l.NearMiss {
				total[l.Rule]++
			}
		}
		for rule, v := range recall {
			n := 0
			for _, l := range s.Labels {
				if !l.NearMiss && l.Rule == rule {
					n++
				}
			}
			found[rule] += int(v*float64(n) + 0.5)
			if v < 1 {
				t.Logf("seed %d: %s missed %d of %d labelled episodes", seed, rule, n-int(v*float64(n)+0.5), n)
			}
		}
		for rule, v := range precision {
			all[rule] += episodes[rule]
			good[rule] += int(v*float64(episodes[rule]) + 0.5)
		}
	}
	for _, rule := range []string{"rdp-scan", "smb-lateral", "night-beacon", "new-external-peer", "maintenance-window", "segment-policy"} {
		if total[rule] == 0 {
			t.Errorf("%s: no labelled attack in the scenarios", rule)
			continue
		}
		rec := float64(found[rule]) / float64(total[rule])
		prec := 1.0
		if all[rule] > 0 {
			prec = float64(good[rule]) / float64(all[rule])
		}
		t.Logf("%-19s recall %.2f (%d/%d)  precision %.2f (%d/%d)", rule, rec, found[rule], total[rule], prec, good[rule], all[rule])
		if rec < 0.95 {
			t.Errorf("%s: recall %.2f < 0.95", rule, rec)
		}
		if prec < 0.95 {
			t.Errorf("%s: precision %.2f < 0.95", rule, prec)
		}
	}
}

// checkFindings checks that the PsExec spread's alert saw what the
// protocol layer must give it, whatever the SMB style (port 139,
// SMB 3.1.1, compound requests, ADMIN$ or C$): admin share tree
// connects, the program written and the service created; and that the
// ransomware alert names the new extension.
func checkFindings(t *testing.T, s *Scenario, alerts []event.Alert) {
	t.Helper()
	for _, l := range s.Labels {
		var want []string
		switch {
		case strings.HasPrefix(l.Name, "psexec spread"):
			want = []string{"smb_admin_share", "smb_exec_write", "smb_remote_service"}
		case strings.HasPrefix(l.Name, "ransomware renames"):
			want = []string{"smb_ransomware"}
		default:
			continue
		}
		var got []string
		for _, a := range alerts {
			if a.Rule.ID != l.Rule || a.Source.IP != l.Actor {
				continue
			}
			got = append(got, a.Action)
			for _, f := range a.Evidence.Facts {
				if f.Name == "findings" {
					got = append(got, strings.Split(f.Value, ",")...)
				}
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("seed %d: %s: finding %s missing (alerts say %v)", s.Config.Seed, l.Name, w, got)
			}
		}
	}
}

// checkScoreAgrees checks that Score (what scenariogen -score prints),
// reading the NDJSON alert records, agrees with rulestest's Score on the
// replay's alerts.
func checkScoreAgrees(t *testing.T, s *Scenario, recall, precision map[string]float64, lines []byte) {
	t.Helper()
	scores, err := Score(bytes.NewReader(lines), s.labelsJSON())
	if err != nil {
		t.Fatal(err)
	}
	for rule, r := range recall {
		sc := scores[rule]
		if sc == nil || sc.Labelled == 0 || float64(sc.Found)/float64(sc.Labelled) != r {
			t.Errorf("seed %d: %s: Score's recall %+v, rulestest's %.2f", s.Config.Seed, rule, sc, r)
		}
	}
	for rule, p := range precision {
		sc := scores[rule]
		if sc == nil || sc.Episodes == 0 || float64(sc.Matching)/float64(sc.Episodes) != p {
			t.Errorf("seed %d: %s: Score's precision %+v, rulestest's %.2f", s.Config.Seed, rule, sc, p)
		}
	}
}

// checkOneEpisode checks that each labelled attack is one episode of its
// rule, not several: one alert per episode, updated as it grows.
func checkOneEpisode(t *testing.T, s *Scenario, alerts []event.Alert) {
	t.Helper()
	for _, l := range s.Labels {
		if l.NearMiss {
			continue
		}
		var keys []string
		for _, a := range alerts {
			named := a.Source.IP == l.Actor || a.Destination.IP == l.Actor || slices.Contains(a.Related, l.Actor)
			if l.Peer.IsValid() {
				named = named && (a.Source.IP == l.Peer || a.Destination.IP == l.Peer || slices.Contains(a.Related, l.Peer))
			}
			if a.Rule.ID == l.Rule && named && !a.First.Before(l.From.Add(-time.Hour)) && !a.First.After(l.To.Add(time.Hour)) {
				keys = append(keys, a.Key+" from "+a.First.In(Tokyo).Format(time.TimeOnly))
			}
		}
		if len(keys) > 1 {
			t.Errorf("seed %d: %s: %d episodes, want one: %v", s.Config.Seed, l.Name, len(keys), keys)
		}
	}
}

// checkDeadlines checks the time to alert: the first record of the
// episode that matches a label with a deadline must be written by then.
// The record's @timestamp is the packet time of the last evidence when it
// was raised, which is when the detector could first know.
func checkDeadlines(t *testing.T, s *Scenario, alerts []event.Alert, firstAt map[string]time.Time) {
	t.Helper()
	for _, d := range s.Deadlines {
		l := s.Labels[d.Label]
		var first time.Time
		for _, a := range alerts {
			if a.Rule.ID != l.Rule || a.Source.IP != l.Actor {
				continue
			}
			if at, ok := firstAt[a.AlertID()]; ok && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		switch {
		case first.IsZero():
			t.Errorf("seed %d: %s: no alert to time", s.Config.Seed, l.Name)
		case first.After(d.By):
			t.Errorf("seed %d: %s: first alert at %s, after %s (%s)", s.Config.Seed, l.Name, first.In(Tokyo).Format(time.TimeOnly), d.By.In(Tokyo).Format(time.TimeOnly), d.Why)
		default:
			t.Logf("seed %d: %s: alerted %v after it began (%s)", s.Config.Seed, l.Name, first.Sub(l.From).Round(time.Second), d.Why)
		}
	}
}

// detect writes the scenario, learns on its normal days and replays its
// attack day through the packet path; it returns the alerts (latest
// update of each episode) and how many records each episode wrote.
func detect(t *testing.T, s *Scenario) ([]event.Alert, map[string]int, map[string]time.Time, []byte) {
	t.Helper()
	files, err := s.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(files.Site)
	if err != nil {
		t.Fatalf("seed %d: site: %v\n%s", s.Config.Seed, err, s.Site)
	}
	base := filepath.Join(filepath.Dir(files.Site), "baseline.json.gz")
	var errb bytes.Buffer
	ctx := context.Background()
	if _, err := service.Learn(ctx, service.LearnOptions{Config: cfg, Files: files.Learn, Output: base, Stderr: &errb, Quiet: true}); err != nil {
		t.Fatalf("learn: %v\n%s", err, errb.String())
	}
	out := &alertLines{updates: map[string]int{}, first: map[string]time.Time{}}
	res, err := service.Replay(ctx, service.ReplayOptions{Config: cfg, Files: []string{files.Attack}, Output: "-",
		Stdout: out, Stderr: &errb, Quiet: true, Detect: &service.DetectOptions{Detect: true, Baseline: base}})
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, errb.String())
	}
	if res.Stage == nil {
		t.Fatal("replay ran no records stage")
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	return res.Stage.Alerts(), out.updates, out.first, out.alerts
}

// alertLines reads NDJSON and counts the records of each alert episode.
type alertLines struct {
	rest    []byte
	updates map[string]int
	first   map[string]time.Time // @timestamp of each episode's first record
	alerts  []byte               // the alert records
	err     error
}

func (w *alertLines) Write(p []byte) (int, error) {
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			break
		}
		line := w.rest[:i]
		if bytes.Contains(line, []byte(`"kind":"alert"`)) {
			var doc struct {
				At    time.Time           `json:"@timestamp"`
				Event struct{ ID string } `json:"event"`
			}
			if err := json.Unmarshal(line, &doc); err != nil && w.err == nil {
				w.err = fmt.Errorf("alert is not JSON: %w: %s", err, line)
			}
			w.alerts = append(append(w.alerts, line...), '\n')
			if w.updates[doc.Event.ID]++; w.updates[doc.Event.ID] == 1 {
				w.first[doc.Event.ID] = doc.At
			}
		}
		w.rest = w.rest[i+1:]
	}
	return len(p), nil
}

var _ io.Writer = (*alertLines)(nil)

func fmtMap(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%.2f ", k, m[k])
	}
	return b.String()
}

// sample renders one conversation of every kind the scenarios use into
// one small capture.
func sample(t *testing.T) (*hospital, string) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	h := newHospital(r, Config{Workstations: 12})
	h.windowDays = []time.Weekday{time.Tuesday}
	cp := &capture{}
	h.w = &wire{cap: cp, r: r, internal: h.internal}
	t0 := time.Date(2026, 4, 7, 9, 0, 0, 0, Tokyo)
	step := func() time.Time { t0 = t0.Add(time.Minute); return t0 }
	h.logon(step(), h.ws[0])
	h.fileWork(step(), h.ws[0], 2)
	h.workday(h.ws[1], time.Date(2026, 4, 7, 0, 0, 0, 0, Tokyo), t0.Add(2*time.Hour), false, 9*60+10, 10*60+50)
	h.dicomStore(step(), h.modalities[0], 2)
	h.hl7Link(step(), h.ehr[0], h.hl7, "EHR", "HL7ENGINE", 5*time.Minute)
	h.pacsView(step(), h.ws[2])
	h.tlsSession(step(), h.av, h.avCloud, 443, h.avName, 1000, 100_000, 10*time.Second)
	h.rdpSession(step(), h.admins[0].ip, h.ehr[1], h.adminRDPPort, h.admins[0].user, 5*time.Minute, 1_000_000)
	h.rdpProbe(step(), h.ws[3].ip, h.deptPCs[0].ip, 3389, "Administr", false)
	h.rdpProbe(step(), h.ws[3].ip, h.deptPCs[1].ip, 3389, "Administr", true)
	h.w.refused(ap(h.ws[3].ip, 50000), ap(h.deptPCs[2].ip, 3389), step())
	h.w.unanswered(ap(h.ws[3].ip, 50001), ap(h.deptPCs[3].ip, 3389), step())
	h.psexecTo(step(), h.ws[4], h.ws[5], "svc-helpdesk", smbStyle{}, "ADMIN$")
	h.psexecTo(step(), h.ws[4], h.ws[8], "svc-helpdesk", smbStyle{netbios: true, v311: true, compound: true}, "C$")
	h.smbPush(step(), h.admins[0], h.ws[6], "patch.msi")
	h.encryptShare(step(), h.ws[7], 3, "locked")
	h.vendorSession(step(), h.ehr[0], 10*time.Minute)
	h.exchange(step(), h.ehr[0], h.db, 1433, tdsReq, tdsResp, 3, time.Minute)
	h.w.udp(ap(h.dc[0], 123), ap(h.ntp, 123), step(), ntpPacket(false), ntpPacket(true))
	h.w.udp(ap(h.mon, 50002), ap(h.db, 161), step(), snmpGet, snmpRsp)
	path := filepath.Join(t.TempDir(), "sample.pcap")
	if err := cp.write(path); err != nil {
		t.Fatal(err)
	}
	return h, path
}

// TestTshark cross-checks the rendered packets with Wireshark's
// dissectors: no frame is malformed or has an error (bad checksums
// included), and the names written into the payloads (TLS SNI, the RDP
// cookie, SMB2 tree paths and file names, the NTLM user, svcctl calls,
// DNS names, HTTP Host, DICOM AE titles, HL7 message types) are what
// tshark reads.
func TestTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	h, path := sample(t)
	run := func(filter string, fs ...string) []string {
		args := []string{"-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
			"-d", fmt.Sprintf("tcp.port==%d,dicom", h.dicomPort), "-d", fmt.Sprintf("tcp.port==%d,hl7", h.hl7Port),
			"-d", fmt.Sprintf("tcp.port==%d,tpkt", h.adminRDPPort), "-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E", "separator=|"}
		for _, f := range fs {
			args = append(args, "-e", f)
		}
		out, err := exec.Command(tshark, args...).Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", filter, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	if bad := run("_ws.malformed || _ws.expert.severity >= error", "frame.number", "_ws.col.info"); len(bad) > 1 || bad[0] != "" {
		t.Errorf("tshark finds malformed or erroneous frames: %q", bad[:min(len(bad), 10)])
	}
	names := []string{"tls.handshake.extensions_server_name", "rdp.rt_cookie", "smb2.tree", "smb2.filename", "ntlmssp.auth.username",
		"svcctl.opnum", "dns.qry.name", "http.host", "dicom.assoc.ae.calling", "hl7.message.type", "smb2.file_rename_info", "smb2.dialect", "nbss.type"}
	seen := map[string]map[string]bool{}
	for _, line := range run("tls || rdp || smb2 || ntlmssp || svcctl || dns || http || dicom || hl7 || nbss", names...) {
		for i, v := range strings.Split(line, "|") {
			if seen[names[i]] == nil {
				seen[names[i]] = map[string]bool{}
			}
			for _, x := range strings.Split(v, ",") {
				seen[names[i]][strings.TrimSpace(x)] = true
			}
		}
	}
	for _, c := range []struct{ field, want string }{
		{"tls.handshake.extensions_server_name", h.ehrName},
		{"tls.handshake.extensions_server_name", h.avName},
		{"rdp.rt_cookie", "Cookie: mstshash=Administr"},
		{"rdp.rt_cookie", "Cookie: mstshash=" + h.admins[0].user},
		{"smb2.tree", `\\` + h.fsName + `\` + h.ws[0].share},
		{"smb2.tree", `\\` + h.ws[5].ip.String() + `\ADMIN$`},
		{"smb2.filename", "PSEXESVC.exe"},
		{"smb2.filename", `Windows\PSEXESVC.exe`},
		{"smb2.tree", `\\` + h.ws[8].ip.String() + `\C$`},
		{"smb2.dialect", "0x0311"},
		{"nbss.type", "0x81"},
		{"smb2.filename", "svcctl"},
		{"ntlmssp.auth.username", "svc-helpdesk"},
		{"svcctl.opnum", "12"},
		{"svcctl.opnum", "19"},
		{"dns.qry.name", h.ehrName},
		{"http.host", h.pacsWeb},
		{"dicom.assoc.ae.calling", h.modalities[0].name},
		{"hl7.message.type", "ACK"},
	} {
		if !seen[c.field][c.want] {
			t.Errorf("%s: tshark does not see %q (it sees %v)", c.field, c.want, keys(seen[c.field], 8))
		}
	}
}

func keys(m map[string]bool, n int) []string {
	var out []string
	for k := range m {
		if len(out) == n {
			break
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAnalyzersSeeFacts replays the sample capture through the packet
// path (no rules) and checks that mamori's own analyzers read the facts
// written into the payloads: the RDP cookie and outcomes, SMB tree
// connects (port 139, SMB 3.1.1, compound requests included), files,
// renames, svcctl calls and NTLM users, TLS SNI, DNS names, HTTP Host,
// DICOM AE titles and HL7 message types. No analyzer may find a payload
// malformed.
func TestAnalyzersSeeFacts(t *testing.T) {
	h, path := sample(t)
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if _, err := service.Replay(context.Background(), service.ReplayOptions{Config: cfg, Files: []string{path}, Output: "-",
		Stdout: &out, Stderr: &errb, Quiet: true}); err != nil {
		t.Fatalf("replay: %v\n%s", err, errb.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("record is not JSON: %v", err)
		}
		ds, _ := get(doc, "event.dataset").(string)
		for _, f := range []string{"mamori.rdp.cookie", "mamori.rdp.result", "mamori.smb.share", "mamori.smb.new_name", "file.name",
			"mamori.dcerpc.operation", "user.name", "tls.client.server_name", "dns.question.name", "url.domain",
			"mamori.dicom.calling_ae", "mamori.hl7.message.type", "mamori.smb.version", "event.action"} {
			if v, ok := get(doc, f).(string); ok {
				seen[ds+" "+f+"="+v] = true
			}
		}
		for _, f := range []string{"mamori.rdp.anomalies", "mamori.smb.anomalies", "mamori.hl7.anomalies", "mamori.tls.anomalies", "mamori.dns.anomalies", "mamori.http.anomalies"} {
			if v := get(doc, f); v != nil {
				t.Errorf("%s: %s %v", ds, f, v)
			}
		}
	}
	if m, ok := regexpFind(out.String(), `"malformed":\{[^}]*\}`); ok {
		t.Errorf("analyzers found malformed payloads: %s", m)
	}
	for _, w := range []string{
		"mamori.rdp mamori.rdp.cookie=Administr",
		"mamori.rdp mamori.rdp.result=refused",
		"mamori.rdp mamori.rdp.result=negotiated",
		"mamori.rdp mamori.rdp.cookie=" + h.admins[0].user,
		`mamori.smb mamori.smb.share=\\` + h.ws[5].ip.String() + `\ADMIN$`,
		`mamori.smb mamori.smb.share=\\` + h.ws[8].ip.String() + `\C$`,
		"mamori.smb mamori.smb.version=3.1.1",
		"mamori.smb file.name=PSEXESVC.exe",
		"mamori.smb mamori.dcerpc.operation=CreateServiceW",
		"mamori.smb mamori.dcerpc.operation=StartServiceW",
		"mamori.smb event.action=smb2_rename",
		"mamori.smb user.name=svc-helpdesk",
		"mamori.ntlm user.name=" + h.ws[0].user,
		"mamori.tls tls.client.server_name=" + h.ehrName,
		"mamori.dns dns.question.name=" + h.ehrName,
		"mamori.http url.domain=" + h.pacsWeb,
		"mamori.dicom mamori.dicom.calling_ae=" + h.modalities[0].name,
		"mamori.hl7 event.action=hl7_message",
	} {
		if !seen[w] {
			var near []string
			for k := range seen {
				if strings.HasPrefix(k, strings.SplitN(w, "=", 2)[0]) {
					near = append(near, k)
				}
			}
			sort.Strings(near)
			t.Errorf("no record with %s (have %v)", w, near[:min(len(near), 8)])
		}
	}
}

// get follows a dotted path through decoded JSON objects.
func get(doc map[string]any, path string) any {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func regexpFind(s, expr string) (string, bool) {
	m := regexp.MustCompile(expr).FindString(s)
	return m, m != ""
}
