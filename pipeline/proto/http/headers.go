package http

import (
	"bytes"
	"strconv"
	"strings"
)

// splitStart splits a header block into its start line and the rest.
func splitStart(block []byte) (line, fields []byte) {
	i := bytes.IndexByte(block, '\n')
	if i < 0 {
		return bytes.TrimRight(block, "\r"), nil
	}
	return bytes.TrimRight(block[:i], "\r"), block[i+1:]
}

// eachField calls fn with every header field's name and value (optional
// whitespace trimmed). Obsolete line folding continues the previous field
// and is ignored; lines without a colon are skipped.
func eachField(b []byte, fn func(name, value []byte)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		fieldLine(line, fn)
	}
}

// fieldLine calls fn with one header line's name and value, if it has
// them.
func fieldLine(line []byte, fn func(name, value []byte)) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
		return
	}
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return
	}
	fn(trimRightOWS(line[:c]), trimLeftOWS(trimRightOWS(line[c+1:])))
}

// maxLineEnds is how many line ends of a header block endOfHeadersAt
// notes; a block with more lines is walked by searching again.
const maxLineEnds = 64

// lineEnds are the offsets of every '\n' of a header block, noted while
// its end was searched for (n is 0 when they were not noted, -1 when there
// were too many).
type lineEnds struct {
	n  int
	at [maxLineEnds]int32
}

func (e *lineEnds) add(p int) {
	if e.n >= 0 && e.n < maxLineEnds {
		e.at[e.n] = int32(p)
		e.n++
		return
	}
	e.n = -1
}

// startLine is splitStart's line, from the line ends noted in e when
// there are (block being the block they were noted in).
func startLine(block []byte, e *lineEnds) []byte {
	if e.n <= 0 {
		line, _ := splitStart(block)
		return line
	}
	return bytes.TrimRight(block[:e.at[0]], "\r")
}

// eachHeaderField is eachField on splitStart's fields, walking the line
// ends noted in e when there are.
func eachHeaderField(block []byte, e *lineEnds, fn func(name, value []byte)) {
	if e.n <= 0 {
		_, fields := splitStart(block)
		eachField(fields, fn)
		return
	}
	ends := e.at[:e.n]
	prev := int(ends[0]) + 1
	for _, p := range ends[1:] {
		fieldLine(block[prev:p], fn)
		prev = int(p) + 1
	}
	if prev < len(block) {
		fieldLine(block[prev:], fn) // not a block ending in an empty line
	}
}

// trimLeftOWS and trimRightOWS drop optional whitespace (spaces and tabs)
// from one end: bytes.Trim with a cutset, without building its set.
func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimRightOWS(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the ASCII string s ignoring case,
// without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether b starts with s ignoring ASCII case.
func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

// framing collects the fields that decide a message's body length.
type framing struct {
	hasLength bool
	length    int64
	chunked   bool
	otherTE   bool
	anomalies []string
}

// field takes Content-Length and Transfer-Encoding; it reports whether the
// field was one of them.
func (f *framing) field(name, value []byte) bool {
	switch {
	case equalFold(name, "Content-Length"):
		n, err := strconv.ParseInt(string(value), 10, 64)
		switch {
		case err != nil || n < 0 || len(value) > 18:
			f.anomalies = append(f.anomalies, AnomalyBadContentLength)
		case f.hasLength && n != f.length:
			f.anomalies = append(f.anomalies, AnomalyBadContentLength)
		default:
			f.hasLength, f.length = true, n
		}
		if f.chunked || f.otherTE {
			f.anomalies = append(f.anomalies, AnomalyTEAndCL)
		}
		return true
	case equalFold(name, "Transfer-Encoding"):
		// The last coding decides: chunked must be last (RFC 9112 §6.1).
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = value[i+1:]
		}
		last = bytes.TrimSpace(last)
		if equalFold(last, "chunked") {
			f.chunked, f.otherTE = true, false
		} else if len(last) > 0 && !equalFold(last, "identity") {
			f.chunked, f.otherTE = false, true
		}
		if f.hasLength {
			f.anomalies = append(f.anomalies, AnomalyTEAndCL)
		}
		return true
	}
	return false
}

// statusLine parses "HTTP/x.y SP 3DIGIT [SP reason]" (the version's name
// in any case, as some servers send it).
func statusLine(line []byte) (version string, status int, ok bool) {
	if !hasPrefixFold(line, "HTTP/") {
		return "", 0, false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return "", 0, false
	}
	version = versionString(line[len("HTTP/"):sp])
	rest := bytes.TrimLeft(line[sp+1:], " ")
	if len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return "", 0, false
	}
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
		status = status*10 + int(c-'0')
	}
	return version, status, status >= 100
}

