package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"
	"unsafe"
)

// Alert is an event.kind "alert" record: one detection episode, raised by a
// rule when it starts and raised again (same AlertID, higher Update) as it
// grows. It goes to the logs-mamori.alert data stream.
//
// Alerts are rare, so the record holds ordinary slices and strings; it
// still writes its JSON through the allocation-free writer.
type Alert struct {
	Rule   AlertRule
	Threat AlertThreat

	// Key identifies the episode within the rule (e.g. the scanning source,
	// or the internal host and its external peer). With Rule.ID and First
	// it makes the alert id; it is stable while the episode lasts.
	Key string
	// At is @timestamp: the packet time of the record that raised or last
	// updated the alert.
	At time.Time
	// First and Last are the packet times of the first and last evidence
	// (event.start, event.end).
	First, Last time.Time
	// Update counts re-raises of the same episode: 0 when first raised.
	Update int
	// Action is event.action: the finding within the rule, e.g. "rdp_scan",
	// "rdp_bruteforce", "smb_admin_share".
	Action string

	Severity  int // event.severity: 1 low, 2 medium, 3 high, 4 critical
	RiskScore int // event.risk_score, 0–100

	Message   string // message: English, with what to do now
	MessageJA string // mamori.alert.message_ja: the same in Japanese

	Source, Destination AlertEndpoint
	Transport           uint8  // IANA protocol number; 0 when not one flow's
	Protocol            string // network.protocol, when known
	Direction           string // network.direction, when one flow's

	// Related lists every address involved (related.ip), first source and
	// destination, then targets.
	Related      []netip.Addr
	RelatedHosts []string // related.hosts: DNS/SNI/HTTP names, AE titles
	RelatedUsers []string // related.user

	Evidence AlertEvidence
	Pcap     PcapQuery
}

// AlertRule is ECS rule.*.
type AlertRule struct {
	ID          string // rule.id: kebab-case, stable ("rdp-scan")
	Name        string
	Category    string
	Description string
	Reference   string
	Version     string
}

// AlertThreat is ECS threat.* for the MITRE ATT&CK framework.
type AlertThreat struct {
	Techniques []Technique
	Tactics    []Tactic
}

// Technique is one ATT&CK technique, with its sub-technique when the rule
// names one (ID "T1021", SubID "T1021.001").
type Technique struct {
	ID, Name       string
	SubID, SubName string
}

// Tactic is one ATT&CK tactic ("TA0008", "Lateral Movement").
type Tactic struct{ ID, Name string }

// AlertEndpoint is source.* or destination.* of an alert.
type AlertEndpoint struct {
	IP     netip.Addr
	Port   uint16 // 0: none
	Domain string // source/destination.domain, when a name is known
}

// AlertEvidence is what the rule saw: counts, a bounded sample of the
// flows and targets, and named facts.
type AlertEvidence struct {
	// Count is how many flows or messages make up the episode so far.
	Count uint64
	// Targets is a sample of the hosts reached (bounded by the rule);
	// TargetCount is how many distinct targets there were in all.
	Targets     []netip.Addr
	TargetCount int
	// Ports lists destination ports involved (bounded by the rule).
	Ports []uint16
	// FlowIDs and CommunityIDs are a bounded sample of the flows.
	FlowIDs      []FlowID
	CommunityIDs []CommunityID
	// Facts are rule-specific observations (name: value), in the rule's
	// order, e.g. {"failed_targets", "29"}, {"share", `\\H\ADMIN$`}.
	Facts []Fact
}

// Fact is one named observation in an alert's evidence.
type Fact struct{ Name, Value string }

// PcapQuery retrieves an alert's packets from the pcap store: a BPF-style
// filter (`host A and host B and port P`) over a packet-time window.
type PcapQuery struct {
	Filter   string
	From, To time.Time
}

// Dataset implements Record.
func (a *Alert) Dataset() string { return "mamori.alert" }

// Time implements Record.
func (a *Alert) Time() time.Time { return a.At }

// AlertID is the alert's deterministic id (event.id): the first 16 bytes of
// SHA-256 over the rule id, the episode key and the first evidence time, in
// hex. Every update of an episode has the same id; replays agree.
func (a *Alert) AlertID() string {
	var buf [32]byte
	return string(a.appendID(buf[:0]))
}

