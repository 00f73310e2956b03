package dns

import (
	"strconv"
	"strings"
	"sync"
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
	domain  domainSplit
	split   bool // domain is splitDomain(Name), from the parser's cache
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

// AppendJSON implements event.Record. The body is written as runs of
// constant bytes around the values (event.AppendProtoRuns); legacy_test.go
// keeps the member-by-member form it must equal.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProtoRuns(dst, o, Dataset, &r.Base, r.appendBody)
}

func (r *Record) appendBody(b []byte) []byte {
	b = append(b, `,"dns":{"id":"`...)
	b = strconv.AppendUint(b, uint64(r.ID), 10)
	b = append(b, `","op_code":`...)
	b = event.AppendQuoted(b, OpcodeName(r.Opcode))
	if r.HasResponse {
		b = append(b, `,"type":"answer","header_flags":`...)
		b = appendHeaderFlags(b, r.RespFlags, r.DO)
		b = append(b, `,"response_code":`...)
		b = event.AppendQuoted(b, RcodeName(r.Rcode))
	} else {
		b = append(b, `,"type":"query","header_flags":`...)
		b = appendHeaderFlags(b, r.QueryFlags, r.DO)
	}
	if r.QuestionCount > 0 {
		b = append(b, `,"question":{"name":`...)
		b = event.AppendQuoted(b, r.Name)
		b = append(b, `,"type":`...)
		b = event.AppendQuoted(b, TypeName(r.QType))
		b = append(b, `,"class":`...)
		b = event.AppendQuoted(b, ClassName(r.QClass))
		d := r.domain
		if !r.split {
			d.reg, d.sub, d.tld = splitDomain(r.Name)
		}
		if d.reg != "" {
			b = append(b, `,"registered_domain":`...)
			b = event.AppendQuoted(b, d.reg)
			if d.sub != "" {
				b = append(b, `,"subdomain":`...)
				b = event.AppendQuoted(b, d.sub)
			}
			b = append(b, `,"top_level_domain":`...)
			b = event.AppendQuoted(b, d.tld)
		}
		b = append(b, '}')
	}
	if len(r.Answers) > 0 {
		b = append(b, `,"answers":[`...)
		ips := 0
		for i := range r.Answers {
			a := &r.Answers[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = event.AppendQuoted(b, a.Name)
			b = append(b, `,"type":`...)
			b = event.AppendQuoted(b, TypeName(a.Type))
			b = append(b, `,"class":`...)
			b = event.AppendQuoted(b, ClassName(a.Class))
			b = append(b, `,"ttl":`...)
			b = strconv.AppendUint(b, uint64(a.TTL), 10)
			if a.Data != "" {
				b = append(b, `,"data":`...)
				b = event.AppendQuoted(b, a.Data)
			}
			b = append(b, '}')
			if a.IP.IsValid() {
				ips++
			}
		}
		b = append(b, ']')
		if ips > 0 {
			b = append(b, `,"resolved_ip":[`...)
			n := 0
			for i := range r.Answers {
				if a := &r.Answers[i]; a.IP.IsValid() {
					if n > 0 {
						b = append(b, ',')
					}
					b = event.AppendQuoted(b, a.Data)
					n++
				}
			}
			b = append(b, ']')
		}
	}
	b = append(b, `},"mamori":{"dns":{"variant":`...)
	b = event.AppendQuoted(b, r.Variant)
	if r.HasResponse {
		b = append(b, `,"answers_count":`...)
		b = strconv.AppendUint(b, uint64(r.AnswerCount), 10)
		b = append(b, `,"authorities_count":`...)
		b = strconv.AppendUint(b, uint64(r.AuthCount), 10)
		b = append(b, `,"additionals_count":`...)
		b = strconv.AppendUint(b, uint64(r.AddCount), 10)
	}
	if r.AnswersDropped > 0 {
		b = append(b, `,"answers_dropped":`...)
		b = strconv.AppendUint(b, uint64(r.AnswersDropped), 10)
	}
	if r.QuestionCount > 1 {
		b = append(b, `,"questions_count":`...)
		b = strconv.AppendUint(b, uint64(r.QuestionCount), 10)
		b = append(b, `,"other_questions":`...)
		b = event.AppendStrings(b, r.OtherQuestions...)
	}
	if r.UnicastResp {
		b = append(b, `,"unicast_response":true`...)
	}
	if r.Retransmits > 0 {
		b = append(b, `,"retransmissions":`...)
		b = strconv.AppendUint(b, uint64(r.Retransmits), 10)
	}
	if len(r.Anomalies) > 0 {
		b = append(b, `,"anomalies":`...)
		b = event.AppendStrings(b, r.Anomalies...)
	}
	return append(b, "}}"...)
}

// appendHeaderFlags appends headerFlags' names as a JSON array (they are
// ASCII letters: nothing to escape).
func appendHeaderFlags(b []byte, f uint16, do bool) []byte {
	var flags [7]string
	b = append(b, '[')
	for i, name := range headerFlags(flags[:0], f, do) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"')
	}
	return append(b, ']')
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

// domainSplit is what splitDomain returns for one name.
type domainSplit struct{ reg, sub, tld string }

// domainCache remembers splitDomain's results by name, for every worker's
// sessions (safe for concurrent use). It holds at most max names and
// starts afresh when full; since splitDomain is a pure function of the
// name, it changes no output.
type domainCache struct {
	mu  sync.Mutex
	m   map[string]domainSplit
	max int
}

func (c *domainCache) split(name string) domainSplit {
	c.mu.Lock()
	d, ok := c.m[name]
	c.mu.Unlock()
	if ok {
		return d
	}
	d.reg, d.sub, d.tld = splitDomain(name)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[string]domainSplit, min(c.max, 1024))
	}
	c.m[name] = d
	c.mu.Unlock()
	return d
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
