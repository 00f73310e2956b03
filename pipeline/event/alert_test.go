package event

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func sampleAlert() *Alert {
	first := time.Date(2026, 4, 1, 18, 2, 3, 0, time.UTC)
	return &Alert{
		Rule:   AlertRule{ID: "rdp-scan", Name: "RDP scan", Category: "discovery", Version: "1"},
		Threat: AlertThreat{Techniques: []Technique{{ID: "T1046", Name: "Network Service Discovery"}, {ID: "T1021", Name: "Remote Services", SubID: "T1021.001", SubName: "Remote Desktop Protocol"}}, Tactics: []Tactic{{"TA0007", "Discovery"}}},
		Key:    "10.30.1.10", At: first.Add(40 * time.Second), First: first, Last: first.Add(30 * time.Second),
		Action: "rdp_scan", Severity: 3, RiskScore: 73,
		Message: "10.30.1.10 tried \"RDP\"\n on 32 hosts", MessageJA: "10.30.1.10 が 32 台に RDP 接続を試みました",
		Source:      AlertEndpoint{IP: netip.MustParseAddr("10.30.1.10")},
		Destination: AlertEndpoint{IP: netip.MustParseAddr("10.30.1.14"), Port: 3389},
		Transport:   6,
		Related:     []netip.Addr{netip.MustParseAddr("10.30.1.10"), netip.MustParseAddr("10.30.1.14"), netip.MustParseAddr("10.30.1.10")},
		Evidence: AlertEvidence{Count: 32, TargetCount: 32, Targets: []netip.Addr{netip.MustParseAddr("10.30.1.14")},
			Ports: []uint16{3389}, FlowIDs: []FlowID{{1, 2, 3}}, CommunityIDs: []CommunityID{NewCommunityID([20]byte{1})},
			Facts: []Fact{{"failed_targets", "29"}}},
		Pcap: PcapQuery{Filter: "host 10.30.1.10 and tcp port 3389", From: first, To: first.Add(30*time.Second + 500*time.Millisecond)},
	}
}

func TestAlertJSON(t *testing.T) {
	a := sampleAlert()
	b := a.AppendJSON(nil, &Observer{Hostname: "sensor-1"})
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	get := func(path string) any {
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
	for path, want := range map[string]any{
		"event.kind":                  "alert",
		"event.dataset":               "mamori.alert",
		"data_stream.dataset":         "mamori.alert",
		"event.severity":              3.0,
		"event.risk_score":            73.0,
		"event.id":                    a.AlertID(),
		"rule.id":                     "rdp-scan",
		"threat.framework":            "MITRE ATT&CK",
		"message":                     "10.30.1.10 tried \"RDP\"\n on 32 hosts",
		"mamori.alert.message_ja":     "10.30.1.10 が 32 台に RDP 接続を試みました",
		"mamori.alert.severity":       "high",
		"mamori.alert.pcap.query":     "host 10.30.1.10 and tcp port 3389",
		"mamori.alert.pcap.command":   "mamori pcap query --from 2026-04-01T18:02:03Z --to 2026-04-01T18:02:34Z 'host 10.30.1.10 and tcp port 3389'",
		"mamori.alert.evidence.count": 32.0,
		"destination.port":            3389.0,
		"network.transport":           "tcp",
		"@timestamp":                  "2026-04-01T18:02:43.000000000Z",
		"event.start":                 "2026-04-01T18:02:03.000000000Z",
		"mamori.alert.evidence.last":  "2026-04-01T18:02:33.000000000Z",
		"observer.hostname":           "sensor-1",
	} {
		if got := get(path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	if ids := get("threat.technique.id").([]any); len(ids) != 2 || ids[1] != "T1021" {
		t.Errorf("technique ids %v", ids)
	}
	if ids := get("threat.technique.subtechnique.id").([]any); len(ids) != 1 || ids[0] != "T1021.001" {
		t.Errorf("subtechnique ids %v", ids)
	}
	if ips := get("related.ip").([]any); len(ips) != 2 {
		t.Errorf("related.ip not deduplicated: %v", ips)
	}
	if f := get("mamori.alert.evidence.facts").([]any); len(f) != 1 {
		t.Errorf("facts %v", f)
	}
}

// TestAlertID checks that the id depends on the rule, the key and the
// first time only, so that updates of one episode share it.
func TestAlertID(t *testing.T) {
	a, b := sampleAlert(), sampleAlert()
	b.Update, b.Last, b.At, b.Evidence.Count = 3, b.Last.Add(time.Hour), b.At.Add(time.Hour), 99
	if a.AlertID() != b.AlertID() || len(a.AlertID()) != 32 {
		t.Errorf("ids differ across updates: %s %s", a.AlertID(), b.AlertID())
	}
	for name, mod := range map[string]func(*Alert){
		"rule":  func(x *Alert) { x.Rule.ID = "smb-lateral" },
		"key":   func(x *Alert) { x.Key = "10.30.1.11" },
		"first": func(x *Alert) { x.First = x.First.Add(time.Nanosecond) },
	} {
		c := sampleAlert()
		mod(c)
		if c.AlertID() == a.AlertID() {
			t.Errorf("changing the %s kept the id", name)
		}
	}
}

func TestAlertAllocs(t *testing.T) {
	a := sampleAlert()
	o := &Observer{Hostname: "h"}
	buf := make([]byte, 0, 8192)
	allocs := testing.AllocsPerRun(100, func() { buf = a.AppendJSON(buf[:0], o) })
	if allocs > 0 && !raceEnabled {
		t.Errorf("%v allocations per alert", allocs)
	}
}
