package http

import (
	"bytes"
	"fmt"
	"sync"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Parser recognises HTTP/1.x flows. It is read-only after New and safe for
// concurrent use by every worker.
type Parser struct {
	cfg Config
	// sessions recycles sessions (their buffers and pending table) after
	// the dispatcher is done with them.
	sessions sync.Pool
}

var (
	_ proto.Parser  = (*Parser)(nil)
	_ proto.Limiter = (*Parser)(nil)
)

// New returns an HTTP parser. It returns an error naming the bad field when
// cfg does not validate.
func New(cfg Config) (*Parser, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	return &Parser{cfg: c}, nil
}

// Name is the ECS network.protocol value.
func (p *Parser) Name() string { return "http" }

// StreamLimit implements proto.Limiter: Config.MaxStreamBytes per
// direction, 0 (the whole flow) for -1.
func (p *Parser) StreamLimit() int { return max(p.cfg.MaxStreamBytes, 0) }

// methods are the registered methods Match knows without seeing the
// version (RFC 9110 §9, RFC 4918 WebDAV, RFC 5789 PATCH, RFC 3253).
var methods = [...]string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
	"SEARCH", "MKCALENDAR", "MKACTIVITY", "CHECKOUT", "MERGE", "BIND", "ACL",
}

// hintPorts are web ports where a request line may be more broken than
// elsewhere and still be taken as HTTP (and answered by a web server).
var hintPorts = [...]uint16{80, 8080, 8000, 8008, 8081, 8888, 3128, 591}

// Match wants a TCP flow whose client starts with an HTTP/1.x request, or
// (a capture that missed the request) whose server starts with a status
// line. A request is a known method followed by a space or the line's end,
// or any method token whose line ends in " HTTP/1.x"; a first line that
// mentions another protocol's version (RTSP, SIP) is refused. A first
// segment too short to tell is taken when it could still be a known method:
// the session drops the flow (malformed "not http") if the line is not
// one.
func (p *Parser) Match(f *flow.Info, dir flow.Dir, first []byte) bool {
	if !proto.IsTCP(f) || len(first) == 0 {
		return false
	}
	// A status line first: the capture missed the request (the flow's
	// originator may then be the server).
	if isStatusLine(first, true) && (dir == flow.FromServer || len(first) >= 5) {
		return true
	}
	return dir == flow.FromClient && isRequestStart(first, true, proto.PortHint(f, hintPorts[:]...))
}

// isStatusLine reports whether b starts with "HTTP/1." (any case); partial
// allows a prefix of it.
func isStatusLine(b []byte, partial bool) bool {
	const v = "HTTP/1."
	n := min(len(b), len(v))
	if n < len(v) && !partial {
		return false
	}
	return bytes.EqualFold(b[:n], []byte(v)[:n])
}

// isRequestStart reports whether b starts like a request line.
func isRequestStart(b []byte, partial, hint bool) bool {
	line, complete := b, false
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line, complete = bytes.TrimRight(b[:i], "\r"), true
	}
	if complete {
		// Another text protocol with the same methods (RTSP, SIP).
		if i := bytes.LastIndexByte(line, ' '); i > 0 && isOtherVersion(line[i+1:]) {
			return false
		}
	}
	for _, m := range methods {
		switch {
		case len(line) > len(m) && bytes.Equal(line[:len(m)], []byte(m)):
			if c := line[len(m)]; c == ' ' || hint {
				return true
			}
		case len(line) == len(m) && bytes.Equal(line, []byte(m)):
			return complete || partial
		case !complete && partial && len(line) < len(m) && bytes.HasPrefix([]byte(m), line):
			return true
		}
	}
	// An extension method: a token, a space, a target and " HTTP/1.x".
	if !complete {
		return false
	}
	if hint && bytes.Contains(line, []byte("HTTP/1.")) && line[0] >= 0x20 {
		return true // on a web port, any line naming HTTP/1.x (as a web server would answer it)
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) || len(line) < sp+len(" HTTP/1.1") {
		return false
	}
	v := line[len(line)-len("HTTP/1.1"):]
	return line[len(line)-len(" HTTP/1.1")] == ' ' && isStatusLine(v, false)
}

// isOtherVersion reports whether v is "NAME/d.d" with a NAME other than
// HTTP ("RTSP/1.0", "SIP/2.0").
func isOtherVersion(v []byte) bool {
	i := bytes.IndexByte(v, '/')
	if i <= 0 || len(v) != i+4 || v[i+2] != '.' || v[i+1] < '0' || v[i+1] > '9' || v[i+3] < '0' || v[i+3] > '9' {
		return false
	}
	for _, c := range v[:i] {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return !equalFold(v[:i], "HTTP")
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// NewSession starts the state of one flow.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	s, _ := p.sessions.Get().(*Session)
	if s == nil {
		s = new(Session)
	}
	// All state afresh; only the buffers' and pending table's arrays are
	// kept (Recycle emptied them).
	*s = Session{cfg: p.cfg, emit: emit, conn: f.Conn, hint: proto.PortHint(f, hintPorts[:]...), server: flow.FromServer,
		pool: &p.sessions, pending: s.pending[:0], scratch: s.scratch[:0]}
	s.half[0].buf, s.half[1].buf = s.half[0].buf[:0], s.half[1].buf[:0]
	return s
}
