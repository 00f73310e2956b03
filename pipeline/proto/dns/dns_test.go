package dns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
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

func udpInfo() *flow.Info { return prototest.UDPInfo("10.0.0.1:40000", "10.0.0.53:53") }
func tcpInfo() *flow.Info { return prototest.TCPInfo("10.0.0.1:40000", "10.0.0.53:53") }

func recs(tb testing.TB, rs []event.Record) []*Record {
	tb.Helper()
	out := make([]*Record, len(rs))
	for i, r := range rs {
		out[i] = r.(*Record)
		if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
			tb.Fatalf("invalid JSON %s", b)
		}
	}
	return out
}

func want[T comparable](t *testing.T, got, w T) {
	t.Helper()
	if got != w {
		t.Errorf("got %v, want %v", got, w)
	}
}

func C(b []byte) prototest.Chunk { return prototest.C(flow.FromClient, b) }
func S(b []byte) prototest.Chunk { return prototest.C(flow.FromServer, b) }

func TestTransactions(t *testing.T) {
	ip1, ip2 := [4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}
	at := func(c prototest.Chunk, d time.Duration) prototest.Chunk { c.At = prototest.Epoch.Add(d); return c }
	cases := []struct {
		name   string
		info   *flow.Info
		cfg    Config
		chunks []prototest.Chunk
		check  func(t *testing.T, rs []*Record)
	}{
		{
			name:   "query and answer",
			chunks: []prototest.Chunk{at(C(query(7, "www.example.co.uk", tA)), 0), at(S(answerA(7, "www.example.co.uk", 0, ip1, ip2)), 3*time.Millisecond)},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 1)
				r := rs[0]
				want(t, r.Name, "www.example.co.uk")
				want(t, r.Outcome, "success")
				want(t, r.Action, "dns_answer")
				want(t, r.Duration, 3*time.Millisecond)
				want(t, len(r.Answers), 2)
				want(t, r.Answers[1].Data, "192.0.2.2")
				want(t, r.Answers[0].Name, "www.example.co.uk")
				reg, sub, tld := splitDomain(r.Name)
				want(t, reg+"|"+sub+"|"+tld, "example.co.uk|www|co.uk")
				j := string(r.AppendJSON(nil, &prototest.Observer))
				for _, s := range []string{`"resolved_ip":["192.0.2.1","192.0.2.2"]`, `"header_flags":["RD","RA"]`, `"id":"7"`, `"type":"answer"`, `"variant":"dns"`} {
					if !strings.Contains(j, s) {
						t.Errorf("missing %s in %s", s, j)
					}
				}
			},
		},
		{
			name:   "nxdomain",
			chunks: []prototest.Chunk{C(query(8, "nope.example", tA)), S(answerA(8, "nope.example", 3))},
			check: func(t *testing.T, rs []*Record) {
				want(t, rs[0].Outcome, "failure")
				want(t, rs[0].Reason, "NXDOMAIN")
			},
		},
		{
			name:   "no answer flushed in End",
			chunks: []prototest.Chunk{C(query(9, "a.example", tAAAA))},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 1)
				want(t, rs[0].Outcome, "unknown")
				want(t, rs[0].Reason, "no answer")
				want(t, rs[0].Action, "dns_query")
			},
		},
		{
			name: "pairs by id and question, out of order",
			chunks: []prototest.Chunk{
				C(query(1, "a.example", tA)), C(query(2, "b.example", tA)), C(query(1, "c.example", tA)),
				S(answerA(2, "b.example", 0, ip2)), S(answerA(1, "c.example", 0, ip1)), S(answerA(1, "a.example", 0, ip1)),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 3)
				var names []string
				for _, r := range rs {
					if !r.HasQuery || !r.HasResponse {
						t.Errorf("%s not paired", r.Name)
					}
					names = append(names, r.Name)
				}
				want(t, strings.Join(names, ","), "b.example,c.example,a.example")
			},
		},
		{
			name:   "retransmission counted",
			chunks: []prototest.Chunk{C(query(5, "r.example", tA)), C(query(5, "r.example", tA)), S(answerA(5, "r.example", 0, ip1))},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 1)
				want(t, rs[0].Retransmits, 1)
			},
		},
		{
			name:   "response without query",
			chunks: []prototest.Chunk{S(answerA(6, "late.example", 0, ip1))},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 1)
				want(t, rs[0].HasQuery, false)
				want(t, rs[0].Name, "late.example")
			},
		},
		{
			name: "timeout on packet time",
			cfg:  Config{QueryTimeout: time.Second},
			chunks: []prototest.Chunk{
				at(C(query(1, "slow.example", tA)), 0),
				at(C(query(2, "next.example", tA)), 2*time.Second),
				at(S(answerA(1, "slow.example", 0, ip1)), 2500*time.Millisecond),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 3)
				want(t, rs[0].Name+" "+rs[0].Outcome, "slow.example unknown")
				want(t, rs[1].Name+" "+strconv.FormatBool(rs[1].HasQuery), "slow.example false")
				want(t, rs[2].Name+" "+rs[2].Reason, "next.example no answer")
			},
		},
		{
			name:   "pending overflow",
			cfg:    Config{MaxPending: 2},
			chunks: []prototest.Chunk{C(query(1, "a.example", tA)), C(query(2, "b.example", tA)), C(query(3, "c.example", tA))},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 3)
				want(t, rs[0].Name, "a.example")
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyPendingOverflow)
			},
		},
		{
			name: "edns extended rcode and DO",
			chunks: []prototest.Chunk{
				C(newMsg(4, fQuery, 1, 0, 0, 1).question("e.example", tA, cIN).name(".").rr(tOPT, 4096, 0x00008000, nil).bytes()),
				// BADVERS = 16: extended rcode 1 in the OPT TTL's top byte, header rcode 0.
				S(newMsg(4, fResponse, 1, 0, 0, 1).question("e.example", tA, cIN).name(".").rr(tOPT, 4096, 0x01008000, nil).bytes()),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, rs[0].Reason, "BADVERS")
				want(t, rs[0].DO, true)
				want(t, strings.Join(headerFlags(nil, rs[0].RespFlags, rs[0].DO), ","), "RD,RA,DO")
			},
		},
		{
			name: "record types",
			chunks: []prototest.Chunk{S(newMsg(3, fResponse, 1, 8, 0, 0).question("x.example", 255, cIN).
				ptr(12).rr(tCNAME, cIN, 60, wireName("y.example")).
				ptr(12).rr(tMX, cIN, 60, append([]byte{0, 10}, wireName("mail.example")...)).
				ptr(12).rr(tSRV, cIN, 60, append([]byte{0, 1, 0, 5, 0x13, 0xc4}, wireName("sip.example")...)).
				ptr(12).rr(tTXT, cIN, 60, []byte("\x05v=spf\x03 ok\x02\x00\\")).
				ptr(12).rr(tAAAA, cIN, 60, []byte{0x20, 1, 0xd, 0xb8, 15: 1}).
				ptr(12).rr(tSOA, cIN, 60, slices.Concat(wireName("ns.example"), wireName("host.example"), []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5})).
				ptr(12).rr(tPTR, cIN, 60, wireName("p.example")).
				ptr(12).rr(tA, cIN, 60, []byte{1, 2, 3}).bytes())},
			check: func(t *testing.T, rs []*Record) {
				var got []string
				for _, a := range rs[0].Answers {
					got = append(got, TypeName(a.Type)+"="+a.Data)
				}
				want(t, strings.Join(got, "|"), `CNAME=y.example|MX=10 mail.example|SRV=1 5 5060 sip.example|TXT=v=spf ok\000\092|AAAA=2001:db8::1|SOA=ns.example host.example 1 2 3 4 5|PTR=p.example|A=`)
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyBadRData)
				want(t, TypeName(rs[0].QType), "ANY")
			},
		},
		{
			name: "compression loop",
			// The answer's owner is a pointer to itself (offset 29).
			chunks: []prototest.Chunk{S(newMsg(1, fResponse, 1, 1, 0, 0).question("a.b", tA, cIN).ptr(29).rr(tA, cIN, 1, []byte{1, 2, 3, 4}).bytes())},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 1)
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyBadName)
				want(t, rs[0].Name, "a.b")
			},
		},
		{
			name:   "forward pointer",
			chunks: []prototest.Chunk{S(newMsg(1, fResponse, 1, 1, 0, 0).question("a.b", tA, cIN).ptr(40).rr(tA, cIN, 1, []byte{1, 2, 3, 4}).bytes())},
			check: func(t *testing.T, rs []*Record) {
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyBadName)
			},
		},
		{
			name: "pointer chain backwards is fine",
			// label "c" then pointer to the question name: c.a.b
			chunks: []prototest.Chunk{S(newMsg(1, fResponse, 1, 1, 0, 0).question("a.b", tA, cIN).raw(1, 'c').ptr(12).rr(tA, cIN, 1, []byte{1, 2, 3, 4}).bytes())},
			check: func(t *testing.T, rs []*Record) {
				want(t, rs[0].Answers[0].Name, "c.a.b")
				want(t, len(rs[0].Anomalies), 0)
			},
		},
		{
			name:   "escaped label bytes and root",
			chunks: []prototest.Chunk{C(newMsg(1, fQuery, 2, 0, 0, 0).raw(3, 'a', '.', 0xe4, 1, 'b', 0).u16(tA).u16(cIN).question(".", tNS, cIN).bytes())},
			check: func(t *testing.T, rs []*Record) {
				want(t, rs[0].Name, `a\.\228.b`)
				want(t, rs[0].QuestionCount, 2)
				want(t, strings.Join(rs[0].OtherQuestions, ","), ".")
			},
		},
		{
			name: "name too long",
			chunks: []prototest.Chunk{
				C(query(1, "a.example", tA)),
				C(newMsg(2, fQuery, 1, 0, 0, 0).name(strings.Repeat("abcdefghi.", 26) + "x").u16(tA).u16(cIN).bytes()),
				C(query(3, "c.example", tA)),
			},
			check: func(t *testing.T, rs []*Record) {
				// The undecodable question makes no record of its own: its
				// anomaly goes with the next one.
				want(t, len(rs), 2)
				want(t, len(rs[0].Anomalies), 0)
				want(t, rs[1].Name+" "+strings.Join(rs[1].Anomalies, ","), "c.example "+AnomalyBadName)
			},
		},
		{
			name: "truncated answer section",
			chunks: []prototest.Chunk{
				C(query(2, "t.example", tA)),
				S(answerA(2, "t.example", 0, [4]byte{1, 1, 1, 1}, [4]byte{2, 2, 2, 2})[:45]),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs[0].Answers), 1)
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyTruncated)
			},
		},
		{
			name:   "trailing bytes",
			chunks: []prototest.Chunk{C(append(query(2, "t.example", tA), 0, 0))},
			check: func(t *testing.T, rs []*Record) {
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyTrailing)
			},
		},
		{
			name: "mdns bits and variant",
			info: prototest.UDPInfo("10.0.0.7:5353", "224.0.0.251:5353"),
			chunks: []prototest.Chunk{
				C(newMsg(0, 0, 1, 0, 0, 0).question("_ipp._tcp.local", tPTR, 0x8001).bytes()),
				C(newMsg(0, 0x8400, 0, 1, 0, 0).name("printer.local").rr(tA, 0x8001, 120, []byte{10, 0, 0, 9}).bytes()),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 2)
				// The answer comes out at once (mDNS answers are not
				// paired on id 0), the query unanswered in End.
				ans, q := rs[0], rs[1]
				want(t, q.Variant, VariantMDNS)
				want(t, q.UnicastResp, true)
				want(t, ClassName(q.QClass), "IN")
				want(t, ClassName(ans.Answers[0].Class), "IN")
				want(t, ans.HasQuery, false)
				reg, _, _ := splitDomain(q.Name)
				want(t, reg, "") // .local is not a public suffix
			},
		},
		{
			name:   "llmnr variant",
			info:   prototest.UDPInfo("10.0.0.7:50000", "224.0.0.252:5355"),
			chunks: []prototest.Chunk{C(query(77, "wpad", tA))},
			check: func(t *testing.T, rs []*Record) {
				want(t, rs[0].Variant, VariantLLMNR)
			},
		},
		{
			name: "tcp framing",
			info: tcpInfo(),
			chunks: []prototest.Chunk{
				C(tcpFrame(query(1, "a.example", tA), query(2, "b.example", tA))),
				S(tcpFrame(answerA(2, "b.example", 0, ip1))[:10]),
				S(tcpFrame(answerA(2, "b.example", 0, ip1))[10:]),
				S(tcpFrame(answerA(1, "a.example", 0, ip2))),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 2)
				want(t, rs[0].Name+" "+rs[0].Answers[0].Data, "b.example 192.0.2.1")
				want(t, rs[1].Name+" "+rs[1].Answers[0].Data, "a.example 192.0.2.2")
			},
		},
		{
			name: "tcp message too large skipped",
			info: tcpInfo(),
			cfg:  Config{MaxMessage: 512},
			chunks: []prototest.Chunk{
				C(tcpFrame(append(query(1, "big.example", tA), make([]byte, 600)...))),
				C(tcpFrame(query(2, "small.example", tA))),
			},
			check: func(t *testing.T, rs []*Record) {
				want(t, len(rs), 1)
				want(t, rs[0].Name, "small.example")
				want(t, strings.Join(rs[0].Anomalies, ","), AnomalyMessageTooLarge)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info := tc.info
			if info == nil {
				info = udpInfo()
			}
			p := mustNew(t, tc.cfg)
			got, err := prototest.Feed(p, info, tc.chunks...)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, recs(t, got))
			for _, r := range recs(t, got) {
				checkLegacy(t, r)
			}
			prototest.CheckRobust(t, p, info, proto.IsUDP(info), tc.chunks...)
		})
	}
}

