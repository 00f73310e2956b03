package ntlm

import (
	"time"

	"mamori/pipeline/event"
)

// Dataset is the ECS dataset of NTLM authentication records.
const Dataset = "mamori.ntlm"

// Record is one NTLM authentication seen on any transport: the
// AUTHENTICATE message's user, domain and workstation, the server names
// its CHALLENGE announced, and the outcome the transport reported
// (SMB2 SESSION_SETUP status, HTTP status after the exchange).
type Record struct {
	event.Base
	User, Domain, Workstation string
	// TargetName, ServerNetBIOSName and ServerDNSName come from the
	// CHALLENGE message, when it was seen.
	TargetName, ServerNetBIOSName, ServerDNSName string
	// Transport is the protocol that carried NTLM: "smb", "http", "rdp".
	Transport string
	// Status is the transport's own result, e.g. "STATUS_LOGON_FAILURE"
	// or "401".
	Status string
	// Version is "v1" or "v2" (see NTLMVersion), empty when unknown.
	Version   string
	Anonymous bool
}

// NewRecord builds the record of an AUTHENTICATE message auth carried by
// transport on conn at ts. challenge is the CHALLENGE message that preceded
// it (zero when not seen). The caller sets Outcome ("success", "failure",
// "unknown"), Status and Version.
func NewRecord(conn event.Conn, ts time.Time, transport string, auth, challenge Message) *Record {
	r := &Record{
		User:              auth.User,
		Domain:            auth.Domain,
		Workstation:       auth.Workstation,
		TargetName:        challenge.TargetName,
		ServerNetBIOSName: challenge.ServerNetBIOSName,
		ServerDNSName:     challenge.ServerDNSName,
		Transport:         transport,
		Anonymous:         auth.Anonymous(),
	}
	r.Conn = conn
	r.Timestamp = ts
	r.Protocol = "ntlm"
	r.Action = "ntlm_auth"
	r.Category = recCategory
	r.Type = recType
	if auth.User != "" {
		r.RelatedUsers = []string{auth.User}
	}
	r.RelatedHosts = make([]string, 0, 3)
	for _, h := range []string{auth.Workstation, challenge.ServerNetBIOSName, challenge.ServerDNSName} {
		if h != "" {
			r.RelatedHosts = append(r.RelatedHosts, h)
		}
	}
	return r
}

var (
	recCategory = []string{"network", "authentication"}
	recType     = []string{"info", "start"}
)

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, func(w *event.JSON) {
		if r.User != "" || r.Domain != "" {
			w.Object("user")
			w.StringIf("name", r.User)
			w.StringIf("domain", r.Domain)
			w.End()
		}
		w.Object("mamori")
		w.Object("ntlm")
		w.StringIf("workstation", r.Workstation)
		w.StringIf("transport", r.Transport)
		w.StringIf("status", r.Status)
		w.StringIf("version", r.Version)
		if r.Anonymous {
			w.Bool("anonymous", true)
		}
		w.StringIf("target_name", r.TargetName)
		if r.ServerNetBIOSName != "" || r.ServerDNSName != "" {
			w.Object("server")
			w.StringIf("netbios_name", r.ServerNetBIOSName)
			w.StringIf("dns_name", r.ServerDNSName)
			w.End()
		}
		w.End()
		w.End()
	})
}
