package http

// The record body as it was written member by member through the JSON
// writer: the reference appendBody must equal byte for byte.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/internal/ntlm"
	"mamori/pipeline/proto/prototest"
)

// TestLegacyReal compares the two forms on every record of the captures
// (those under ../shared/pcaps where present, the mixed ones too).
func TestLegacyReal(t *testing.T) {
	var paths []string
	shared := filepath.Join(testenv.ModuleRoot(t), "..", "shared", "pcaps")
	_, err := os.Stat(shared)
	for _, c := range captures {
		switch {
		case !c.shared:
			paths = append(paths, testenv.Pcap(t, c.rel))
		case err == nil:
			paths = append(paths, filepath.Join(shared, c.rel))
		}
	}
	if err == nil {
		m, _ := filepath.Glob(filepath.Join(shared, "mixed", "*.pcap"))
		paths = append(paths, m...)
	}
	p := mustNew(t, Config{})
	n := 0
	for _, path := range paths {
		for _, r := range prototest.Records(t, path, p) {
			if h, ok := r.(*Record); ok {
				checkLegacy(t, h)
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d records", n)
	}
}

// checkLegacy fails when a record's JSON differs from the legacy form.
func checkLegacy(t testing.TB, r *Record) {
	t.Helper()
	got := r.AppendJSON(nil, &prototest.Observer)
	want := event.AppendProto(nil, &prototest.Observer, Dataset, &r.Base, r.legacyBody)
	if !bytes.Equal(got, want) {
		t.Fatalf("fast body differs from the legacy one:\n got %s\nwant %s", got, want)
	}
}

func (r *Record) legacyBody(w *event.JSON) {
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
		if r.ntlm != nil && r.ntlm.challenge.Type == ntlm.TypeChallenge {
			m := &r.ntlm.challenge
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
