package http

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/internal/ntlm"
	"mamori/pipeline/proto/prototest"
)

func mustNew(tb testing.TB, c Config) *Parser {
	tb.Helper()
	p, err := New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func info() *flow.Info { return prototest.TCPInfo("10.0.0.1:50000", "10.0.0.80:80") }

func want[T comparable](t *testing.T, got, w T) {
	t.Helper()
	if got != w {
		t.Errorf("got %v, want %v", got, w)
	}
}

func C(s string) prototest.Chunk { return prototest.C(flow.FromClient, []byte(s)) }
func S(s string) prototest.Chunk { return prototest.C(flow.FromServer, []byte(s)) }

// split returns only the mamori.http records, and the NTLM ones apart.
func split(tb testing.TB, rs []event.Record) (hs []*Record, ns []*ntlm.Record) {
	tb.Helper()
	for _, r := range rs {
		if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
			tb.Fatalf("invalid JSON %s", b)
		}
		switch x := r.(type) {
		case *Record:
			checkLegacy(tb, x)
			hs = append(hs, x)
		case *ntlm.Record:
			ns = append(ns, x)
		}
	}
	return hs, ns
}

// utf16le encodes s as NTLM's Unicode strings are.
func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// ntlmChallenge builds a CHALLENGE message (MS-NLMP §2.2.1.2) with a target
// name and NetBIOS / DNS computer names in its target info.
func ntlmChallenge(target, nb, dns string) []byte {
	b := make([]byte, 56)
	copy(b, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(b[8:], 2)
	flags := uint32(ntlm.FlagUnicode | ntlm.FlagTargetInfo | 0x200)
	binary.LittleEndian.PutUint32(b[20:], flags)
	tn := utf16le(target)
	var ti []byte
	for _, av := range []struct {
		id uint16
		v  string
	}{{1, nb}, {3, dns}} {
		ti = binary.LittleEndian.AppendUint16(ti, av.id)
		ti = binary.LittleEndian.AppendUint16(ti, uint16(len(utf16le(av.v))))
		ti = append(ti, utf16le(av.v)...)
	}
	ti = append(ti, 0, 0, 0, 0) // MsvAvEOL
	field := func(at int, v []byte) {
		binary.LittleEndian.PutUint16(b[at:], uint16(len(v)))
		binary.LittleEndian.PutUint16(b[at+2:], uint16(len(v)))
		binary.LittleEndian.PutUint32(b[at+4:], uint32(len(b)))
		b = append(b, v...)
	}
	field(12, tn)
	field(40, ti)
	return b
}

// ntlmAuthenticate builds an AUTHENTICATE message (MS-NLMP §2.2.1.3) with an
// NTLMv2-sized NT response.
func ntlmAuthenticate(domain, user, ws string) []byte {
	b := make([]byte, 88)
	copy(b, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(b[8:], 3)
	binary.LittleEndian.PutUint32(b[60:], ntlm.FlagUnicode|0x200)
	field := func(at int, v []byte) {
		binary.LittleEndian.PutUint16(b[at:], uint16(len(v)))
		binary.LittleEndian.PutUint16(b[at+2:], uint16(len(v)))
		binary.LittleEndian.PutUint32(b[at+4:], uint32(len(b)))
		b = append(b, v...)
	}
	field(12, make([]byte, 24))
	nt := make([]byte, 48)
	nt[16], nt[17] = 1, 1 // NTLMv2 client challenge header
	field(20, nt)
	field(28, utf16le(domain))
	field(36, utf16le(user))
	field(44, utf16le(ws))
	field(52, nil)
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestExchanges(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		chunks []prototest.Chunk
		check  func(t *testing.T, rs []*Record, ns []*ntlm.Record)
	}{
		{
			name: "get with fields",
			chunks: []prototest.Chunk{
				C("GET /a/b.php?x=1&y=2#frag HTTP/1.1\r\nHost: his.example:8443\r\nUser-Agent: curl/8\r\nReferer: http://r.example/\r\nCookie: secret=1\r\n\r\n"),
				S("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 5\r\nServer: nginx\r\n\r\nnope!"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				r := rs[0]
				want(t, r.Method, "GET")
				want(t, r.Path, "/a/b.php")
				want(t, r.Query, "x=1&y=2")
				want(t, r.Domain+":"+strconv.Itoa(r.Port), "his.example:8443")
				want(t, r.UserAgent, "curl/8")
				want(t, r.Referrer, "http://r.example/")
				want(t, r.Status, 404)
				want(t, r.Outcome, "failure")
				want(t, r.RespBodyBytes, int64(5))
				want(t, r.RespContentType, "text/html")
				want(t, r.Server, "nginx")
				if j := string(r.AppendJSON(nil, &prototest.Observer)); strings.Contains(j, "secret") {
					t.Errorf("cookie recorded: %s", j)
				}
			},
		},
		{
			name: "pipelined keep-alive with chunked and head",
			chunks: []prototest.Chunk{
				C("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd"),
				S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n"),
				S("HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"),
				S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 3)
				want(t, rs[0].Target+" "+strconv.FormatInt(rs[0].RespBodyBytes, 10), "/1 21")
				want(t, rs[1].Target+" "+strconv.Itoa(rs[1].Status), "/2 200") // HEAD: no body despite Content-Length
				want(t, rs[2].Target+" "+strconv.Itoa(rs[2].Status), "/3 201")
				want(t, rs[2].ReqBodyBytes, int64(4))
			},
		},
		{
			name: "unanswered and body until close",
			chunks: []prototest.Chunk{
				C("GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n"),
				S("HTTP/1.0 200 OK\r\n\r\n0123456789"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 2)
				want(t, rs[0].RespBodyBytes, int64(10))
				want(t, rs[1].Reason, "no answer")
				want(t, rs[1].Outcome, "unknown")
			},
		},
		{
			name: "response without request",
			chunks: []prototest.Chunk{
				S("http/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, rs[0].HasRequest, false)
				want(t, rs[0].Status, 302)
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyNoRequest)
			},
		},
		{
			name: "proxy absolute form and connect tunnel",
			chunks: []prototest.Chunk{
				C("GET http://user:pw@svc.example:8080/p?q HTTP/1.1\r\n\r\n"),
				S("HTTP/1.1 204 No Content\r\n\r\n"),
				C("CONNECT pacs.example:443 HTTP/1.1\r\nHost: pacs.example:443\r\n\r\n"),
				S("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01\x00\x05hello"),
				C("\x16\x03\x01 not http any more"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 2)
				want(t, rs[0].Scheme+" "+rs[0].Domain+" "+strconv.Itoa(rs[0].Port)+" "+rs[0].Path+" "+rs[0].Query, "http svc.example 8080 /p q")
				want(t, rs[1].Domain+" "+strconv.Itoa(rs[1].Port), "pacs.example 443")
				want(t, rs[1].Tunnel, true)
			},
		},
		{
			name: "basic auth keeps the user only",
			chunks: []prototest.Chunk{
				C("GET / HTTP/1.1\r\nAuthorization: Basic " + b64([]byte(`CLINIC\nurse1:Pa55word!`)) + "\r\n\r\n"),
				S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, rs[0].User, "nurse1")
				want(t, rs[0].UserDomain, "CLINIC")
				want(t, rs[0].AuthScheme, "basic")
				if j := string(rs[0].AppendJSON(nil, &prototest.Observer)); strings.Contains(j, "Pa55") {
					t.Errorf("password recorded: %s", j)
				}
			},
		},
		{
			name: "digest user",
			chunks: []prototest.Chunk{
				C(`GET / HTTP/1.1` + "\r\n" + `Proxy-Authorization: Digest realm="x, y", username="dr.kato", nonce="n"` + "\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, rs[0].User, "dr.kato")
			},
		},
		{
			name: "ntlm handshake",
			chunks: []prototest.Chunk{
				C("GET /ehr HTTP/1.1\r\nHost: ehr\r\n\r\n"),
				S("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n"),
				C("GET /ehr HTTP/1.1\r\nHost: ehr\r\nAuthorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==\r\n\r\n"),
				S("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM " + b64(ntlmChallenge("HOSP", "EHR01", "ehr01.hosp.local")) + "\r\nContent-Length: 0\r\n\r\n"),
				C("GET /ehr HTTP/1.1\r\nHost: ehr\r\nAuthorization: NTLM " + b64(ntlmAuthenticate("HOSP", "tanaka", "WARD3-PC")) + "\r\n\r\n"),
				S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			},
			check: func(t *testing.T, rs []*Record, ns []*ntlm.Record) {
				want(t, len(rs), 3)
				want(t, rs[0].ChallengeScheme, "negotiate")
				want(t, rs[1].AuthScheme, "ntlm")
				want(t, rs[2].User+"@"+rs[2].UserDomain+" "+rs[2].Workstation, "tanaka@HOSP WARD3-PC")
				want(t, len(ns), 1)
				n := ns[0]
				want(t, n.User+" "+n.Domain+" "+n.Workstation, "tanaka HOSP WARD3-PC")
				want(t, n.ServerNetBIOSName+" "+n.ServerDNSName, "EHR01 ehr01.hosp.local")
				want(t, n.Outcome+" "+n.Status+" "+n.Version, "success 200 v2")
				want(t, n.Transport, "http")
			},
		},
		{
			name: "ntlm logon failure",
			chunks: []prototest.Chunk{
				C("GET / HTTP/1.1\r\nAuthorization: Negotiate " + b64(append([]byte{0xa1, 0x81, 0x80, 0x30}, ntlmAuthenticate("HOSP", "guest", "X")...)) + "\r\n\r\n"),
				S("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, ns []*ntlm.Record) {
				want(t, len(ns), 1)
				want(t, ns[0].Outcome+" "+ns[0].Status, "failure 401")
				want(t, rs[0].AuthScheme, "negotiate")
			},
		},
		{
			name:   "bad credentials",
			chunks: []prototest.Chunk{C("GET / HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n")},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyBadAuth)
			},
		},
		{
			name: "smuggling pattern",
			chunks: []prototest.Chunk{
				C("POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 2)
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyTEAndCL)
				want(t, rs[1].Target, "/x")
			},
		},
		{
			name: "bad content length and bad chunk",
			chunks: []prototest.Chunk{
				C("POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n"),
				S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyBadContentLength+","+AnomalyBadChunk)
			},
		},
		{
			name: "broken request lines",
			chunks: []prototest.Chunk{
				C("OPTIONS HTTP/1.1\r\nHost: g\r\n\r\nOPTIONS\r\nHost: g\r\n\r\n"),
				S("HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 2)
				want(t, rs[0].Method+"|"+rs[0].Target+"|"+strings.Join(rs[0].Anomalies, ","), "OPTIONS|HTTP/1.1|"+AnomalyBadRequestLine)
				want(t, rs[1].Method+"|"+rs[1].Target, "OPTIONS|")
			},
		},
		{
			name: "pending overflow",
			cfg:  Config{MaxPending: 2},
			chunks: []prototest.Chunk{
				C("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 3)
				want(t, rs[0].Target+" "+strings.Join(rs[0].Anomalies, ","), "/1 "+AnomalyPendingOverflow)
			},
		},
		{
			name: "gap inside a body is counted, in headers stops",
			chunks: []prototest.Chunk{
				C("GET /big HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n"),
				S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"),
				{Dir: flow.FromServer, Gap: 90},
				S("HTTP/1.1 200 OK\r\nContent-"),
				{Dir: flow.FromServer, Gap: 10},
				S("ignored"),
			},
			check: func(t *testing.T, rs []*Record, _ []*ntlm.Record) {
				want(t, len(rs), 2)
				want(t, rs[0].RespBodyBytes, int64(100))
				want(t, rs[1].HasResponse, false)
				want(t, strings.Join(rs[1].Anomalies, ","), AnomalyGap)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.cfg)
			got, err := prototest.Feed(p, info(), tc.chunks...)
			if err != nil {
				t.Fatal(err)
			}
			hs, ns := split(t, got)
			tc.check(t, hs, ns)
			prototest.CheckRobust(t, p, info(), false, tc.chunks...)
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		chunks []prototest.Chunk
		reason string
	}{
		{"header too large", Config{MaxHeaderBytes: 256}, []prototest.Chunk{C("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 300))}, reasonHeaderTooLarge},
		{"header too large across chunks", Config{MaxHeaderBytes: 256}, []prototest.Chunk{C("GET / HTTP/1.1\r\n"), C(strings.Repeat("X: a\r\n", 60))}, reasonHeaderTooLarge},
		{"bad status line", Config{}, []prototest.Chunk{C("GET / HTTP/1.1\r\n\r\n"), S("SSH-2.0-OpenSSH\r\n\r\n")}, reasonStatusLine},
		{"short first segment that is not http", Config{}, []prototest.Chunk{C("G"), C("ARBAGE\r\n\r\n")}, reasonNotHTTP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prototest.Feed(mustNew(t, tc.cfg), info(), tc.chunks...)
			if !errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != tc.reason {
				t.Fatalf("error %v, want %q", err, tc.reason)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	p := mustNew(t, Config{})
	odd := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.80:18080")
	cases := []struct {
		name string
		f    *flow.Info
		dir  flow.Dir
		b    string
		want bool
	}{
		{"get", odd, flow.FromClient, "GET / HTTP/1.1\r\n", true},
		{"get partial", odd, flow.FromClient, "GE", true},
		{"get no line end yet", odd, flow.FromClient, "GET /very/long", true},
		{"extension method", odd, flow.FromClient, "CCM_POST /x HTTP/1.1\r\n", true},
		{"extension method no version", odd, flow.FromClient, "CCM_POST /x\r\n", false},
		{"rtsp", odd, flow.FromClient, "OPTIONS rtsp://cam/ RTSP/1.0\r\n", false},
		{"sip", odd, flow.FromClient, "OPTIONS sip:a@b SIP/2.0\r\n", false},
		{"smtp", odd, flow.FromClient, "EHLO mail\r\n", false},
		{"ssh", odd, flow.FromClient, "SSH-2.0-x\r\n", false},
		{"tls", odd, flow.FromClient, "\x16\x03\x01\x00", false},
		{"glued method off port", odd, flow.FromClient, "OPTIONSHTTP/1.1\r\n", false},
		{"glued method on port 80", info(), flow.FromClient, "OPTIONSHTTP/1.1\r\n", true},
		{"status from server", odd, flow.FromServer, "HTTP/1.1 200 OK\r\n", true},
		{"lower-case status", odd, flow.FromServer, "http/1.1 200 OK\r\n", true},
		{"server banner", odd, flow.FromServer, "220 ftp ready\r\n", false},
		{"udp", prototest.UDPInfo("10.0.0.1:1", "10.0.0.2:80"), flow.FromClient, "GET / HTTP/1.1\r\n", false},
	}
	for _, tc := range cases {
		if got := p.Match(tc.f, tc.dir, []byte(tc.b)); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		c   Config
		err string
	}{
		{Config{}, ""},
		{Config{MaxStreamBytes: -1}, ""},
		{Config{MaxHeaderBytes: 10}, "max_header_bytes: must be between 256 and 1048576, got 10"},
		{Config{MaxPending: -3}, "max_pending: must be between 1 and 4096, got -3"},
		{Config{MaxStreamBytes: 100}, "max_stream_bytes: must be -1 (whole connection) or at least 4096, got 100"},
	} {
		err := tc.c.Validate()
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.err)
		}
	}
	want(t, mustNew(t, Config{MaxStreamBytes: -1}).StreamLimit(), 0)
	want(t, mustNew(t, Config{}).StreamLimit(), 8<<20)
}

// TestMemoryBound: an endless header, endless chunk-size lines, a huge
// declared body and thousands of pipelined requests stay within the
// limits.
func TestMemoryBound(t *testing.T) {
	p := mustNew(t, Config{MaxHeaderBytes: 1024, MaxPending: 8})
	check := func(s *Session) {
		t.Helper()
		for i := range s.half {
			if c := cap(s.half[i].buf); c > 4*1024 {
				t.Fatalf("buffer capacity %d", c)
			}
		}
		if len(s.pending) > 8 {
			t.Fatalf("%d pending", len(s.pending))
		}
	}
	s := p.NewSession(info(), func(event.Record) {}).(*Session)
	s.Payload(flow.FromClient, prototest.Epoch, []byte("GET / HTTP/1.1\r\n"))
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = s.Payload(flow.FromClient, prototest.Epoch, []byte("X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"))
		check(s)
	}
	if proto.Reason(err) != reasonHeaderTooLarge {
		t.Fatalf("endless header: %v", err)
	}

	s = p.NewSession(info(), func(event.Record) {}).(*Session)
	s.Payload(flow.FromClient, prototest.Epoch, []byte("GET / HTTP/1.1\r\n\r\n"))
	s.Payload(flow.FromServer, prototest.Epoch, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
	for range 1000 {
		s.Payload(flow.FromServer, prototest.Epoch, []byte("fffffff"))
		check(s)
	}

	n := 0
	s = p.NewSession(info(), func(event.Record) { n++ }).(*Session)
	s.Payload(flow.FromServer, prototest.Epoch, []byte("HTTP/1.1 200 OK\r\nContent-Length: 9000000000000\r\n\r\n"))
	for range 1000 {
		s.Payload(flow.FromServer, prototest.Epoch, make([]byte, 4096))
		check(s)
	}
	for range 5000 {
		s.Payload(flow.FromClient, prototest.Epoch, []byte("GET /x HTTP/1.1\r\n\r\n"))
		check(s)
	}
	s.End(prototest.Epoch, event.EndShutdown)
	want(t, n, 5001)
}

// Real captures: bundled (BSD zeek traces) and shared (no redistribution
// licence: read from ../shared/pcaps when present).
type capture struct {
	rel    string
	shared bool
	// decodeAs tells tshark a capture's non-default HTTP port.
	decodeAs string
	// lowerCaseStatus: the server answers "http/1.1 200": tshark's
	// dissector wants "HTTP/" and does not take it as a response; mamori
	// (like Zeek and browsers) does. Responses are not compared.
	lowerCaseStatus bool
}

var captures = []capture{
	{rel: "http/zeek_http-lower-case-nonstandard-port.pcap", decodeAs: "tcp.port==1234,http", lowerCaseStatus: true},
	{rel: "http/zeek_http-post-large.pcap"},
	{rel: "http/zeek_http_get.pcap"},
	{rel: "http/zeek_http_methods.pcap"},
	{rel: "http/zeek_http_pipelined-requests.pcap"},
	{rel: "http/zeek_http_proxy.pcap"},
	{rel: "beacon/ndpi_trickbot.pcap", decodeAs: "tcp.port==7080,http"},
	{rel: "http/cs_http_espn.pcapng", shared: true},
	{rel: "http/cs_http_post.pcapng", shared: true},
	{rel: "http/ja4_http1.pcapng", shared: true},
	{rel: "http/ppa_http.cap", shared: true},
}

func (c capture) path(tb testing.TB) string {
	if c.shared {
		return filepath.Join(testenv.SharedPcaps(tb), c.rel)
	}
	return testenv.Pcap(tb, c.rel)
}

func stem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func TestGolden(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range captures {
		t.Run(stem(c.rel), func(t *testing.T) {
			rs, cnt := prototest.Replay(t, c.path(t), p)
			if len(rs) == 0 || len(cnt.Malformed) > 0 || cnt.Panics > 0 {
				t.Errorf("%d records, malformed %v, panics %d", len(rs), cnt.Malformed, cnt.Panics)
			}
			prototest.Golden(t, stem(c.rel), rs)
		})
	}
}

func TestRobustReal(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range captures {
		t.Run(stem(c.rel), func(t *testing.T) {
			for _, st := range prototest.Streams(t, c.path(t)) {
				i := slices.IndexFunc(st.Chunks, func(c prototest.Chunk) bool { return len(c.Data) > 0 })
				if i < 0 || !p.Match(st.Info, st.Chunks[i].Dir, st.Chunks[i].Data) {
					continue
				}
				prototest.CheckRobust(t, p, st.Info, false, st.Chunks...)
			}
		})
	}
}

// TestNonStandardPort moves real captures' web servers from 80 to 18080
// (no port hint) and 8080: the same records come out.
func TestNonStandardPort(t *testing.T) {
	p := mustNew(t, Config{})
	for _, tc := range []struct {
		rel string
		to  uint16
	}{{"http/zeek_http_get.pcap", 18080}, {"http/zeek_http_pipelined-requests.pcap", 8080}, {"http/zeek_http_proxy.pcap", 18080}} {
		t.Run(stem(tc.rel), func(t *testing.T) {
			orig := prototest.Records(t, tc.rel, p)
			moved := prototest.Records(t, prototest.RewritePorts(t, testenv.Pcap(t, tc.rel), 80, tc.to), p)
			if len(orig) == 0 || len(orig) != len(moved) {
				t.Fatalf("%d records on 80, %d on %d", len(orig), len(moved), tc.to)
			}
			for i := range orig {
				a, b := *orig[i].(*Record), *moved[i].(*Record)
				if b.Destination.Port() != tc.to {
					t.Errorf("record %d: destination port %d", i, b.Destination.Port())
				}
				a.Conn, b.Conn = event.Conn{}, event.Conn{}
				if ja, jb := a.AppendJSON(nil, &prototest.Observer), b.AppendJSON(nil, &prototest.Observer); string(ja) != string(jb) {
					t.Errorf("record %d differs:\n%s\n%s", i, ja, jb)
				}
			}
		})
	}
}

// conn collects one connection's requests and responses in order, as
// tshark and mamori both describe them.
type conn struct{ reqs, resps []string }

func reqKey(method, host, uri, ua, cl string) string {
	return fmt.Sprintf("%s %s host=%q ua=%q cl=%s", method, uri, host, ua, cl)
}

func respKey(code, ctype, cl string) string {
	return fmt.Sprintf("%s ctype=%q cl=%s", code, ctype, cl)
}

var serverPorts = map[uint16]bool{80: true, 8080: true}

func mamoriConns(rs []event.Record) map[string]*conn {
	out := map[string]*conn{}
	for _, x := range rs {
		r, ok := x.(*Record)
		if !ok {
			continue
		}
		k := r.Source.String() + ">" + r.Destination.String()
		if !r.HasRequest || r.Source.Port() == 8080 || r.Source.Port() == 80 {
			// The capture began with the server's response: the flow's
			// originator is the server.
			if _, isServer := serverPorts[r.Source.Port()]; isServer {
				k = r.Destination.String() + ">" + r.Source.String()
			}
		}
		c := out[k]
		if c == nil {
			c = &conn{}
			out[k] = c
		}
		cl := func(v int64) string {
			if v < 0 {
				return ""
			}
			return strconv.FormatInt(v, 10)
		}
		// tshark does not take a request line whose method is not a token
		// ("CONNECT/ HTTP/1.1", "\xc3\x83 /"); mamori keeps it for the
		// analyst, marked bad_request_line, as a server log would.
		if r.HasRequest && isToken([]byte(r.Method)) {
			c.reqs = append(c.reqs, reqKey(r.Method, r.Host, r.Target, r.UserAgent, cl(r.reqCL)))
		}
		// A response with lost bytes: mamori counts them as body and goes
		// on; tshark's reassembly never completes such a message.
		if r.HasResponse && !r.bodyGap {
			// A declared length must be what the body had.
			if r.respCL >= 0 && r.RespBodyBytes != r.respCL && r.Method != "HEAD" && r.Status != 204 && r.Status != 304 {
				c.resps = append(c.resps, fmt.Sprintf("body %d != Content-Length %d", r.RespBodyBytes, r.respCL))
			}
			c.resps = append(c.resps, respKey(strconv.Itoa(r.Status), r.RespContentType, cl(r.respCL)))
		}
	}
	return out
}

// find returns the first value of key anywhere in v (tshark nests the
// request and status line fields under a key named by the line).
func find(v any, key string) string {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x[key].(string); ok {
			return s
		}
		if a, ok := x[key].([]any); ok && len(a) > 0 {
			s, _ := a[0].(string)
			return s
		}
		for _, e := range x {
			if s := find(e, key); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range x {
			if s := find(e, key); s != "" {
				return s
			}
		}
	}
	return ""
}

func tsharkConns(t *testing.T, path, decodeAs string) map[string]*conn {
	args := []string{"-r", path, "-T", "json", "--no-duplicate-keys", "-J", "ip ipv6 tcp http"}
	if decodeAs != "" {
		args = append([]string{"-d", decodeAs}, args...)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	conns := map[string]*conn{}
	for _, p := range pkts {
		l := p.Source.Layers
		hs := l["http"]
		if hs == nil {
			continue
		}
		ipSrc, ipDst := find(l["ip"], "ip.src"), find(l["ip"], "ip.dst")
		if ipSrc == "" {
			ipSrc, ipDst = find(l["ipv6"], "ipv6.src"), find(l["ipv6"], "ipv6.dst")
		}
		src := endpoint(t, ipSrc, find(l["tcp"], "tcp.srcport"))
		dst := endpoint(t, ipDst, find(l["tcp"], "tcp.dstport"))
		msgs, ok := hs.([]any)
		if !ok {
			msgs = []any{hs}
		}
		for _, m := range msgs {
			method, code := find(m, "http.request.method"), find(m, "http.response.code")
			switch {
			case method != "":
				c := get(conns, src+">"+dst)
				c.reqs = append(c.reqs, reqKey(method, find(m, "http.host"), find(m, "http.request.uri"), find(m, "http.user_agent"), find(m, "http.content_length")))
			case code != "":
				c := get(conns, dst+">"+src)
				c.resps = append(c.resps, respKey(code, find(m, "http.content_type"), find(m, "http.content_length")))
			}
		}
	}
	return conns
}

func get(m map[string]*conn, k string) *conn {
	if m[k] == nil {
		m[k] = &conn{}
	}
	return m[k]
}

func endpoint(tb testing.TB, ip, port string) string {
	a, err := netip.ParseAddr(ip)
	p, err2 := strconv.ParseUint(port, 10, 16)
	if err != nil || err2 != nil {
		tb.Fatalf("tshark endpoint %q %q", ip, port)
	}
	return netip.AddrPortFrom(a, uint16(p)).String()
}

// TestTshark compares every connection's requests (method, URI, Host,
// User-Agent, Content-Length) and responses (status, Content-Type,
// Content-Length) in order with tshark's HTTP dissector, on every real
// capture and on one moved to port 18080.
func TestTshark(t *testing.T) {
	testenv.RequireTool(t, "tshark")
	p := mustNew(t, Config{})
	type tc struct {
		name            string
		path            func(testing.TB) string
		decodeAs        string
		lowerCaseStatus bool
	}
	var cases []tc
	for _, c := range captures {
		cases = append(cases, tc{stem(c.rel), c.path, c.decodeAs, c.lowerCaseStatus})
	}
	moved := prototest.RewritePorts(t, testenv.Pcap(t, "http/zeek_http_pipelined-requests.pcap"), 80, 18080)
	cases = append(cases, tc{"pipelined-18080", func(testing.TB) string { return moved }, "tcp.port==18080,http", false})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := c.path(t)
			got := mamoriConns(prototest.Records(t, path, p))
			exp := tsharkConns(t, path, c.decodeAs)
			if len(exp) == 0 {
				t.Fatal("tshark found no HTTP")
			}
			for k, e := range exp {
				g := got[k]
				if g == nil {
					t.Errorf("%s: tshark sees HTTP, mamori has no record", k)
					continue
				}
				if !slices.Equal(g.reqs, e.reqs) {
					t.Errorf("%s requests:\n mamori %q\n tshark %q", k, g.reqs, e.reqs)
				}
				if !c.lowerCaseStatus && !slices.Equal(g.resps, e.resps) {
					t.Errorf("%s responses:\n mamori %q\n tshark %q", k, g.resps, e.resps)
				}
			}
			for k := range got {
				if exp[k] == nil {
					t.Errorf("%s: mamori has records tshark does not see", k)
				}
			}
		})
	}
}
