package tls

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// captures are the bundled captures with TLS over TCP (testdata/pcaps,
// MANIFEST.md). beacon/slips_test-cc-capture-1.pcap (297 connections) is
// cross-checked but has no golden file: 297 near-identical records would
// be 1.3 MB of golden for nothing TestTshark does not already check.
var captures = []string{
	"tls/ndpi_443-firefox.pcap",
	"tls/ndpi_ja3_lots_of_cipher_suites.pcap",
	"tls/ndpi_tls_esni_sni_both.pcap",
	"tls/zeek_chrome-34-google.pcap",
	"tls/zeek_ssl.v3.pcap",
	"tls/zeek_tls1.2.pcap",
	"tls/zeek_tls13-ech.pcap",
	"tls/zeek_tls_client-certificate.pcap",
	"beacon/ndpi_emotet.pcap",
}

// sharedCaptures are captures without a redistribution licence, read from
// ../shared/pcaps/tls when it is there (FoxIO's JA4 test captures).
var sharedCaptures = []string{"ja4_tls-handshake.pcapng", "ja4_badcurveball.pcap"}

func stem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func records(t testing.TB, path string) []*Record {
	var out []*Record
	for _, r := range prototest.Records(t, path, newParser(t, Config{})) {
		out = append(out, r.(*Record))
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, c := range captures {
		t.Run(stem(c), func(t *testing.T) {
			recs := prototest.Records(t, c, newParser(t, Config{}))
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			for _, r := range recs {
				if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
					t.Fatalf("invalid JSON: %s", b)
				}
			}
			prototest.Golden(t, stem(c), recs)
		})
	}
}

// expect is what tshark says about one TLS connection, keyed by the
// client's address and port.
type expect struct {
	sni, alpn, ja3, ja3Full, ciphers, clientVersion, versions string
	ja3s, ja3sFull, cipher, serverVersion, selected           string
	leaf, serial, notBefore, notAfter                         string
	sans, strs                                                []string
	alerts                                                    []string // "server 2 40"
	sslv2                                                     bool
}

// tsharkFields are extracted in one run per capture.
var tsharkFields = []string{
	"tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tls.handshake.type",
	"tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
	"tls.handshake.ja3", "tls.handshake.ja3_full", "tls.handshake.ja3s", "tls.handshake.ja3s_full",
	"tls.handshake.ciphersuite", "tls.handshake.version", "tls.handshake.extensions.supported_version",
	"tls.handshake.certificate", "x509af.serialNumber", "x509af.utcTime", "x509ce.dNSName",
	"x509sat.printableString", "x509sat.uTF8String", "tls.alert_message.level", "tls.alert_message.desc",
	"tls.handshake.cipherspec", "x509sat.teletexString", "x509sat.universalString", "x509sat.bmpString",
}

