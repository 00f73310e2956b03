package http

import (
	"strconv"
	"strings"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/internal/ntlm"
)

// Dataset is the ECS dataset of HTTP records.
const Dataset = "mamori.http"

// Record is one request/response exchange, a request without a response
// (outcome unknown) or a response whose request was not seen.
type Record struct {
	event.Base

	HasRequest, HasResponse bool

	Method, Target, Version string
	Scheme, Domain, Path    string
	Query                   string
	Port                    int
	Host                    string // the Host header as sent
	UserAgent, Referrer     string
	ReqContentType          string
	ReqHeaderBytes          int
	ReqBodyBytes            int64

	Status          int
	RespVersion     string
	RespContentType string
	Server          string
	RespHeaderBytes int
	RespBodyBytes   int64
	Tunnel          bool // 101 or CONNECT 2xx: the connection is no longer HTTP

	// Authentication.
	AuthScheme       string // of the request's Authorization
	ChallengeScheme  string // of the response's WWW-Authenticate
	User, UserDomain string
	Workstation      string

	Anomalies []string

	// reqCL and respCL are the declared Content-Length values, -1 when
	// none was sent.
	reqCL, respCL int64

	ntlm    *ntlmState // nil unless an NTLM message was seen
	hosts   [2]string  // RelatedHosts' backing array
	users   [1]string  // RelatedUsers' backing array
	respAt  time.Time
	emitted bool
	bodyGap bool // bytes of the response were lost (counted as body)
}

// ntlmState is what a record keeps of NTLM (few exchanges carry it: it
// is allocated only for those).
type ntlmState struct {
	auth      ntlm.Message
	challenge ntlm.Message
	version   string
}

// ntlmInfo returns r's NTLM state, allocating it on first use.
func (r *Record) ntlmInfo() *ntlmState {
	if r.ntlm == nil {
		r.ntlm = new(ntlmState)
	}
	return r.ntlm
}

var (
	recCategory = []string{"network", "web"}
	recType     = []string{"access", "protocol"}
)

func newRecord(c event.Conn, ts time.Time) *Record {
	r := &Record{reqCL: -1, respCL: -1}
	r.Conn = c
	r.Timestamp = ts
	r.Protocol = "http"
	r.Action = "http_request"
	r.Category = recCategory
	r.Type = recType
	return r
}

func (r *Record) anomaly(as ...string) {
next:
	for _, a := range as {
		for _, x := range r.Anomalies {
			if x == a {
				continue next
			}
		}
		if len(r.Anomalies) < 8 {
			r.Anomalies = append(r.Anomalies, a)
		}
	}
}

