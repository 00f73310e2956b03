package rdp

import (
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

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/prototest"
)

// Crafted PDUs, laid out as RFC 1006 (TPKT), X.224 §13 and MS-RDPBCGR
// §2.2.1.1-2 describe them.

func tpkt(x []byte) []byte {
	b := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(x)))
	return append(b, x...)
}

func crPDU(variable []byte) []byte {
	x := []byte{byte(6 + len(variable)), 0xE0, 0, 0, 0, 0, 0}
	return tpkt(append(x, variable...))
}

func ccPDU(variable []byte) []byte {
	x := []byte{byte(6 + len(variable)), 0xD0, 0, 0, 0x12, 0x34, 0}
	return tpkt(append(x, variable...))
}

func drPDU() []byte { return tpkt([]byte{6, 0x80, 0, 0, 0x12, 0x34, 1}) }

func neg(typ, flags byte, v uint32) []byte {
	b := []byte{typ, flags, 8, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], v)
	return b
}

func cookie(s string) []byte { return []byte("Cookie: mstshash=" + s + "\r\n") }

func cat(bs ...[]byte) []byte { return slices.Concat(bs...) }

var tlsHello = []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0}

func mustNew(tb testing.TB, c Config) *Parser {
	tb.Helper()
	p, err := New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func tcpInfo() *flow.Info { return prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:3389") }

func one(tb testing.TB, recs []event.Record) *Record {
	tb.Helper()
	if len(recs) != 1 {
		tb.Fatalf("got %d records, want 1:\n%s", len(recs), prototest.NDJSON(recs))
	}
	return recs[0].(*Record)
}

func TestSession(t *testing.T) {
	C, S := flow.FromClient, flow.FromServer
	cases := []struct {
		name   string
		cfg    Config
		chunks []prototest.Chunk
		err    string // malformed reason
		check  func(t *testing.T, r *Record)
	}{
		{
			name: "nla negotiated then tls",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cat(cookie("alice"), neg(negReq, 0, 3)))),
				prototest.C(S, ccPDU(neg(negRsp, 0x1f, 2))),
				prototest.C(C, tlsHello),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultNegotiated)
				want(t, r.Outcome, "success")
				want(t, r.User, "alice")
				want(t, r.Cookie, "alice")
				want(t, ProtocolName(r.Selected), "hybrid")
				want(t, strings.Join(protocolNames(r.Requested), ","), "ssl,hybrid")
				want(t, r.TLS, true)
				want(t, r.Duration.Milliseconds(), int64(1))
				want(t, strings.Join(r.RelatedUsers, ","), "alice")
			},
		},
		{
			name: "hybrid required",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cat(cookie("bob"), neg(negReq, 0, 1)))),
				prototest.C(S, ccPDU(neg(negFailure, 0, 5))),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultRefused)
				want(t, r.Outcome, "failure")
				want(t, r.Reason, "HYBRID_REQUIRED_BY_SERVER")
			},
		},
		{
			name: "routing token and domain user",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cat([]byte("Cookie: msts=3640205228.15629.0000\r\n"), neg(negReq, 0x01, 0x1b)))),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.RoutingToken, "msts=3640205228.15629.0000")
				// 3640205228 = 0xD8F91FAC, bytes little-endian; 15629 = 0x3D0D, swapped.
				want(t, r.RoutingAddr.String(), "172.31.249.216:3389")
				want(t, r.Result, ResultNoAnswer)
				want(t, r.Reason, "no answer")
				want(t, r.Outcome, "unknown")
				want(t, strings.Join(protocolNames(r.Requested), ","), "ssl,hybrid,hybrid_ex,rdsaad")
				want(t, r.ReqFlags&1, uint8(1)) // restricted admin
			},
		},
		{
			name:   "domain cookie",
			chunks: []prototest.Chunk{prototest.C(C, crPDU(cookie(`CLINIC\nurse1`)))},
			check: func(t *testing.T, r *Record) {
				want(t, r.User, "nurse1")
				want(t, r.Domain, "CLINIC")
				want(t, r.Cookie, `CLINIC\nurse1`)
				want(t, r.HasRequest, false)
			},
		},
		{
			name: "disconnect",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cat(cookie("x"), neg(negReq, 0, 3)))),
				prototest.C(S, drPDU()),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultRefused)
				want(t, r.Reason, "disconnect")
			},
		},
		{
			name: "old server without negotiation",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cookie("x"))),
				prototest.C(S, ccPDU(nil)),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultNegotiated)
				want(t, r.HasSelected, false)
				if !strings.Contains(string(r.AppendJSON(nil, &prototest.Observer)), `"security_protocol":"rdp"`) {
					t.Error("security_protocol rdp missing")
				}
			},
		},
		{
			name:   "unterminated cookie",
			chunks: []prototest.Chunk{prototest.C(C, crPDU([]byte("Cookie: mstshash=eve")))},
			check: func(t *testing.T, r *Record) {
				want(t, r.User, "eve")
				want(t, strings.Join(r.Anomalies, ","), AnomalyCookieUnterminated)
			},
		},
		{
			name: "bad negotiation length",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cookie("x"))),
				prototest.C(S, ccPDU([]byte{2, 0, 9, 0, 2, 0, 0, 0})),
			},
			check: func(t *testing.T, r *Record) {
				want(t, strings.Join(r.Anomalies, ","), AnomalyBadNegotiation)
				want(t, r.HasSelected, false)
			},
		},
		{
			name: "short first segment that is not a request",
			chunks: []prototest.Chunk{
				prototest.C(C, []byte{3, 0}),
				prototest.C(C, []byte{0, 11, 6, 0xD0, 0, 0, 0, 0, 0}),
			},
			err: "not a connection request",
		},
		{
			name: "server not tpkt",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cookie("x"))),
				prototest.C(S, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")),
			},
			err: "server not tpkt",
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultNoAnswer)
				want(t, strings.Join(r.Anomalies, ","), AnomalyNotTPKT)
			},
		},
		{
			name: "gap before confirm",
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cookie("x"))),
				{Dir: S, Gap: 19},
				prototest.C(S, ccPDU(neg(negRsp, 0, 1))),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultNoAnswer)
				want(t, strings.Join(r.Anomalies, ","), AnomalyGap)
			},
		},
		{
			name: "oversized pdu skipped",
			cfg:  Config{MaxPDU: 512},
			chunks: []prototest.Chunk{
				prototest.C(C, crPDU(cookie("x"))),
				prototest.C(S, ccPDU(neg(negRsp, 0, 0))),
				prototest.C(C, tpkt(make([]byte, 3000))),
				prototest.C(S, tpkt(make([]byte, 3000))),
			},
			check: func(t *testing.T, r *Record) {
				want(t, r.Result, ResultNegotiated)
				want(t, strings.Join(r.Anomalies, ","), AnomalyPDUTooLarge)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.cfg)
			recs, err := prototest.Feed(p, tcpInfo(), tc.chunks...)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (!errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != tc.err):
				t.Fatalf("error %v, want malformed %q", err, tc.err)
			}
			if tc.check == nil {
				if len(recs) != 0 {
					t.Fatalf("records: %s", prototest.NDJSON(recs))
				}
				return
			}
			tc.check(t, one(t, recs))
			if !json.Valid(prototest.NDJSON(recs)) {
				t.Errorf("invalid JSON: %s", prototest.NDJSON(recs))
			}
			prototest.CheckRobust(t, p, tcpInfo(), false, tc.chunks...)
		})
	}
}