// runTshark returns tshark's view of every TLS connection of the capture,
// by client address and port (a list: clients reuse ports), in order.
func runTshark(t *testing.T, path string, decodeAs ...string) map[string][]*expect {
	args := []string{"-r", path, "-Y", "tls.handshake.type || tls.alert_message", "-T", "fields", "-E", "aggregator=|"}
	for _, d := range decodeAs {
		args = append(args, "-d", d)
	}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	byStream := map[string]*expect{}
	clientOf := map[string]string{}
	all := map[string][]*expect{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != len(tsharkFields) || f[0] == "" {
			continue // QUIC (no TCP stream) or nothing
		}
		stream, addr, port := f[0], f[1]+f[2], f[3]
		types := strings.Split(f[4], "|")
		key := addr + ":" + port
		if strings.Contains(addr, ":") {
			key = "[" + addr + "]:" + port
		}
		e := byStream[stream]
		if e == nil {
			if !slices.Contains(types, "1") {
				continue // the capture began after the ClientHello
			}
			e = &expect{}
			byStream[stream] = e
			clientOf[stream] = key
			all[key] = append(all[key], e)
		}
		fromClient := clientOf[stream] == key
		set := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		if fromClient && slices.Contains(types, "1") && e.ja3 == "" && e.ciphers == "" {
			e.sni, e.alpn, e.ja3, e.ja3Full = f[5], f[6], f[7], f[8]
			e.ciphers, e.clientVersion, e.versions = f[11], f[12], f[13]
			if f[22] != "" {
				// An SSLv2 CLIENT-HELLO: its TLS-compatible cipher specs
				// (0x00XXXX) are the cipher suites.
				e.sslv2 = true
				var cs []string
				for _, spec := range strings.Split(f[22], "|") {
					if strings.HasPrefix(spec, "0x00") && len(spec) == 8 {
						cs = append(cs, "0x"+spec[4:])
					}
				}
				e.ciphers = strings.Join(cs, "|")
			}
		}
		if !fromClient && slices.Contains(types, "2") {
			// The last ServerHello wins (after a HelloRetryRequest).
			e.ja3s, e.ja3sFull = f[9], f[10]
			e.cipher, e.serverVersion, e.selected = f[11], f[12], f[13]
		}
		if !fromClient && slices.Contains(types, "11") && f[14] != "" && e.leaf == "" {
			e.leaf = strings.Split(f[14], "|")[0]
			set(&e.serial, strings.Split(f[15], "|")[0])
			if times := strings.Split(f[16], "|"); len(times) >= 2 {
				e.notBefore, e.notAfter = times[0], times[1]
			}
			if f[17] != "" {
				e.sans = strings.Split(f[17], "|")
			}
			for _, i := range []int{18, 19, 23, 24, 25} {
				e.strs = append(e.strs, strings.Split(f[i], "|")...)
			}
		}
		if f[21] != "" {
			who := "server"
			if fromClient {
				who = "client"
			}
			e.alerts = append(e.alerts, who+" "+f[20]+" "+f[21])
		}
	}
	return all
}

func hexList(vs []uint16) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "0x%04x", v)
	}
	return b.String()
}

func noGREASE(list string) string {
	var keep []string
	for _, s := range strings.Split(list, "|") {
		var v uint16
		if _, err := fmt.Sscanf(s, "0x%04x", &v); err == nil && isGREASE(v) {
			continue
		}
		keep = append(keep, s)
	}
	return strings.Join(keep, "|")
}

// compare checks one record against tshark's view of its connection.
func compare(t *testing.T, r *Record, e *expect) {
	t.Helper()
	c := &r.Client
	eq := func(field, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s %s: mamori %q, tshark %q", r.Source, field, got, want)
		}
	}
	eq("sni", c.ServerName, e.sni)
	eq("alpn", strings.Join(c.ALPN, "|"), e.alpn)
	eq("ja3", c.JA3, e.ja3)
	eq("ja3_full", c.JA3String, e.ja3Full)
	eq("ciphers", hexList(c.Ciphers), noGREASE(e.ciphers))
	eq("client version", fmt.Sprintf("0x%04x", c.Version), e.clientVersion)
	if e.sslv2 != c.SSLv2 {
		t.Errorf("%s: SSLv2 hello: mamori %v, tshark %v", r.Source, c.SSLv2, e.sslv2)
	}
	if e.versions != "" {
		eq("supported_versions", hexList(c.Versions), noGREASE(e.versions))
	}
	eq("ja3s", r.Server.JA3S, e.ja3s)
	eq("ja3s_full", r.Server.JA3SString, e.ja3sFull)
	if e.cipher != "" {
		eq("cipher", fmt.Sprintf("0x%04x", r.Cipher), e.cipher)
		eq("server version", fmt.Sprintf("0x%04x", r.Server.Version), e.serverVersion)
		neg := e.serverVersion
		if e.selected != "" {
			neg = e.selected
		}
		eq("negotiated version", fmt.Sprintf("0x%04x", r.Version), neg)
	}
	if e.leaf != "" {
		if len(r.Server.Certs) == 0 {
			t.Errorf("%s: tshark sees a server certificate, mamori none", r.Source)
			return
		}
		leaf := r.Server.Certs[0]
		der, _ := hex.DecodeString(strings.ReplaceAll(e.leaf, ":", ""))
		sum := sha256.Sum256(der)
		eq("leaf sha256", leaf.SHA256, strings.ToUpper(hex.EncodeToString(sum[:])))
		// tshark shows the DER integer, with its sign byte; mamori the
		// number's magnitude.
		eq("serial", leaf.Serial, strings.ToUpper(strings.TrimPrefix(strings.ReplaceAll(e.serial, ":", ""), "00")))
		if e.notBefore != "" {
			eq("not_before", leaf.NotBefore.Format("2006-01-02 15:04:05 (UTC)"), e.notBefore)
			eq("not_after", leaf.NotAfter.Format("2006-01-02 15:04:05 (UTC)"), e.notAfter)
		}
		var dns []string
		for _, n := range leaf.AltNames {
			if !strings.ContainsAny(n, ":@/") && strings.Trim(n, "0123456789.") != "" {
				dns = append(dns, n)
			}
		}
		if len(dns) > len(e.sans) || !slices.Equal(dns, e.sans[:len(dns)]) {
			t.Errorf("%s SANs: mamori %v, tshark %v", r.Source, dns, e.sans)
		}
		// tshark's x509 strings do not say which name they belong to: every
		// common name mamori reports must be among them.
		for _, cn := range append(slices.Clone(leaf.SubjectCN), leaf.IssuerCN...) {
			if !slices.Contains(e.strs, cn) {
				t.Errorf("%s: common name %q not among tshark's strings %v", r.Source, cn, e.strs)
			}
		}
	}
	if r.AlertFrom != "" {
		a := fmt.Sprintf("%s %d %d", r.AlertFrom, r.AlertLevel, r.AlertDesc)
		if !slices.Contains(e.alerts, a) {
			t.Errorf("%s: alert %s, tshark %v", r.Source, a, e.alerts)
		}
	}
}

