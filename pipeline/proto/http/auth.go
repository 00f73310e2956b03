package http

import (
	"bytes"
	"encoding/base64"
	"strings"

	"mamori/pipeline/proto/internal/ntlm"
)

// maxToken bounds the base64 credentials decoded from one header.
const maxToken = 12 << 10

// authorization reads an Authorization or Proxy-Authorization value.
func (s *Session) authorization(r *Record, v []byte) {
	scheme, cred := splitScheme(v)
	r.AuthScheme = strings.ToLower(string(scheme))
	switch r.AuthScheme {
	case "basic":
		raw, ok := s.decode(cred)
		if !ok {
			r.anomaly(AnomalyBadAuth)
			return
		}
		// "user:password": keep the user, drop the password with the
		// scratch buffer it was decoded into.
		user, _, _ := bytes.Cut(raw, []byte(":"))
		r.setUser(string(user[:min(len(user), 256)]))
		clear(raw)
	case "digest":
		r.setUser(param(cred, "username"))
	case "ntlm", "negotiate":
		raw, ok := s.decode(cred)
		if !ok {
			r.anomaly(AnomalyBadAuth)
			return
		}
		m, found := ntlm.Find(raw)
		if !found {
			return // Kerberos inside SPNEGO, or an empty token
		}
		if m.Type == ntlm.TypeAuthenticate {
			n := r.ntlmInfo()
			n.auth = m
			n.version = ntlm.FindNTLMVersion(raw)
			if s.haveChallenge {
				n.challenge = s.challenge
			}
			r.UserDomain, r.Workstation = m.Domain, m.Workstation
			r.setUser(m.User)
		}
	}
}

// challengeHeader reads a WWW-Authenticate or Proxy-Authenticate value.
func (s *Session) challengeHeader(r *Record, v []byte) {
	scheme, cred := splitScheme(v)
	if r.ChallengeScheme == "" || len(cred) > 0 {
		r.ChallengeScheme = strings.ToLower(string(scheme))
	}
	lower := strings.ToLower(string(scheme))
	if (lower != "ntlm" && lower != "negotiate") || len(cred) == 0 {
		return
	}
	raw, ok := s.decode(cred)
	if !ok {
		return
	}
	if m, found := ntlm.Find(raw); found && m.Type == ntlm.TypeChallenge {
		s.challenge, s.haveChallenge = m, true
		r.ntlmInfo().challenge = m
	}
}

// splitScheme splits "Scheme credentials".
func splitScheme(v []byte) (scheme, cred []byte) {
	v = bytes.TrimSpace(v)
	if i := bytes.IndexAny(v, " \t"); i >= 0 {
		return v[:i], bytes.TrimSpace(v[i+1:])
	}
	return v, nil
}

// decode decodes base64 credentials into the session's scratch buffer.
func (s *Session) decode(b []byte) ([]byte, bool) {
	b = bytes.TrimRight(b, " \t,")
	if len(b) == 0 || len(b) > maxToken {
		return nil, false
	}
	n := base64.StdEncoding.DecodedLen(len(b))
	if cap(s.scratch) < n {
		s.scratch = make([]byte, n)
	}
	out := s.scratch[:n]
	m, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		// Some clients leave out the padding.
		m, err = base64.RawStdEncoding.Decode(out, bytes.TrimRight(b, "="))
		if err != nil {
			return nil, false
		}
	}
	return out[:m], true
}

// param returns an auth-param's value (token or quoted-string) from a
// comma-separated list, case-insensitively by name.
func param(b []byte, name string) string {
	for len(b) > 0 {
		var item []byte
		item, b, _ = cutUnquoted(b)
		k, v, ok := bytes.Cut(bytes.TrimSpace(item), []byte("="))
		if !ok || !equalFold(bytes.TrimSpace(k), name) {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = bytes.ReplaceAll(v[1:len(v)-1], []byte(`\"`), []byte(`"`))
		}
		return string(v[:min(len(v), 256)])
	}
	return ""
}

// cutUnquoted cuts b at the first comma outside a quoted string.
func cutUnquoted(b []byte) (before, after []byte, found bool) {
	q := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			if q {
				i++
			}
		case '"':
			q = !q
		case ',':
			if !q {
				return b[:i], b[i+1:], true
			}
		}
	}
	return b, nil, false
}

// setUser records a user name ("DOMAIN\user" and "user@realm" split).
func (r *Record) setUser(u string) {
	u = strings.ToValidUTF8(strings.TrimSpace(u), "\uFFFD")
	if u == "" {
		return
	}
	if d, name, ok := strings.Cut(u, `\`); ok && r.UserDomain == "" {
		r.UserDomain, u = d, name
	}
	r.User = u
}