func TestFailureNames(t *testing.T) {
	// MS-RDPBCGR §2.2.1.2.2 failureCode values.
	for code, name := range map[uint32]string{
		1: "SSL_REQUIRED_BY_SERVER", 2: "SSL_NOT_ALLOWED_BY_SERVER", 3: "SSL_CERT_NOT_ON_SERVER",
		4: "INCONSISTENT_FLAGS", 5: "HYBRID_REQUIRED_BY_SERVER", 6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
		9: "UNKNOWN_9",
	} {
		p := mustNew(t, Config{})
		recs, _ := prototest.Feed(p, tcpInfo(), prototest.C(flow.FromClient, crPDU(neg(negReq, 0, 3))),
			prototest.C(flow.FromServer, ccPDU(neg(negFailure, 0, code))))
		r := one(t, recs)
		want(t, r.Reason, name)
	}
}

func TestMatch(t *testing.T) {
	p := mustNew(t, Config{})
	udp := prototest.UDPInfo("10.0.0.1:50000", "10.0.0.2:3389")
	syn := udpSyn(0x0001, 1232)
	cases := []struct {
		name string
		f    *flow.Info
		dir  flow.Dir
		b    []byte
		want bool
	}{
		{"cookie", tcpInfo(), flow.FromClient, crPDU(cookie("a")), true},
		{"neg only", tcpInfo(), flow.FromClient, crPDU(neg(negReq, 0, 3)), true},
		{"empty cr", tcpInfo(), flow.FromClient, crPDU(nil), true},
		{"broker token", tcpInfo(), flow.FromClient, crPDU([]byte("tsv://MS Terminal Services Plugin.1.Sessions\r\n")), true},
		{"partial cookie", tcpInfo(), flow.FromClient, crPDU(cookie("a"))[:14], true},
		{"from server", tcpInfo(), flow.FromServer, crPDU(cookie("a")), false},
		// S7comm's COTP CR carries ISO-TSAP parameters (ITU-T X.224 §13.3.4).
		{"s7 cotp", tcpInfo(), flow.FromClient, crPDU([]byte{0xc1, 2, 1, 0, 0xc2, 2, 1, 2, 0xc0, 1, 0x0a}), false},
		{"bad li", tcpInfo(), flow.FromClient, []byte{3, 0, 0, 11, 9, 0xE0, 0, 0, 0, 0, 0}, false},
		{"data tpdu", tcpInfo(), flow.FromClient, tpkt([]byte{2, 0xF0, 0x80, 1, 2, 3, 4}), false},
		{"http", tcpInfo(), flow.FromClient, []byte("GET / HTTP/1.1\r\n\r\n"), false},
		{"short prefix", tcpInfo(), flow.FromClient, []byte{3, 0, 0}, true},
		{"short wrong", tcpInfo(), flow.FromClient, []byte{3, 1}, false},
		{"short prefix bad length", tcpInfo(), flow.FromClient, []byte{3, 0, 0x10, 0}, false},
		{"udp syn", udp, flow.FromClient, syn, true},
		{"udp syn+ack", udp, flow.FromClient, udpSyn(0x0005, 1232), false},
		{"udp bad mtu", udp, flow.FromClient, udpSyn(0x0001, 1500), false},
		{"udp dns", udp, flow.FromClient, []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}, false},
	}
	for _, tc := range cases {
		if got := p.Match(tc.f, tc.dir, tc.b); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// udpSyn builds an MS-RDPEUDP SYN (§2.2.2.1, §2.2.2.5) with flags and MTU,
// with a SYNEX payload of version 2, padded to 1232 bytes.
func udpSyn(flags uint16, mtu uint16) []byte {
	b := make([]byte, 1232)
	binary.BigEndian.PutUint32(b[0:], 0xFFFFFFFF)
	binary.BigEndian.PutUint16(b[4:], 64)
	binary.BigEndian.PutUint16(b[6:], flags|udpSYNEX)
	binary.BigEndian.PutUint32(b[8:], 0x0b127f15)
	binary.BigEndian.PutUint16(b[12:], mtu)
	binary.BigEndian.PutUint16(b[14:], mtu)
	binary.BigEndian.PutUint16(b[16:], 1)
	binary.BigEndian.PutUint16(b[18:], 2)
	return b
}

func TestUDP(t *testing.T) {
	p := mustNew(t, Config{})
	f := prototest.UDPInfo("10.0.0.1:50000", "10.0.0.2:3389")
	ack := udpSyn(udpSYN|udpACK|udpSYNLOSSY, 1232)
	binary.BigEndian.PutUint32(ack[0:], 0x0b127f15)
	recs, err := prototest.Feed(p, f, prototest.C(flow.FromClient, udpSyn(udpSYN, 1232)), prototest.C(flow.FromServer, ack))
	if err != nil {
		t.Fatal(err)
	}
	r := one(t, recs)
	want(t, r.Result, ResultNegotiated)
	want(t, r.UDPLossy, true)
	want(t, udpVersionName(r.UDPVersion), "2")

	recs, _ = prototest.Feed(p, f, prototest.C(flow.FromClient, udpSyn(udpSYN, 1232)))
	want(t, one(t, recs).Result, ResultNoAnswer)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		c   Config
		err string
	}{
		{Config{}, ""},
		{Config{MaxPDU: 4096}, ""},
		{Config{MaxPDU: 100}, "max_pdu: must be between 512 and 65535, got 100"},
		{Config{MaxPDU: 70000}, "max_pdu: must be between 512 and 65535, got 70000"},
	} {
		err := tc.c.Validate()
		if fmt.Sprint(err) != tc.err && !(err == nil && tc.err == "") {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.err)
		}
		if _, err := New(tc.c); (err == nil) != (tc.err == "") {
			t.Errorf("New(%+v): %v", tc.c, err)
		}
	}
	if DefaultConfig().Validate() != nil {
		t.Error("defaults do not validate")
	}
}