// compareAll compares each record with the next of tshark's connections
// from the same client address and port.
func compareAll(t *testing.T, recs []*Record, exp map[string][]*expect) {
	t.Helper()
	for _, r := range recs {
		k := r.Source.String()
		if len(exp[k]) == 0 {
			t.Errorf("%s: tshark has no such connection", r.Source)
			continue
		}
		compare(t, r, exp[k][0])
		exp[k] = exp[k][1:]
	}
}

// TestTshark compares every TLS connection of every capture with
// tshark's TLS dissector: SNI, ALPN, JA3 (hash and string), cipher lists,
// offered and negotiated versions, JA3S, chosen cipher, the leaf
// certificate's hash, serial, validity, DNS names and common names, alerts.
func TestTshark(t *testing.T) {
	testenv.RequireTool(t, "tshark")
	paths := map[string]string{}
	for _, c := range append(slices.Clone(captures), "beacon/slips_test-cc-capture-1.pcap") {
		paths[stem(c)] = testenv.Pcap(t, c)
	}
	if dir := sharedDir(t); dir != "" {
		for _, c := range sharedCaptures {
			paths[stem(c)] = filepath.Join(dir, c)
		}
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			recs := records(t, path)
			exp := runTshark(t, path)
			n := 0
			for _, l := range exp {
				n += len(l)
			}
			if n == 0 || len(recs) != n {
				t.Fatalf("%d records, tshark sees %d TLS connections", len(recs), n)
			}
			compareAll(t, recs, exp)
		})
	}
}

// sharedDir is ../shared/pcaps/tls beside the checkout, or "" (logged)
// where it is absent.
func sharedDir(t *testing.T) string {
	dir := filepath.Join(testenv.ModuleRoot(t), "..", "shared", "pcaps", "tls")
	if _, err := os.Stat(dir); err != nil {
		t.Logf("%s absent: FoxIO's captures are not cross-checked", dir)
		return ""
	}
	return dir
}