// requestLine parses "method SP target SP HTTP/x.y" into r, leniently as a
// server would (a missing target or version is an anomaly, not an end).
func (r *Record) requestLine(text *strs, line []byte) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		if isToken(line) {
			text.add(&r.Method, line)
		}
		r.anomaly(AnomalyBadRequestLine)
		return
	}
	if !isToken(line[:sp]) {
		// Kept for the analyst (as a server's log would), marked.
		r.anomaly(AnomalyBadRequestLine)
		r.Method = strings.ToValidUTF8(string(line[:min(sp, 32)]), "\uFFFD")
	} else {
		text.add(&r.Method, line[:sp])
	}
	rest := bytes.Trim(line[sp+1:], " ")
	if i := bytes.LastIndexByte(rest, ' '); i >= 0 && hasPrefixFold(rest[i+1:], "HTTP/") {
		r.Version = versionString(rest[i+1+len("HTTP/"):])
		rest = bytes.TrimRight(rest[:i], " ")
	} else {
		r.anomaly(AnomalyBadRequestLine)
	}
	text.add(&r.Target, rest)
}

// strs turns values of one header block into strings with a single
// allocation: add notes where each value goes, done copies them all into
// one string and points each destination at its part. done must run
// before the block's bytes change (within the Payload call).
type strs struct {
	n, size int
	src     [8][]byte
	dst     [8]*string
}

// add sets *dst to b's text at done (a full table is emptied first).
func (t *strs) add(dst *string, b []byte) {
	if t.n == len(t.src) {
		t.done() // what was added first is set first
	}
	t.src[t.n], t.dst[t.n] = b, dst
	t.n++
	t.size += len(b)
}

// done sets the destinations, in the order they were added (a later
// value for the same destination wins, as an assignment would).
func (t *strs) done() {
	if t.size == 0 {
		for _, d := range t.dst[:t.n] {
			*d = ""
		}
		t.n = 0
		return
	}
	var sb strings.Builder
	sb.Grow(t.size)
	for _, b := range t.src[:t.n] {
		sb.Write(b)
	}
	all, off := sb.String(), 0
	for i, b := range t.src[:t.n] {
		*t.dst[i] = all[off : off+len(b)]
		off += len(b)
		t.src[i] = nil
	}
	t.n, t.size = 0, 0
}

// versionString returns the HTTP version after "HTTP/", without
// allocating for the usual ones.
func versionString(v []byte) string {
	switch string(v) {
	case "1.1":
		return "1.1"
	case "1.0":
		return "1.0"
	}
	return string(v)
}

// finishURL splits the target (and Host) into the url.* fields.
func (r *Record) finishURL() {
	t := r.Target
	switch {
	case r.Method == "CONNECT":
		r.Domain, r.Port = splitHostPort(t)
	case strings.HasPrefix(t, "/") || t == "*":
		r.setPath(t)
	default:
		// absolute-form (a request to a proxy): scheme://authority/path
		if i := strings.Index(t, "://"); i > 0 {
			r.Scheme = strings.ToLower(t[:i])
			rest := t[i+3:]
			auth, path := rest, "/"
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				auth, path = rest[:j], rest[j:]
			}
			if k := strings.LastIndexByte(auth, '@'); k >= 0 {
				auth = auth[k+1:] // userinfo is never recorded
			}
			r.Domain, r.Port = splitHostPort(auth)
			r.setPath(path)
		}
	}
	if r.Host != "" {
		r.Domain, r.Port = splitHostPort(r.Host)
	}
}

func (r *Record) setPath(p string) {
	if i := strings.IndexByte(p, '#'); i >= 0 {
		p = p[:i]
	}
	path, query, _ := strings.Cut(p, "?")
	r.Path, r.Query = path, query
}

// splitHostPort splits "host[:port]" and "[v6]:port"; a port that is not
// a number is kept in the host.
func splitHostPort(hp string) (string, int) {
	if strings.HasPrefix(hp, "[") {
		if i := strings.IndexByte(hp, ']'); i > 0 {
			host, rest := hp[1:i], hp[i+1:]
			if p, err := strconv.Atoi(strings.TrimPrefix(rest, ":")); err == nil && strings.HasPrefix(rest, ":") && p >= 0 && p < 65536 {
				return host, p
			}
			return host, 0
		}
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && strings.IndexByte(hp[:i], ':') < 0 {
		if p, err := strconv.Atoi(hp[i+1:]); err == nil && p >= 0 && p < 65536 {
			return hp[:i], p
		}
	}
	return hp, 0
}