func (a *Alert) appendID(dst []byte) []byte {
	var scratch [256]byte
	b := append(scratch[:0], a.Rule.ID...)
	b = append(b, 0)
	b = append(b, a.Key...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(a.First.UnixNano()))
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:16])
}

// SeverityName is the word for an event.severity value.
func SeverityName(s int) string {
	switch {
	case s <= 1:
		return "low"
	case s == 2:
		return "medium"
	case s == 3:
		return "high"
	}
	return "critical"
}

// Command is the mamori command line that retrieves the packets.
func (q PcapQuery) Command() string { return string(q.appendCommand(nil)) }

func (q PcapQuery) appendCommand(b []byte) []byte {
	if q.Filter == "" {
		return b
	}
	const layout = "2006-01-02T15:04:05Z"
	b = append(b, "mamori pcap query --from "...)
	b = q.From.UTC().AppendFormat(b, layout)
	b = append(b, " --to "...)
	// Round the end up to the second so the last packet is included.
	b = q.To.UTC().Add(time.Second-1).Truncate(time.Second).AppendFormat(b, layout)
	b = append(b, " '"...)
	b = append(b, q.Filter...)
	return append(b, '\'')
}

// AppendJSON implements Record.
func (a *Alert) AppendJSON(dst []byte, o *Observer) []byte {
	w := JSON{B: dst}
	w.Begin()
	header(&w, o, a.At, "logs", a.Dataset())

	w.Object("event")
	w.String("kind", "alert")
	w.Strings("category", "intrusion_detection", "network")
	w.Strings("type", "indicator")
	w.key("id")
	idAt := len(w.B)
	w.B = append(w.B, '"')
	w.B = a.appendID(w.B)
	w.B = append(w.B, '"')
	idLen := len(w.B) - idAt // the quoted id, written again under mamori.alert.id
	w.StringIf("action", a.Action)
	w.String("dataset", a.Dataset())
	w.String("module", "mamori")
	w.Int("severity", int64(a.Severity))
	w.Int("risk_score", int64(a.RiskScore))
	w.Time("start", a.First)
	w.Time("end", a.Last)
	w.Int("duration", int64(a.Last.Sub(a.First)))
	w.End()

	w.Object("rule")
	w.String("id", a.Rule.ID)
	w.StringIf("name", a.Rule.Name)
	w.StringIf("category", a.Rule.Category)
	w.StringIf("description", a.Rule.Description)
	w.StringIf("reference", a.Rule.Reference)
	w.StringIf("version", a.Rule.Version)
	w.String("ruleset", "mamori")
	w.End()

	if len(a.Threat.Techniques) > 0 || len(a.Threat.Tactics) > 0 {
		a.threatJSON(&w)
	}

	w.String("message", a.Message)

	alertEndpoint(&w, "source", &a.Source)
	alertEndpoint(&w, "destination", &a.Destination)

	if a.Transport != 0 || a.Protocol != "" || a.Direction != "" {
		w.Object("network")
		if a.Transport != 0 {
			w.String("transport", TransportName(a.Transport))
		}
		w.StringIf("protocol", a.Protocol)
		w.StringIf("direction", a.Direction)
		w.End()
	}

	w.Object("related")
	w.addrs("ip", a.Related)
	if len(a.RelatedHosts) > 0 {
		w.Strings("hosts", dedupe(a.RelatedHosts)...)
	}
	if len(a.RelatedUsers) > 0 {
		w.Strings("user", dedupe(a.RelatedUsers)...)
	}
	w.End()

	footer(&w, o, "")

	w.Object("mamori")
	w.Object("alert")
	w.key("id")
	w.B = append(w.B, w.B[idAt:idAt+idLen]...)
	w.String("key", a.Key)
	w.Int("update", int64(a.Update))
	w.String("severity", SeverityName(a.Severity))
	w.String("message_ja", a.MessageJA)
	a.evidenceJSON(&w)
	if a.Pcap.Filter != "" {
		w.Object("pcap")
		w.String("query", a.Pcap.Filter)
		w.Time("from", a.Pcap.From)
		w.Time("to", a.Pcap.To)
		w.key("command")
		var scratch [512]byte
		w.B = AppendQuoted(w.B, unsafeString(a.Pcap.appendCommand(scratch[:0])))
		w.End()
	}
	w.End()
	w.End()

	w.Finish()
	return w.B
}