// TestMemoryBound feeds a hostile stream: PDUs declaring 64 KiB, PDUs that
// never finish, and thousands of tiny PDUs. The session's buffers stay
// within MaxPDU and it stops looking after maxPDUs PDUs.
func TestMemoryBound(t *testing.T) {
	p := mustNew(t, Config{MaxPDU: 1024})
	var recs []event.Record
	s := p.NewSession(tcpInfo(), func(r event.Record) { recs = append(recs, r) }).(*Session)
	at := prototest.Epoch
	feed := func(d flow.Dir, b []byte) {
		if err := s.Payload(d, at, b); err != nil {
			t.Fatal(err)
		}
		for i := range s.dir {
			if c := cap(s.dir[i].buf); c > 1024 {
				t.Fatalf("buffer grew to %d", c)
			}
		}
	}
	feed(flow.FromClient, crPDU(cookie("x")))
	feed(flow.FromServer, ccPDU(neg(negRsp, 0, 0)))
	huge := []byte{3, 0, 0xff, 0xff}
	for range 100 {
		feed(flow.FromClient, huge)
		feed(flow.FromClient, make([]byte, 1000))
	}
	almost := []byte{3, 0, 0x03, 0xff}
	feed(flow.FromServer, almost)
	for range 100 {
		feed(flow.FromServer, make([]byte, 7))
	}
	for range 5000 {
		feed(flow.FromServer, tpkt([]byte{2, 0xF0, 0x80}))
	}
	s.End(at, event.EndShutdown)
	r := one(t, recs)
	want(t, strings.Join(r.Anomalies, ","), AnomalyPDUTooLarge)
}