func TestTCPMalformed(t *testing.T) {
	p := mustNew(t, Config{})
	_, err := prototest.Feed(p, tcpInfo(), C(tcpFrame(query(1, "a.example", tA))), C([]byte{0, 5, 1, 2, 3, 4, 5}))
	if !errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != reasonTCPLength {
		t.Fatalf("error %v", err)
	}
	// The query before the bad frame is still written (End after detach).
	got, _ := prototest.Feed(p, tcpInfo(), C(tcpFrame(query(1, "a.example", tA))), C([]byte{0, 5, 1, 2, 3, 4, 5}))
	want(t, len(got), 1)
}

func TestGapTCP(t *testing.T) {
	p := mustNew(t, Config{})
	got, err := prototest.Feed(p, tcpInfo(),
		C(tcpFrame(query(1, "a.example", tA))),
		prototest.Chunk{Dir: flow.FromServer, Gap: 30},
		S(tcpFrame(answerA(1, "a.example", 0, [4]byte{1, 2, 3, 4}))))
	if err != nil {
		t.Fatal(err)
	}
	rs := recs(t, got)
	want(t, len(rs), 1)
	want(t, rs[0].HasResponse, false)
}

func TestMatch(t *testing.T) {
	p := mustNew(t, Config{})
	odd := prototest.UDPInfo("10.0.0.1:40000", "10.0.0.9:5300")
	oddTCP := prototest.TCPInfo("10.0.0.1:40000", "10.0.0.9:5300")
	q := query(0x1234, "www.example.com", tA)
	cases := []struct {
		name string
		f    *flow.Info
		b    []byte
		want bool
	}{
		{"udp 53 query", udpInfo(), q, true},
		{"udp odd port query", odd, q, true},
		{"udp odd port answer", odd, answerA(1, "a.example", 0, [4]byte{1, 2, 3, 4}), true},
		{"udp odd port trailing junk", odd, append(q, 1, 2, 3), false},
		{"udp odd port z bit", odd, newMsg(1, fQuery|flagZ, 1, 0, 0, 0).question("a.example", tA, cIN).bytes(), false},
		{"udp odd port query with answers", odd, newMsg(1, fQuery, 1, 1, 0, 0).question("a", tA, cIN).ptr(12).rr(tA, cIN, 1, []byte{1, 2, 3, 4}).bytes(), false},
		{"udp 53 short", udpInfo(), q[:8], false},
		{"udp 53 bad opcode", udpInfo(), newMsg(1, 0x7800, 1, 0, 0, 0).question("a", tA, cIN).bytes(), false},
		{"udp ntp", odd, append([]byte{0x23, 0x02, 0x06, 0xe8}, make([]byte, 44)...), false},
		{"udp rdp-udp syn", odd, append([]byte{0xff, 0xff, 0xff, 0xff, 0, 64, 0, 1}, make([]byte, 40)...), false},
		{"tcp 53 whole", tcpInfo(), tcpFrame(q), true},
		{"tcp 53 prefix", tcpInfo(), tcpFrame(q)[:1], true},
		{"tcp 53 partial header", tcpInfo(), tcpFrame(q)[:9], true},
		{"tcp odd port whole", oddTCP, tcpFrame(q), true},
		{"tcp odd port partial", oddTCP, tcpFrame(q)[:9], false},
		{"tcp http", oddTCP, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"tcp 53 tiny length", tcpInfo(), []byte{0, 3, 1, 2, 3}, false},
	}
	for _, tc := range cases {
		if got := p.Match(tc.f, flow.FromClient, tc.b); got != tc.want {
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
		{Config{MaxPending: -1}, "max_pending: must be between 1 and 65536, got -1"},
		{Config{MaxAnswers: 5000}, "max_answers: must be between 1 and 1024, got 5000"},
		{Config{MaxMessage: 100}, "max_message: must be between 512 and 65535, got 100"},
		{Config{QueryTimeout: time.Millisecond}, "query_timeout: must be at least 100ms, got 1ms"},
		{Config{DomainCache: -1}, "domain_cache: must be between 1 and 1048576, got -1"},
	} {
		err := tc.c.Validate()
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

// TestMemoryBound: thousands of unanswered queries keep at most MaxPending
// waiting; a TCP stream of huge declared messages never buffers more than
// MaxMessage+2 bytes.
func TestMemoryBound(t *testing.T) {
	p := mustNew(t, Config{MaxPending: 16, MaxMessage: 1024})
	n := 0
	s := p.NewSession(udpInfo(), func(event.Record) { n++ }).(*Session)
	for i := range 5000 {
		s.Payload(flow.FromClient, prototest.Epoch, query(uint16(i), fmt.Sprintf("h%d.example", i), tA))
		if len(s.pending) > 16 {
			t.Fatalf("%d pending", len(s.pending))
		}
	}
	s.End(prototest.Epoch, event.EndShutdown)
	want(t, n, 5000)

	ts := p.NewSession(tcpInfo(), func(event.Record) {}).(*Session)
	for range 200 {
		if err := ts.Payload(flow.FromClient, prototest.Epoch, []byte{0xff, 0xff}); err != nil {
			t.Fatal(err)
		}
		ts.Payload(flow.FromClient, prototest.Epoch, make([]byte, 65535))
	}
	part := tcpFrame(append(query(1, "a.example", tA), make([]byte, 900)...))
	ts.Payload(flow.FromServer, prototest.Epoch, part[:len(part)-1])
	for i := range ts.streams {
		if c := cap(ts.streams[i].buf); c > 2*(1024+2) {
			t.Fatalf("buffer capacity %d", c)
		}
	}
}

// Real captures. Bundled ones carry a redistribution licence; the shared
// ones (Chris Sanders' Practical Packet Analysis and cloudshark samples)
// do not and are read from ../shared/pcaps when present.
var bundled = []string{
	"dns/ndpi_dns-tunnel-iodine.pcap",
	"dns/ndpi_dns_exfiltration.pcap",
	"dns/zeek_dns-edns-ecs.pcap",
	"dns/zeek_dns-https.pcap",
	"dns/zeek_dns_mdns.pcap",
	"dns/zeek_dns_tkey.pcap",
	"dns/zeek_dnssec_rrsig.pcap",
	"dns/zeek_ipv6-fragmented-dns.pcap",
}

var shared = []string{"dns/cs_dns_axfr.pcapng", "dns/cs_dns_tcp.pcapng", "dns/ppa_dns.cap"}

func stem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// capture is a real capture, bundled or shared.
type capture struct {
	rel    string
	shared bool
}

func captures() []capture {
	var out []capture
	for _, c := range bundled {
		out = append(out, capture{rel: c})
	}
	for _, c := range shared {
		out = append(out, capture{rel: c, shared: true})
	}
	return out
}

// path resolves c; a shared capture skips the (sub)test when ../shared
// is absent.
func (c capture) path(tb testing.TB) string {
	if c.shared {
		return filepath.Join(testenv.SharedPcaps(tb), c.rel)
	}
	return testenv.Pcap(tb, c.rel)
}

func TestGolden(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range captures() {
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
	for _, c := range captures() {
		t.Run(stem(c.rel), func(t *testing.T) { robust(t, p, c.path(t)) })
	}
}

func robust(t *testing.T, p *Parser, path string) {
	{
		for _, st := range prototest.Streams(t, path) {
			var first *prototest.Chunk
			for i := range st.Chunks {
				if len(st.Chunks[i].Data) > 0 {
					first = &st.Chunks[i]
					break
				}
			}
			if first == nil || !p.Match(st.Info, first.Dir, first.Data) {
				continue
			}
			prototest.CheckRobust(t, p, st.Info, st.UDP, st.Chunks...)
		}
	}
}

// TestNonStandardPort moves real captures' DNS servers from 53 to 5300
// (UDP and TCP): the same records come out.
func TestNonStandardPort(t *testing.T) {
	p := mustNew(t, Config{})
	for _, c := range []string{"dns/zeek_dnssec_rrsig.pcap", "dns/zeek_dns_tkey.pcap", "dns/ndpi_dns_exfiltration.pcap"} {
		t.Run(stem(c), func(t *testing.T) {
			orig := prototest.Records(t, c, p)
			moved := prototest.Records(t, prototest.RewritePorts(t, testenv.Pcap(t, c), 53, 5300), p)
			if len(orig) == 0 || len(orig) != len(moved) {
				t.Fatalf("%d records on 53, %d on 5300", len(orig), len(moved))
			}
			for i := range orig {
				a, b := *orig[i].(*Record), *moved[i].(*Record)
				if b.Destination.Port() != 5300 {
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

// queryKey is a query as both tshark and mamori can describe it: its id,
// its questions' names and, when it asks one question, its type (tshark's
// JSON loses the order of several questions).
func queryKey(id uint16, names []string, typ uint16) string {
	ns := make([]string, len(names))
	for i, n := range names {
		ns[i] = normName(n)
	}
	sort.Strings(ns)
	if len(ns) > 1 {
		typ = 0
	}
	return fmt.Sprintf("Q %d %s %d", id, strings.Join(ns, ","), typ)
}

func respKey(id uint16, rcode uint16, answers []string) string {
	sort.Strings(answers)
	return fmt.Sprintf("R %d rcode=%d [%s]", id, rcode, strings.Join(answers, " "))
}

func answerKey(name string, typ uint16, ttl uint32, data string) string {
	return fmt.Sprintf("%s/%d/%d/%s", normName(name), typ, ttl, normName(data))
}

// normName undoes mamori's RFC 1035 escapes and replaces bytes that are
// not UTF-8 as tshark does, so both spellings compare: tshark shows a
// label's dot unescaped and its invalid UTF-8 as U+FFFD.
func normName(s string) string {
	if s == "<Root>" {
		return "."
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s)+0 && i+3 <= len(s)-1+1 && isDigits(s[i+1:min(i+4, len(s))]) {
			v, _ := strconv.Atoi(s[i+1 : i+4])
			b = append(b, byte(v))
			i += 3
			continue
		}
		if s[i] == '\\' && i+1 < len(s) {
			b = append(b, s[i+1])
			i++
			continue
		}
		b = append(b, s[i])
	}
	out := strings.ToValidUTF8(string(b), "\uFFFD")
	for strings.Contains(out, "\uFFFD\uFFFD") {
		out = strings.ReplaceAll(out, "\uFFFD\uFFFD", "\uFFFD")
	}
	return out
}

func isDigits(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// mamoriKeys lists the messages behind records: a query (and each
// retransmission) and a response.
func mamoriKeys(rs []event.Record) []string {
	var out []string
	for _, x := range rs {
		r := x.(*Record)
		if r.HasQuery && r.QuestionCount > 0 {
			for range r.Retransmits + 1 {
				out = append(out, queryKey(r.ID, append([]string{r.Name}, r.OtherQuestions...), r.QType))
			}
		}
		if r.HasResponse {
			var as []string
			for _, a := range r.Answers {
				as = append(as, answerKey(a.Name, a.Type, a.TTL, tsharkData(a)))
			}
			out = append(out, respKey(r.ID, r.Rcode, as))
		}
	}
	sort.Strings(out)
	return out
}

// tsharkData is the answer data in the form the cross-check compares: the
// types tshark shows as one field (A, AAAA, CNAME, PTR, NS, MX exchange).
func tsharkData(a Answer) string {
	switch a.Type {
	case tA, tAAAA, tCNAME, tPTR, tNS, tSRV:
		return a.Data
	case tMX:
		_, ex, _ := strings.Cut(a.Data, " ")
		return ex
	}
	return ""
}

// tsharkKeys runs tshark's DNS dissector (-T json, the whole tree, so that
// answers are told from authority and additional records) and lists the
// same keys.
//
// It also returns the ids of responses tshark reassembled from IP
// fragments: mamori's decoder does not reassemble IP (pipeline/decode
// passes first fragments only), so it sees such a response cut short
// (anomaly "truncated") or not at all. Those responses are left out of the
// comparison on both sides.
func tsharkKeys(t *testing.T, path, decodeAs string) ([]string, map[uint16]bool) {
	args := []string{"-r", path, "-T", "json", "--no-duplicate-keys", "-J", "ip ipv6 dns mdns llmnr"}
	if decodeAs != "" {
		args = append([]string{"-d", decodeAs}, args...)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	var keys []string
	frag := map[uint16]bool{}
	for _, p := range pkts {
		fragmented := false
		for _, l := range []string{"ip", "ipv6"} {
			for _, m := range each(p.Source.Layers[l]) {
				for k := range m {
					if strings.HasSuffix(k, ".fragments") {
						fragmented = true
					}
				}
			}
		}
		for _, l := range []string{"dns", "mdns", "llmnr"} {
			raw, ok := p.Source.Layers[l]
			if !ok {
				continue
			}
			for _, m := range each(raw) { // several DNS messages in one TCP segment
				if fragmented {
					frag[uint16(num(str(m, "dns.id")))] = true
				}
				keys = append(keys, tsharkMessage(m)...)
			}
		}
	}
	sort.Strings(keys)
	return keys, frag
}

// withoutResponses drops the response keys of ids.
func withoutResponses(keys []string, ids map[uint16]bool) []string {
	return slices.DeleteFunc(keys, func(k string) bool {
		var id uint16
		_, err := fmt.Sscanf(k, "R %d ", &id)
		return err == nil && ids[id]
	})
}

// each returns v as a list: tshark merges repeated keys into arrays.
func each(raw json.RawMessage) []map[string]any {
	var one map[string]any
	if json.Unmarshal(raw, &one) == nil {
		return []map[string]any{one}
	}
	var many []map[string]any
	json.Unmarshal(raw, &many)
	return many
}

func items(v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}
	case []any:
		var out []map[string]any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

func num(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "0x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(s, "0x")], 64)
	return v
}

func tsharkMessage(m map[string]any) []string {
	if _, ok := m["_ws.malformed"]; ok {
		return nil
	}
	flags, _ := m["dns.flags_tree"].(map[string]any)
	id := uint16(num(str(m, "dns.id")))
	if str(flags, "dns.flags.response") == "0" {
		var names []string
		var typ uint16
		for _, qs := range items(m["Queries"]) {
			for _, q := range qs {
				for _, qq := range items(q) {
					names = append(names, str(qq, "dns.qry.name"))
					typ = uint16(num(str(qq, "dns.qry.type")))
				}
			}
		}
		if len(names) == 0 {
			return nil
		}
		return []string{queryKey(id, names, typ)}
	}
	var as []string
	for _, sec := range items(m["Answers"]) {
		for _, a := range sec {
			for _, aa := range items(a) {
				typ := uint16(num(str(aa, "dns.resp.type")))
				name := str(aa, "dns.resp.name")
				var data string
				switch typ {
				case tA:
					data = str(aa, "dns.a")
				case tAAAA:
					data = str(aa, "dns.aaaa")
				case tCNAME:
					data = str(aa, "dns.cname")
				case tPTR:
					data = str(aa, "dns.ptr.domain_name")
				case tNS:
					data = str(aa, "dns.ns")
				case tMX:
					data = str(aa, "dns.mx.mail_exchange")
				case tSRV:
					// tshark 4.0 splits an SRV owner into service, proto
					// and name instead of dns.resp.name.
					name = str(aa, "dns.srv.service") + "." + str(aa, "dns.srv.proto") + "." + str(aa, "dns.srv.name")
					data = str(aa, "dns.srv.priority") + " " + str(aa, "dns.srv.weight") + " " + str(aa, "dns.srv.port") + " " + str(aa, "dns.srv.target")
				}
				as = append(as, answerKey(name, typ, uint32(num(str(aa, "dns.resp.ttl"))), data))
			}
		}
	}
	rcode := uint16(num(str(flags, "dns.flags.rcode")))
	// tshark shows the EDNS extended rcode apart; mamori joins them.
	for _, sec := range items(m["Additional records"]) {
		for _, a := range sec {
			for _, aa := range items(a) {
				if str(aa, "dns.resp.type") == "41" {
					rcode |= uint16(num(str(aa, "dns.resp.ext_rcode"))) << 4
				}
			}
		}
	}
	return []string{respKey(id, rcode, as)}
}

// TestTshark compares every query (id, name, type) and every response
// (id, rcode, answers' name, type, TTL and address/name data) with
// tshark's on each real capture, and on one moved to port 5300.
func TestTshark(t *testing.T) {
	testenv.RequireTool(t, "tshark")
	p := mustNew(t, Config{MaxAnswers: 1024})
	type tc struct {
		name     string
		path     func(testing.TB) string
		decodeAs string
	}
	var cases []tc
	for _, c := range captures() {
		cases = append(cases, tc{stem(c.rel), c.path, ""})
	}
	moved := prototest.RewritePorts(t, testenv.Pcap(t, "dns/zeek_dnssec_rrsig.pcap"), 53, 5300)
	cases = append(cases, tc{"rrsig-5300", func(testing.TB) string { return moved }, "udp.port==5300,dns"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := c.path(t)
			exp, frag := tsharkKeys(t, path, c.decodeAs)
			got := withoutResponses(mamoriKeys(prototest.Records(t, path, p)), frag)
			exp = withoutResponses(exp, frag)
			if len(exp) == 0 {
				t.Fatal("tshark found no DNS")
			}
			if !slices.Equal(got, exp) {
				for _, d := range diff(got, exp) {
					t.Error(d)
				}
			}
		})
	}
}

func diff(got, exp []string) []string {
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, e := range exp {
		count[e]--
	}
	var out []string
	for k, v := range count {
		switch {
		case v > 0:
			out = append(out, fmt.Sprintf("only mamori (%d): %s", v, k))
		case v < 0:
			out = append(out, fmt.Sprintf("only tshark (%d): %s", -v, k))
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], "…")
	}
	return out
}