func (a *Alert) threatJSON(w *JSON) {
	w.Object("threat")
	w.String("framework", "MITRE ATT&CK")
	if len(a.Threat.Techniques) > 0 {
		w.Object("technique")
		w.key("id")
		w.list(len(a.Threat.Techniques), func(i int) string { return a.Threat.Techniques[i].ID })
		w.key("name")
		w.list(len(a.Threat.Techniques), func(i int) string { return a.Threat.Techniques[i].Name })
		subs := 0
		for _, t := range a.Threat.Techniques {
			if t.SubID != "" {
				subs++
			}
		}
		if subs > 0 {
			w.Object("subtechnique")
			var ids, names []string
			for _, t := range a.Threat.Techniques {
				if t.SubID != "" {
					ids, names = append(ids, t.SubID), append(names, t.SubName)
				}
			}
			w.Strings("id", ids...)
			w.Strings("name", names...)
			w.End()
		}
		w.End()
	}
	if len(a.Threat.Tactics) > 0 {
		w.Object("tactic")
		w.key("id")
		w.list(len(a.Threat.Tactics), func(i int) string { return a.Threat.Tactics[i].ID })
		w.key("name")
		w.list(len(a.Threat.Tactics), func(i int) string { return a.Threat.Tactics[i].Name })
		w.End()
	}
	w.End()
}

func (a *Alert) evidenceJSON(w *JSON) {
	e := &a.Evidence
	w.Object("evidence")
	w.Uint("count", e.Count)
	if e.TargetCount > 0 || len(e.Targets) > 0 {
		w.Int("target_count", int64(max(e.TargetCount, len(e.Targets))))
		w.addrs("targets", e.Targets)
	}
	if len(e.Ports) > 0 {
		w.key("ports")
		w.B = append(w.B, '[')
		for i, p := range e.Ports {
			if i > 0 {
				w.B = append(w.B, ',')
			}
			w.B = strconv.AppendUint(w.B, uint64(p), 10)
		}
		w.B = append(w.B, ']')
	}
	if len(e.FlowIDs) > 0 {
		w.key("flow_ids")
		w.B = append(w.B, '[')
		for i, id := range e.FlowIDs {
			if i > 0 {
				w.B = append(w.B, ',')
			}
			w.B = append(w.B, '"')
			w.B = hex.AppendEncode(w.B, id[:])
			w.B = append(w.B, '"')
		}
		w.B = append(w.B, ']')
	}
	if len(e.CommunityIDs) > 0 {
		w.key("community_ids")
		w.B = append(w.B, '[')
		for i, c := range e.CommunityIDs {
			if i > 0 {
				w.B = append(w.B, ',')
			}
			w.B = append(w.B, '"')
			w.B = append(w.B, c[:]...)
			w.B = append(w.B, '"')
		}
		w.B = append(w.B, ']')
	}
	if len(e.Facts) > 0 {
		w.Array("facts")
		for _, f := range e.Facts {
			w.Item()
			w.String("name", f.Name)
			w.String("value", f.Value)
			w.End()
		}
		w.EndArray()
	}
	w.Time("first", a.First)
	w.Time("last", a.Last)
	w.End()
}

func alertEndpoint(w *JSON, k string, e *AlertEndpoint) {
	if !e.IP.IsValid() && e.Domain == "" {
		return
	}
	w.Object(k)
	if e.IP.IsValid() {
		w.IP("ip", e.IP)
	}
	if e.Port != 0 {
		w.Uint("port", uint64(e.Port))
	}
	w.StringIf("domain", e.Domain)
	w.End()
}

// list writes a JSON array of n strings given by at.
func (w *JSON) list(n int, at func(int) string) {
	w.B = append(w.B, '[')
	for i := range n {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.B = AppendQuoted(w.B, at(i))
	}
	w.B = append(w.B, ']')
}

// addrs writes k: ["a","b",…], skipping invalid and repeated addresses.
func (w *JSON) addrs(k string, as []netip.Addr) {
	w.key(k)
	w.B = append(w.B, '[')
	n := 0
next:
	for i, a := range as {
		if !a.IsValid() {
			continue
		}
		for _, b := range as[:i] {
			if b == a {
				continue next
			}
		}
		if n > 0 {
			w.B = append(w.B, ',')
		}
		w.B = append(w.B, '"')
		w.B = a.AppendTo(w.B)
		w.B = append(w.B, '"')
		n++
	}
	w.B = append(w.B, ']')
}

// unsafeString views b as a string for the duration of a call that does
// not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