func want[T comparable](t *testing.T, got, w T) {
	t.Helper()
	if got != w {
		t.Errorf("got %v, want %v", got, w)
	}
}

// captures are the real RDP captures: bundled ones with a redistribution
// licence (testdata/pcaps/rdp and the recordings made for mamori).
var captures = []string{
	"rdp/arkime_socks5-rdp.pcap",
	"rdp/ndpi_rdp3.pcap",
	"rdp/ndpi_rdp_over_tls.pcap",
	"rdp/sv_RDP-003.pcap",
	"rdp/zeek_rdp-no-cookie-mstshash.pcap",
	"rdp/zeek_rdp-proprietary-encryption.pcap",
	"rdp/zeek_rdp-to-ssl.pcap",
	"rdp/zeek_rdp-x509.pcap",
	"rdp/zeek_rdpeudp-handshake-success.pcap",
	"recorded/rdp_scan_nmap.pcap",
	"recorded/benign_smb_rdp.pcap",
}

func stem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func TestGolden(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range captures {
		t.Run(stem(c), func(t *testing.T) {
			recs, cnt := prototest.Replay(t, c, p)
			if len(cnt.Malformed) > 0 || cnt.Panics > 0 {
				t.Errorf("malformed %v, panics %d", cnt.Malformed, cnt.Panics)
			}
			// arkime_socks5-rdp tunnels RDP inside SOCKS5: the flow starts
			// with SOCKS, so by design nothing matches it.
			if len(recs) == 0 && !strings.Contains(c, "socks5") {
				t.Errorf("no records")
			}
			prototest.Golden(t, stem(c), recs)
		})
	}
}

