package dns

import (
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"mamori/pipeline/event"
)

// Dataset is the ECS dataset of DNS records.
const Dataset = "mamori.dns"

// Variants (mamori.dns.variant).
const (
	VariantDNS   = "dns"
	VariantMDNS  = "mdns"
	VariantLLMNR = "llmnr"
)

// Record is one DNS transaction: a query and its response, a query alone
// (no answer) or a response alone (its query not seen).
type Record struct {
	event.Base

	ID          uint16
	Opcode      uint8
	HasQuery    bool
	HasResponse bool
	QueryFlags  uint16
	RespFlags   uint16
	DO          bool // EDNS0 DNSSEC OK, from the query or the response

	// The first question; OtherQuestions names the rest (mDNS asks
	// several at once), QuestionCount counts them all.
	Name           string
	QType, QClass  uint16
	UnicastResp    bool
	OtherQuestions []string
	QuestionCount  int

	Rcode          uint16 // with the EDNS extended bits
	Answers        []Answer
	AnswersDropped int
	AnswerCount    int // ANCOUNT of the response
	AuthCount      int
	AddCount       int

	Variant     string
	Retransmits int // the same query again while waiting
	Anomalies   []string

	queryAt time.Time
	related [1]string // RelatedHosts' backing array
}

var (
	recCategory = []string{"network"}
	recType     = []string{"connection", "protocol"}
)

func (r *Record) anomaly(as ...string) {
next:
	for _, a := range as {
		for _, x := range r.Anomalies {
			if x == a {
				continue next
			}
		}
		r.Anomalies = append(r.Anomalies, a)
	}
}

// finish sets the ECS event fields from what was seen.
func (r *Record) finish() {
	switch {
	case r.HasResponse && r.HasQuery:
		r.Action = "dns_answer"
	case r.HasResponse:
		r.Action = "dns_answer"
	default:
		r.Action = "dns_query"
	}
	switch {
	case !r.HasResponse:
		r.Outcome, r.Reason = "unknown", "no answer"
	case r.Rcode == 0:
		r.Outcome = "success"
	default:
		r.Outcome, r.Reason = "failure", RcodeName(r.Rcode)
	}
	if r.Name != "" && r.Name != "." {
		r.related[0] = r.Name
		r.RelatedHosts = r.related[:]
	}
}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, r.body)
}

func (r *Record) body(w *event.JSON) {
	w.Object("dns")
	w.UintString("id", uint64(r.ID))
	w.String("op_code", OpcodeName(r.Opcode))
	var flags [7]string
	if r.HasResponse {
		w.String("type", "answer")
		w.Strings("header_flags", headerFlags(flags[:0], r.RespFlags, r.DO)...)
		w.String("response_code", RcodeName(r.Rcode))
	} else {
		w.String("type", "query")
		w.Strings("header_flags", headerFlags(flags[:0], r.QueryFlags, r.DO)...)
	}
	if r.QuestionCount > 0 {
		w.Object("question")
		w.String("name", r.Name)
		w.String("type", TypeName(r.QType))
		w.String("class", ClassName(r.QClass))
		if reg, sub, tld := splitDomain(r.Name); reg != "" {
			w.String("registered_domain", reg)
			w.StringIf("subdomain", sub)
			w.String("top_level_domain", tld)
		}
		w.End()
	}
	if len(r.Answers) > 0 {
		w.Array("answers")
		var ipBuf [8]string
		ips := ipBuf[:0]
		for i := range r.Answers {
			a := &r.Answers[i]
			w.Item()
			w.String("name", a.Name)
			w.String("type", TypeName(a.Type))
			w.String("class", ClassName(a.Class))
			w.Int("ttl", int64(a.TTL))
			w.StringIf("data", a.Data)
			w.End()
			if a.IP.IsValid() {
				ips = append(ips, a.Data)
			}
		}
		w.EndArray()
		if len(ips) > 0 {
			w.Strings("resolved_ip", ips...)
		}
	}
	w.End()

	w.Object("mamori")
	w.Object("dns")
	w.String("variant", r.Variant)
	if r.HasResponse {
		w.Uint("answers_count", uint64(r.AnswerCount))
		w.Uint("authorities_count", uint64(r.AuthCount))
		w.Uint("additionals_count", uint64(r.AddCount))
	}
	if r.AnswersDropped > 0 {
		w.Uint("answers_dropped", uint64(r.AnswersDropped))
	}
	if r.QuestionCount > 1 {
		w.Uint("questions_count", uint64(r.QuestionCount))
		w.Strings("other_questions", r.OtherQuestions...)
	}
	if r.UnicastResp {
		w.Bool("unicast_response", true)
	}
	if r.Retransmits > 0 {
		w.Uint("retransmissions", uint64(r.Retransmits))
	}
	if len(r.Anomalies) > 0 {
		w.Strings("anomalies", r.Anomalies...)
	}
	w.End()
	w.End()
}

// headerFlags appends the set flags in ECS's two-letter form to out.
func headerFlags(out []string, f uint16, do bool) []string {
	for _, x := range [...]struct {
		bit  uint16
		name string
	}{{flagAA, "AA"}, {flagTC, "TC"}, {flagRD, "RD"}, {flagRA, "RA"}, {flagAD, "AD"}, {flagCD, "CD"}} {
		if f&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	if do {
		out = append(out, "DO")
	}
	return out
}

// splitDomain returns the registered domain, the subdomain and the
// effective top-level domain of name from the public suffix list, or
// empty strings when the name's suffix is not on the list (".local") or
// the name is a suffix itself.
func splitDomain(name string) (registered, sub, tld string) {
	if name == "" || name == "." || strings.ContainsAny(name, `\`) {
		return "", "", ""
	}
	lower := strings.ToLower(strings.TrimSuffix(name, "."))
	suffix, icann := publicsuffix.PublicSuffix(lower)
	if !icann && !strings.Contains(suffix, ".") {
		return "", "", ""
	}
	reg, ok := tldPlusOne(lower, suffix)
	if !ok {
		return "", "", ""
	}
	sub = strings.TrimSuffix(strings.TrimSuffix(lower, reg), ".")
	return reg, sub, suffix
}

// tldPlusOne is publicsuffix.EffectiveTLDPlusOne(domain) for a domain whose
// public suffix is known already: that function looks the suffix up again
// (and PublicSuffix allocates an error for every name that is not an
// address). splitDomain_test checks that the two agree.
func tldPlusOne(domain, suffix string) (string, bool) {
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", false
	}
	if len(domain) <= len(suffix) {
		return "", false
	}
	i := len(domain) - len(suffix) - 1
	if domain[i] != '.' {
		return "", false
	}
	return domain[1+strings.LastIndexByte(domain[:i], '.'):], true
}
