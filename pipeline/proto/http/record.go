package http

import (
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

	ntlmAuth      ntlm.Message
	ntlmChallenge ntlm.Message
	ntlmVersion   string
	respAt        time.Time
	emitted       bool
	bodyGap       bool // bytes of the response were lost (counted as body)
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
	r.RelatedHosts = r.RelatedHosts[:0]
	if r.Domain != "" {
		r.RelatedHosts = append(r.RelatedHosts, r.Domain)
	}
	if r.Workstation != "" {
		r.RelatedHosts = append(r.RelatedHosts, r.Workstation)
	}
	if r.User != "" {
		r.RelatedUsers = append(r.RelatedUsers[:0], r.User)
	}
}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, r.body)
}

func (r *Record) body(w *event.JSON) {
	w.Object("http")
	if v := r.Version; v != "" {
		w.String("version", v)
	} else if r.RespVersion != "" {
		w.String("version", r.RespVersion)
	}
	if r.HasRequest {
		w.Object("request")
		w.StringIf("method", r.Method)
		w.StringIf("referrer", r.Referrer)
		if r.ReqBodyBytes > 0 {
			w.Object("body")
			w.Int("bytes", r.ReqBodyBytes)
			w.End()
		}
		w.Int("bytes", int64(r.ReqHeaderBytes)+r.ReqBodyBytes)
		w.End()
	}
	if r.HasResponse {
		w.Object("response")
		w.Int("status_code", int64(r.Status))
		w.Object("body")
		w.Int("bytes", r.RespBodyBytes)
		w.End()
		w.Int("bytes", int64(r.RespHeaderBytes)+r.RespBodyBytes)
		w.End()
	}
	w.End()

	if r.HasRequest && (r.Target != "" || r.Domain != "") {
		w.Object("url")
		w.StringIf("original", r.Target)
		w.StringIf("scheme", r.Scheme)
		w.StringIf("domain", r.Domain)
		if r.Port > 0 {
			w.Int("port", int64(r.Port))
		}
		w.StringIf("path", r.Path)
		w.StringIf("query", r.Query)
		if i := strings.LastIndexByte(r.Path, '.'); i >= 0 && i > strings.LastIndexByte(r.Path, '/') && len(r.Path)-i-1 <= 16 && i+1 < len(r.Path) {
			w.String("extension", r.Path[i+1:])
		}
		w.End()
	}
	if r.UserAgent != "" {
		w.Object("user_agent")
		w.String("original", r.UserAgent)
		w.End()
	}
	if r.User != "" {
		w.Object("user")
		w.String("name", r.User)
		w.StringIf("domain", r.UserDomain)
		w.End()
	}

	w.Object("mamori")
	w.Object("http")
	w.StringIf("host", r.Host)
	if r.ReqContentType != "" {
		w.Object("request")
		w.String("content_type", r.ReqContentType)
		w.End()
	}
	if r.RespContentType != "" || r.Server != "" {
		w.Object("response")
		w.StringIf("content_type", r.RespContentType)
		w.StringIf("server", r.Server)
		w.End()
	}
	if r.AuthScheme != "" || r.ChallengeScheme != "" {
		w.Object("auth")
		w.StringIf("scheme", r.AuthScheme)
		w.StringIf("challenge", r.ChallengeScheme)
		w.StringIf("workstation", r.Workstation)
		if m := &r.ntlmChallenge; m.Type == ntlm.TypeChallenge {
			w.StringIf("target_name", m.TargetName)
			w.StringIf("server_netbios_name", m.ServerNetBIOSName)
			w.StringIf("server_dns_name", m.ServerDNSName)
		}
		w.End()
	}
	if r.Tunnel {
		w.Bool("tunnel", true)
	}
	if len(r.Anomalies) > 0 {
		w.Strings("anomalies", r.Anomalies...)
	}
	w.End()
	w.End()
}