// TestRobustReal runs decode-twice, truncation and resegmentation over
// every real flow the parser matches.
func TestRobustReal(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range captures {
		for _, st := range prototest.Streams(t, c) {
			first := firstData(st.Chunks)
			if first == nil || !p.Match(st.Info, first.Dir, first.Data) {
				continue
			}
			prototest.CheckRobust(t, p, st.Info, st.UDP, st.Chunks...)
		}
	}
}

func firstData(cs []prototest.Chunk) *prototest.Chunk {
	for i := range cs {
		if len(cs[i].Data) > 0 {
			return &cs[i]
		}
	}
	return nil
}

// conn is what tshark and mamori both say about one RDP connection.
type conn struct {
	cookie, requested, selected, failure, clientName, build, layout string
}

// summary gives a record's fields in tshark's spelling.
func summary(r *Record) conn {
	var c conn
	if r.Cookie != "" {
		c.cookie = "Cookie: mstshash=" + r.Cookie
	}
	if r.HasRequest {
		c.requested = fmt.Sprintf("0x%08x", r.Requested)
	}
	if r.HasSelected {
		c.selected = fmt.Sprintf("0x%08x", r.Selected)
	}
	if r.HasFailure {
		c.failure = fmt.Sprintf("0x%08x", r.Failure)
	}
	if r.HasClient {
		c.clientName = r.ClientName
		c.build = strconv.FormatUint(uint64(r.ClientBuild), 10)
		c.layout = strconv.FormatUint(uint64(r.KeyboardLayout), 10)
	}
	return c
}