// TestFoxIOJA4 checks JA4 and JA4_r against FoxIO's own expected output
// for its test captures: FoxIO-LLC/ja4 @ 0e54bc8371,
// python/test/testdata/{tls-handshake.pcapng,badcurveball.pcap}.json (see
// ../shared/pcaps/MANIFEST.md). The captures and the JSON are not
// redistributable with mamori, so the test skips without ../shared/pcaps.
func TestFoxIOJA4(t *testing.T) {
	dir := filepath.Join(testenv.SharedPcaps(t), "tls")
	for _, c := range sharedCaptures {
		t.Run(stem(c), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c+".ja4-expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want []map[string]any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got := map[string]*Record{}
			for _, r := range records(t, filepath.Join(dir, c)) {
				got[r.Source.String()] = r
			}
			n := 0
			for _, w := range want {
				ja4, _ := w["JA4.1"].(string)
				if ja4 == "" || !strings.HasPrefix(ja4, "t") {
					continue // no ClientHello, or QUIC
				}
				key := fmt.Sprintf("%v:%v", w["src"], w["srcport"])
				if strings.Contains(fmt.Sprint(w["src"]), ":") {
					key = fmt.Sprintf("[%v]:%v", w["src"], w["srcport"])
				}
				r := got[key]
				if r == nil {
					t.Errorf("%s (%v): FoxIO has JA4 %s, mamori no record", key, w["domain"], ja4)
					continue
				}
				n++
				if r.Client.JA4 != ja4 {
					t.Errorf("%s (%v): JA4 %s, FoxIO %s", key, w["domain"], r.Client.JA4, ja4)
				}
				if rawWant, _ := w["JA4_r.1"].(string); r.Client.JA4Raw != rawWant {
					t.Errorf("%s: JA4_r\n%s\nFoxIO\n%s", key, r.Client.JA4Raw, rawWant)
				}
				if d, _ := w["domain"].(string); d != "" && d != r.Client.ServerName {
					t.Errorf("%s: SNI %q, FoxIO %q", key, r.Client.ServerName, d)
				}
			}
			if n == 0 {
				t.Fatal("no JA4 compared")
			}
			t.Logf("%d JA4 fingerprints equal FoxIO's", n)
		})
	}
}

// TestNonStandardPort moves real captures' servers off 443: the same TLS
// records come out (only ports and the ids derived from them change), and
// tshark, told to decode the new port as TLS, still agrees.
func TestNonStandardPort(t *testing.T) {
	cases := []struct {
		capture string
		port    uint16
	}{
		{"tls/zeek_tls_client-certificate.pcap", 8443},
		{"tls/zeek_tls13-ech.pcap", 4433},
		{"tls/zeek_ssl.v3.pcap", 10443},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s-%d", stem(tc.capture), tc.port), func(t *testing.T) {
			moved := prototest.RewritePorts(t, testenv.Pcap(t, tc.capture), 443, tc.port)
			orig, got := records(t, testenv.Pcap(t, tc.capture)), records(t, moved)
			if len(orig) == 0 || len(got) != len(orig) {
				t.Fatalf("%d records on 443, %d on %d", len(orig), len(got), tc.port)
			}
			for i := range orig {
				if got[i].Destination.Port() != tc.port {
					t.Errorf("destination port %d", got[i].Destination.Port())
				}
				a, b := *orig[i], *got[i]
				a.Base, b.Base = event.Base{}, event.Base{}
				if x, y := prototest.NDJSON([]event.Record{&a}), prototest.NDJSON([]event.Record{&b}); string(x) != string(y) {
					t.Errorf("record %d differs on port %d:\n%s\n%s", i, tc.port, y, x)
				}
			}
			if _, err := exec.LookPath("tshark"); err == nil {
				compareAll(t, got, runTshark(t, moved, fmt.Sprintf("tcp.port==%d,tls", tc.port)))
			}
		})
	}
}

// TestRobustReal runs decode-twice, truncation and resegmentation over
// every real TLS flow.
func TestRobustReal(t *testing.T) {
	p := newParser(t, Config{})
	n := 0
	for _, c := range captures {
		for _, st := range prototest.Streams(t, c) {
			first := firstData(st.Chunks)
			if first == nil || st.UDP || !p.Match(st.Info, first.Dir, first.Data) {
				continue
			}
			prototest.CheckRobust(t, p, st.Info, false, st.Chunks...)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no TLS streams")
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