// finish sets the ECS event fields.
func (r *Record) finish() {
	switch {
	case !r.HasResponse:
		r.Outcome, r.Reason = "unknown", "no answer"
	case r.Status >= 400:
		r.Outcome = "failure"
	default:
		r.Outcome = "success"
	}
	if r.HasRequest && r.HasResponse {
		r.Duration = r.respAt.Sub(r.Timestamp)
	}
	// Into the record's own arrays: no allocation per record.
	n := 0
	if r.Domain != "" {
		r.hosts[n] = r.Domain
		n++
	}
	if r.Workstation != "" {
		r.hosts[n] = r.Workstation
		n++
	}
	r.RelatedHosts = nil
	if n > 0 {
		r.RelatedHosts = r.hosts[:n:n]
	}
	if r.User != "" {
		r.users[0] = r.User
		r.RelatedUsers = r.users[:1:1]
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
	b = append(b, `,"http":{`...)
	sep := false
	// member writes "k":"v" when v is set, after a comma unless it opens
	// its object (sep false).
	member := func(k, v string) {
		if v == "" {
			return
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, k...)
		b = event.AppendQuoted(b, v)
		sep = true
	}
	if v := r.Version; v != "" {
		b = append(b, `"version":`...)
		b = event.AppendQuoted(b, v)
		sep = true
	} else if r.RespVersion != "" {
		b = append(b, `"version":`...)
		b = event.AppendQuoted(b, r.RespVersion)
		sep = true
	}
	if r.HasRequest {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"request":{`...)
		in := false
		if r.Method != "" {
			b = append(b, `"method":`...)
			b = event.AppendQuoted(b, r.Method)
			in = true
		}
		if r.Referrer != "" {
			if in {
				b = append(b, ',')
			}
			b = append(b, `"referrer":`...)
			b = event.AppendQuoted(b, r.Referrer)
			in = true
		}
		if r.ReqBodyBytes > 0 {
			if in {
				b = append(b, ',')
			}
			b = append(b, `"body":{"bytes":`...)
			b = strconv.AppendInt(b, r.ReqBodyBytes, 10)
			b = append(b, '}')
			in = true
		}
		if in {
			b = append(b, ',')
		}
		b = append(b, `"bytes":`...)
		b = strconv.AppendInt(b, int64(r.ReqHeaderBytes)+r.ReqBodyBytes, 10)
		b = append(b, '}')
		sep = true
	}
	if r.HasResponse {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"response":{"status_code":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
		b = append(b, `,"body":{"bytes":`...)
		b = strconv.AppendInt(b, r.RespBodyBytes, 10)
		b = append(b, `},"bytes":`...)
		b = strconv.AppendInt(b, int64(r.RespHeaderBytes)+r.RespBodyBytes, 10)
		b = append(b, '}')
	}
	b = append(b, '}')

	if r.HasRequest && (r.Target != "" || r.Domain != "") {
		b = append(b, `,"url":{`...)
		sep = false
		member(`"original":`, r.Target)
		member(`"scheme":`, r.Scheme)
		member(`"domain":`, r.Domain)
		if r.Port > 0 {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"port":`...)
			b = strconv.AppendInt(b, int64(r.Port), 10)
			sep = true
		}
		member(`"path":`, r.Path)
		member(`"query":`, r.Query)
		if ext := extension(r.Path); ext != "" {
			member(`"extension":`, ext)
		}
		b = append(b, '}')
	}
	if r.UserAgent != "" {
		b = append(b, `,"user_agent":{"original":`...)
		b = event.AppendQuoted(b, r.UserAgent)
		b = append(b, '}')
	}
	if r.User != "" {
		b = append(b, `,"user":{"name":`...)
		b = event.AppendQuoted(b, r.User)
		if r.UserDomain != "" {
			b = append(b, `,"domain":`...)
			b = event.AppendQuoted(b, r.UserDomain)
		}
		b = append(b, '}')
	}

	b = append(b, `,"mamori":{"http":{`...)
	sep = false
	member(`"host":`, r.Host)
	if r.ReqContentType != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"request":{"content_type":`...)
		b = event.AppendQuoted(b, r.ReqContentType)
		b = append(b, '}')
		sep = true
	}
	if r.RespContentType != "" || r.Server != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"response":{`...)
		sep = false
		member(`"content_type":`, r.RespContentType)
		member(`"server":`, r.Server)
		b = append(b, '}')
		sep = true
	}
	if r.AuthScheme != "" || r.ChallengeScheme != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"auth":{`...)
		sep = false
		member(`"scheme":`, r.AuthScheme)
		member(`"challenge":`, r.ChallengeScheme)
		member(`"workstation":`, r.Workstation)
		if r.ntlm != nil && r.ntlm.challenge.Type == ntlm.TypeChallenge {
			m := &r.ntlm.challenge
			member(`"target_name":`, m.TargetName)
			member(`"server_netbios_name":`, m.ServerNetBIOSName)
			member(`"server_dns_name":`, m.ServerDNSName)
		}
		b = append(b, '}')
		sep = true
	}
	if r.Tunnel {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"tunnel":true`...)
		sep = true
	}
	if len(r.Anomalies) > 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"anomalies":`...)
		b = event.AppendStrings(b, r.Anomalies...)
	}
	return append(b, "}}"...)
}

// extension is url.extension: what follows the last dot of the path's
// last segment, at most 16 bytes, or "".
func extension(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 && i > strings.LastIndexByte(path, '/') && len(path)-i-1 <= 16 && i+1 < len(path) {
		return path[i+1:]
	}
	return ""
}