// TestTshark compares every connection's cookie, negotiation and client
// core data with tshark's RDP dissector on the same capture. tshark keys
// are the client's address and port (the server's for its replies).
func TestTshark(t *testing.T) {
	testenv.RequireTool(t, "tshark")
	p := mustNew(t, Config{})
	type tc struct{ name, path, decodeAs string }
	var cases []tc
	for _, c := range captures {
		if strings.Contains(c, "rdpeudp") || strings.Contains(c, "socks5") {
			continue // no TCP RDP for tshark's rdp dissector to key on
		}
		cases = append(cases, tc{stem(c), testenv.Pcap(t, c), ""})
	}
	cases = append(cases, tc{"zeek_rdp-x509-33890", prototest.RewritePorts(t, testenv.Pcap(t, "rdp/zeek_rdp-x509.pcap"), 3389, 33890), "tcp.port==33890,tpkt"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]conn{}
			for _, r := range prototest.Records(t, c.path, p) {
				rec := r.(*Record)
				if rec.Transport == 6 {
					got[rec.Source.String()+">"+rec.Destination.String()] = summary(rec)
				}
			}
			args := []string{"-r", c.path, "-Y", "rdp", "-T", "fields", "-E", "occurrence=f",
				"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
				"-e", "rdp.rt_cookie", "-e", "rdp.negReq.requestedProtocols", "-e", "rdp.negReq.selectedProtocol",
				"-e", "rdp.negFailure.failureCode", "-e", "rdp.client.name", "-e", "rdp.client.build", "-e", "rdp.keyboardLayout"}
			if c.decodeAs != "" {
				args = append([]string{"-d", c.decodeAs}, args...)
			}
			out, err := exec.Command("tshark", args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			exp := map[string]conn{}
			for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				f := strings.Split(line, "\t")
				if len(f) < 13 {
					continue
				}
				src, dst := endpoint(t, f[0]+f[1], f[2]), endpoint(t, f[3]+f[4], f[5])
				client := src + ">" + dst
				if _, ok := got[dst+">"+src]; ok {
					client = dst + ">" + src // a server's reply
				}
				e := exp[client]
				set := func(dst *string, v string) {
					if v != "" && *dst == "" {
						*dst = v
					}
				}
				set(&e.cookie, f[6])
				set(&e.requested, f[7])
				set(&e.selected, f[8])
				set(&e.failure, f[9])
				set(&e.clientName, f[10])
				set(&e.build, f[11])
				set(&e.layout, f[12])
				exp[client] = e
			}
			if len(exp) == 0 {
				t.Fatal("tshark found no RDP")
			}
			for k, e := range exp {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s: tshark sees RDP %+v, mamori has no record", k, e)
					continue
				}
				// tshark stops clientName at its first NUL but keeps
				// trailing spaces; mamori trims them.
				e.clientName = strings.TrimSpace(e.clientName)
				if g != e {
					t.Errorf("%s:\n mamori %+v\n tshark %+v", k, g, e)
				}
			}
			for k := range got {
				if _, ok := exp[k]; !ok {
					t.Errorf("%s: mamori has a record tshark does not see", k)
				}
			}
		})
	}
}

func endpoint(tb testing.TB, ip, port string) string {
	a, err := netip.ParseAddr(ip)
	p, err2 := strconv.ParseUint(port, 10, 16)
	if err != nil || err2 != nil {
		tb.Fatalf("tshark endpoint %q %q", ip, port)
	}
	return netip.AddrPortFrom(a, uint16(p)).String()
}

// TestNonStandardPort moves real captures' RDP servers from 3389 to 33890
// (and the RDP-UDP one to 33890/udp): the same records come out, only the
// port differs.
func TestNonStandardPort(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range []string{"rdp/zeek_rdp-x509.pcap", "rdp/zeek_rdp-to-ssl.pcap", "recorded/rdp_scan_nmap.pcap", "rdp/zeek_rdpeudp-handshake-success.pcap"} {
		t.Run(stem(c), func(t *testing.T) {
			orig := prototest.Records(t, c, p)
			moved := prototest.Records(t, prototest.RewritePorts(t, testenv.Pcap(t, c), 3389, 33890), p)
			if len(orig) == 0 || len(orig) != len(moved) {
				t.Fatalf("%d records on 3389, %d on 33890", len(orig), len(moved))
			}
			for i := range orig {
				a, b := *orig[i].(*Record), *moved[i].(*Record)
				if b.Destination.Port() != 33890 {
					t.Errorf("record %d: destination port %d", i, b.Destination.Port())
				}
				a.Conn, b.Conn = event.Conn{}, event.Conn{}
				ja, jb := a.AppendJSON(nil, &prototest.Observer), b.AppendJSON(nil, &prototest.Observer)
				if string(ja) != string(jb) {
					t.Errorf("record %d differs:\n%s\n%s", i, ja, jb)
				}
			}
		})
	}
}
