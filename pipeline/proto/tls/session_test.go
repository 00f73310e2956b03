package tls

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/prototest"
)

const (
	cli = flow.FromClient
	srv = flow.FromServer
)

func newParser(t testing.TB, cfg Config) *Parser {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tcpInfo() *flow.Info { return prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:443") }

// feed runs chunks through a default parser and returns its one record.
func feed(t *testing.T, chunks ...prototest.Chunk) (*Record, error) {
	t.Helper()
	recs, err := prototest.Feed(newParser(t, Config{}), tcpInfo(), chunks...)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1 (err %v)", len(recs), err)
	}
	return recs[0].(*Record), err
}

// browserHello is a TLS 1.3 ClientHello with GREASE, as browsers send.
func browserHello(sni string) hello {
	return hello{
		version: 0x0303,
		sid:     make([]byte, 32),
		ciphers: []uint16{0x0a0a, 0x1301, 0x1302, 0xc02f, 0x00ff},
		exts: [][]byte{
			ext(0x1a1a),
			extSNI(sni),
			alpnExt("h2", "http/1.1"),
			extGroups(0x2a2a, 29, 23),
			extPoints(0),
			extSigAlgs(0x0403, 0x0804, 0x0401),
			extVersions(0x3a3a, 0x0304, 0x0303),
			ext(extKeyShare, v16(be16(29), v16(make([]byte, 32)))),
			ext(0xff01, []byte{0}),
		},
	}
}

func TestTLS12FullHandshake(t *testing.T) {
	certs := makeCerts(t)
	ch := hello{
		version: 0x0303,
		ciphers: []uint16{0xc02f, 0xc030, 0x009c},
		exts: [][]byte{
			extSNI("pacs.example.jp"), extGroups(29, 23), extPoints(0, 1),
			extSigAlgs(0x0401, 0x0201), alpnExt("http/1.1"), ext(23),
		},
	}
	sh := serverHelloBody(0x0303, nil, nil, 0xc02f, ext(0xff01, []byte{0}), alpnExt("http/1.1"), ext(23))
	ske := cat([]byte{3}, be16(29), v8(make([]byte, 32)), be16(0x0401), v16(make([]byte, 64)))
	serverFlight := cat(hs(hsServerHello, sh), hs(hsCertificate, certificateBody(certs.leaf, certs.ca)),
		hs(hsServerKeyExchange, ske), hs(hsServerHelloDone, nil))
	chunks := []prototest.Chunk{
		prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, ch.body()))),
		prototest.C(srv, rec(typeHandshake, 0x0303, serverFlight)),
		prototest.C(cli, cat(rec(typeHandshake, 0x0303, hs(16, v16(make([]byte, 65)))),
			rec(typeChangeCipherSpec, 0x0303, []byte{1}), rec(typeHandshake, 0x0303, make([]byte, 40)))),
		prototest.C(srv, cat(rec(typeChangeCipherSpec, 0x0303, []byte{1}), rec(typeHandshake, 0x0303, make([]byte, 40)))),
		prototest.C(cli, rec(typeApplicationData, 0x0303, make([]byte, 100))),
	}
	r, err := feed(t, chunks...)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("outcome", r.Outcome, "success")
	check("established", r.Established, true)
	check("resumed", r.Resumed, false)
	check("version", r.Version, uint16(0x0303))
	check("cipher", cipherName(r.Cipher), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
	check("curve", groupName(r.Curve), "x25519")
	check("next_protocol", r.NextProtocol, "http/1.1")
	check("sni", r.Client.ServerName, "pacs.example.jp")
	check("related hosts", r.RelatedHosts, []string{"pacs.example.jp"})
	check("alpn", r.Client.ALPN, []string{"http/1.1"})
	check("ciphers", r.Client.Ciphers, []uint16{0xc02f, 0xc030, 0x009c})
	check("groups", r.Client.Groups, []uint16{29, 23})
	check("point formats", r.Client.PointFormats, []uint8{0, 1})
	check("sigalgs", r.Client.SigAlgs, []uint16{0x0401, 0x0201})
	check("extensions", r.Client.Extensions, []uint16{0, 10, 11, 13, 16, 23})
	// JA3: 771,49199-49200-156,0-10-11-13-16-23,29-23,0-1 (decimal lists).
	check("ja3 string", r.Client.JA3String, "771,49199-49200-156,0-10-11-13-16-23,29-23,0-1")
	check("ja3", r.Client.JA3, md5hex([]byte("771,49199-49200-156,0-10-11-13-16-23,29-23,0-1")))
	check("ja3s string", r.Server.JA3SString, "771,49199,65281-16-23")
	check("ja4 a", r.Client.JA4[:10], "t12d0306h1")
	check("certificate", r.Server.Certificate, "visible")
	check("chain length", len(r.Server.Certs), 2)
	leaf := r.Server.Certs[0]
	check("leaf subject", leaf.Subject, "CN=pacs.example.jp")
	check("leaf issuer", leaf.Issuer, "CN=Hospital Root CA,O=Mamori General")
	check("leaf cn", leaf.SubjectCN, []string{"pacs.example.jp"})
	check("leaf sans", leaf.AltNames, []string{"pacs.example.jp", "pacs2.example.jp", "10.1.2.3"})
	check("leaf serial", leaf.Serial, "ABCDEF")
	check("leaf not_before", leaf.NotBefore, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	check("leaf not_after", leaf.NotAfter, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	check("leaf self-signed", leaf.SelfSigned, false)
	check("leaf key", leaf.PublicKeyAlgorithm+"/"+leaf.SignatureAlgorithm, "ECDSA/ECDSA-SHA256")
	check("leaf sha256", leaf.SHA256, strings.ToUpper(sha256hex(certs.leaf)))
	check("ca self-signed", r.Server.Certs[1].SelfSigned, true)
	check("anomalies", len(r.Anomalies), 0)
	if r.Duration <= 0 {
		t.Errorf("duration %v", r.Duration)
	}
	js := string(r.AppendJSON(nil, &prototest.Observer))
	for _, want := range []string{
		`"tls":{"version":"1.2","version_protocol":"tls","cipher":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256","curve":"x25519","established":true`,
		`"server_name":"pacs.example.jp"`,
		`"x509":{"subject":{"common_name":["pacs.example.jp"],"distinguished_name":"CN=pacs.example.jp"}`,
		`"alternative_names":["pacs.example.jp","pacs2.example.jp","10.1.2.3"]`,
		`"chain":[{"subject":"CN=Hospital Root CA,O=Mamori General"`,
		`"event":{"kind":"event","category":["network"],"type":["connection","protocol"],"action":"tls_handshake","outcome":"success"`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s\n%s", want, js)
		}
	}
	prototest.CheckRobust(t, newParser(t, Config{}), tcpInfo(), false, chunks...)
}

func TestSelfSignedClientCertificate(t *testing.T) {
	certs := makeCerts(t)
	ch := hello{version: 0x0303, ciphers: []uint16{0x009c}, exts: [][]byte{}}
	r, err := feed(t,
		prototest.C(cli, rec(typeHandshake, 0x0303, hs(hsClientHello, ch.body()))),
		prototest.C(srv, rec(typeHandshake, 0x0303, cat(hs(hsServerHello, serverHelloBody(0x0303, nil, nil, 0x009c)),
			hs(hsCertificate, certificateBody(certs.self)), hs(hsCertificateRequest, []byte{1, 1, 0, 0, 0, 0}), hs(hsServerHelloDone, nil)))),
		prototest.C(cli, rec(typeHandshake, 0x0303, hs(hsCertificate, certificateBody(certs.leaf)))),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Server.Certs[0].SelfSigned || r.Server.Certs[0].Subject != "CN=modality-ct01" {
		t.Errorf("server leaf %+v, want the self-signed modality-ct01", r.Server.Certs[0])
	}
	if !r.Client.CertRequested || len(r.Client.Certs) != 1 || r.Client.Certs[0].Subject != "CN=pacs.example.jp" {
		t.Errorf("client certificate: requested %v, %+v", r.Client.CertRequested, r.Client.Certs)
	}
	if r.Outcome != "unknown" || r.Reason != "handshake incomplete" || r.Established {
		t.Errorf("outcome %q reason %q", r.Outcome, r.Reason)
	}
	js := string(r.AppendJSON(nil, &prototest.Observer))
	if !strings.Contains(js, `"client":{"ja3":`) || !strings.Contains(js, `"certificate_requested":true,"self_signed":false`) {
		t.Errorf("JSON: %s", js)
	}
}

func TestTLS13HelloRetry(t *testing.T) {
	ch := browserHello("ehr.example.jp")
	hrr := serverHelloBody(0x0303, helloRetryRandom[:], make([]byte, 32), 0x1301, extVersions0304(), ext(extKeyShare, be16(23)))
	sh := serverHelloBody(0x0303, nil, make([]byte, 32), 0x1302, extVersions0304(), ext(extKeyShare, be16(23), v16(make([]byte, 65))))
	chunks := []prototest.Chunk{
		prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, ch.body()))),
		prototest.C(srv, cat(rec(typeHandshake, 0x0303, hs(hsServerHello, hrr)), rec(typeChangeCipherSpec, 0x0303, []byte{1}))),
		// Middlebox compatibility: the client's CCS comes before its second hello.
		prototest.C(cli, cat(rec(typeChangeCipherSpec, 0x0303, []byte{1}), rec(typeHandshake, 0x0303, hs(hsClientHello, ch.body())))),
		prototest.C(srv, cat(rec(typeHandshake, 0x0303, hs(hsServerHello, sh)), rec(typeApplicationData, 0x0303, make([]byte, 2000)))),
		prototest.C(cli, rec(typeApplicationData, 0x0303, make([]byte, 53))),
		prototest.C(srv, rec(typeAlert, 0x0303, []byte{1, 0})), // after the outcome: ignored
	}
	r, err := feed(t, chunks...)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HelloRetry || r.Client.Hellos != 2 || r.Version != 0x0304 || cipherName(r.Cipher) != "TLS_AES_256_GCM_SHA384" ||
		groupName(r.Curve) != "secp256r1" || !r.Established || r.Server.Certificate != "encrypted" || r.AlertFrom != "" {
		t.Errorf("record %+v", r)
	}
	if !r.Client.GREASE || slices.Contains(r.Client.Ciphers, 0x0a0a) || !slices.Equal(r.Client.Versions, []uint16{0x0304, 0x0303}) {
		t.Errorf("GREASE: %v ciphers %x versions %x", r.Client.GREASE, r.Client.Ciphers, r.Client.Versions)
	}
	// 5 ciphers less GREASE = 4; 9 extensions less GREASE = 8; the version
	// from supported_versions; GREASE out of the groups in JA3.
	if !strings.HasPrefix(r.Client.JA4, "t13d0408h2_") || r.Client.JA3String != "771,4865-4866-49199-255,0-16-10-11-13-43-51-65281,29-23,0" {
		t.Errorf("ja4 %s ja3 %s", r.Client.JA4, r.Client.JA3String)
	}
	prototest.CheckRobust(t, newParser(t, Config{}), tcpInfo(), false, chunks...)
}

func extVersions0304() []byte { return ext(extSupportedVersions, be16(0x0304)) }

func TestTLS13Resumed(t *testing.T) {
	ch := browserHello("ehr.example.jp")
	sh := serverHelloBody(0x0303, nil, make([]byte, 32), 0x1301, extVersions0304(), ext(extKeyShare, be16(29), v16(make([]byte, 32))), ext(extPreSharedKey, be16(0)))
	r, _ := feed(t,
		prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, ch.body()))),
		prototest.C(srv, cat(rec(typeHandshake, 0x0303, hs(hsServerHello, sh)), rec(typeApplicationData, 0x0303, make([]byte, 60)))),
		prototest.C(cli, rec(typeApplicationData, 0x0303, make([]byte, 53))),
	)
	if !r.Resumed || !r.Established {
		t.Errorf("resumed %v established %v", r.Resumed, r.Established)
	}
}

// TestTLS13ClientRejects: a TLS 1.3 client that rejects the server's
// (encrypted) certificate answers with an encrypted alert, a record too
// short to be its Finished: not established.
func TestTLS13ClientRejects(t *testing.T) {
	sh := serverHelloBody(0x0303, nil, make([]byte, 32), 0x1301, extVersions0304(), ext(extKeyShare, be16(29), v16(make([]byte, 32))))
	r, _ := feed(t,
		prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("selfsigned.example").body()))),
		prototest.C(srv, cat(rec(typeHandshake, 0x0303, hs(hsServerHello, sh)), rec(typeChangeCipherSpec, 0x0303, []byte{1}),
			rec(typeApplicationData, 0x0303, make([]byte, 1500)))),
		prototest.C(cli, cat(rec(typeChangeCipherSpec, 0x0303, []byte{1}), rec(typeApplicationData, 0x0303, make([]byte, 19)))),
	)
	if r.Established || r.Outcome != "unknown" || r.Reason != "handshake incomplete" || !slices.Equal(r.Anomalies, []string{anomalyEncryptedAlert}) {
		t.Errorf("established %v outcome %q reason %q anomalies %v", r.Established, r.Outcome, r.Reason, r.Anomalies)
	}
}

func TestTLS12Resumed(t *testing.T) {
	sid := []byte("0123456789abcdef0123456789abcdef")
	ch := hello{version: 0x0303, sid: sid, ciphers: []uint16{0xc02f}, exts: [][]byte{extSNI("his.example.jp")}}
	r, _ := feed(t,
		prototest.C(cli, rec(typeHandshake, 0x0303, hs(hsClientHello, ch.body()))),
		prototest.C(srv, cat(rec(typeHandshake, 0x0303, hs(hsServerHello, serverHelloBody(0x0303, nil, sid, 0xc02f))),
			rec(typeChangeCipherSpec, 0x0303, []byte{1}), rec(typeHandshake, 0x0303, make([]byte, 40)))),
		prototest.C(cli, cat(rec(typeChangeCipherSpec, 0x0303, []byte{1}), rec(typeHandshake, 0x0303, make([]byte, 40)))),
	)
	if !r.Resumed || !r.Established || r.Server.Certificate != "not_seen" || r.Outcome != "success" {
		t.Errorf("resumed %v established %v certificate %q", r.Resumed, r.Established, r.Server.Certificate)
	}
}

// TestFatalAlert: a fatal alert ends the handshake at once, named.
func TestFatalAlert(t *testing.T) {
	var recs []event.Record
	p := newParser(t, Config{})
	s := p.NewSession(tcpInfo(), func(r event.Record) { recs = append(recs, r) })
	ch := browserHello("old-pacs.example.jp")
	t0 := prototest.Epoch
	if err := s.Payload(cli, t0, rec(typeHandshake, 0x0301, hs(hsClientHello, ch.body()))); err != nil {
		t.Fatal(err)
	}
	if err := s.Payload(srv, t0.Add(3*time.Millisecond), rec(typeAlert, 0x0303, []byte{2, 70})); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records before End, want 1", len(recs))
	}
	s.End(t0.Add(time.Second), event.EndTCPClose)
	if len(recs) != 1 {
		t.Fatalf("End emitted again")
	}
	r := recs[0].(*Record)
	if r.Outcome != "failure" || r.Reason != "protocol_version alert from server" || r.AlertFrom != "server" || r.AlertLevel != 2 ||
		r.Duration != 3*time.Millisecond || !r.Timestamp.Equal(t0) {
		t.Errorf("record %+v", r)
	}
	if js := string(r.AppendJSON(nil, &prototest.Observer)); !strings.Contains(js, `"alert":{"from":"server","level":"fatal","description":"protocol_version"}`) {
		t.Errorf("JSON %s", js)
	}
}

func TestNoServerHello(t *testing.T) {
	r, _ := feed(t, prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("x.example").body()))))
	if r.Outcome != "unknown" || r.Reason != "no server hello" || r.Version != 0 {
		t.Errorf("outcome %q reason %q", r.Outcome, r.Reason)
	}
	if js := string(r.AppendJSON(nil, &prototest.Observer)); !strings.Contains(js, `"tls":{"version_protocol":"tls","established":false`) {
		t.Errorf("JSON %s", js)
	}
}

// TestFragmentation: a ClientHello split over three records and a server
// flight coalesced in one record give the same record as whole messages.
func TestFragmentation(t *testing.T) {
	certs := makeCerts(t)
	body := hs(hsClientHello, browserHello("frag.example.jp").body())
	var split []byte
	for _, part := range [][]byte{body[:3], body[3:50], body[50:]} {
		split = append(split, rec(typeHandshake, 0x0301, part)...)
	}
	flight := cat(hs(hsServerHello, serverHelloBody(0x0303, nil, nil, 0xc02f)), hs(hsCertificate, certificateBody(certs.leaf, certs.ca)), hs(hsServerHelloDone, nil))
	var flightSplit []byte
	for i := 0; i < len(flight); i += 100 {
		flightSplit = append(flightSplit, rec(typeHandshake, 0x0303, flight[i:min(i+100, len(flight))])...)
	}
	whole, _ := feed(t, prototest.C(cli, rec(typeHandshake, 0x0301, body)), prototest.C(srv, rec(typeHandshake, 0x0303, flight)))
	frag, _ := feed(t, prototest.C(cli, split), prototest.C(srv, flightSplit))
	a, b := prototest.NDJSON([]event.Record{whole}), prototest.NDJSON([]event.Record{frag})
	if string(a) != string(b) {
		t.Errorf("fragmented records differ:\n%s\n%s", a, b)
	}
	if frag.Client.ServerName != "frag.example.jp" || len(frag.Server.Certs) != 2 {
		t.Errorf("record %+v", frag)
	}
	prototest.CheckRobust(t, newParser(t, Config{}), tcpInfo(), false, prototest.C(cli, split), prototest.C(srv, flightSplit))
}

// TestSSLv2Hello: an SSL 2.0-compatible CLIENT-HELLO (RFC 6101 E.1) answered
// by an SSL 3.0 ServerHello.
func TestSSLv2Hello(t *testing.T) {
	specs := []byte{0x01, 0x00, 0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x0a, 0x07, 0x00, 0xc0}
	challenge := make([]byte, 16)
	msg := cat([]byte{1}, be16(0x0300), be16(len(specs)), be16(0), be16(len(challenge)), specs, challenge)
	v2 := cat([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg)
	if !newParser(t, Config{}).Match(tcpInfo(), cli, v2) {
		t.Fatal("SSLv2 hello not matched")
	}
	chunks := []prototest.Chunk{
		prototest.C(cli, v2),
		prototest.C(srv, rec(typeHandshake, 0x0300, cat(hs(hsServerHello, serverHelloBody(0x0300, nil, nil, 0x0004)), hs(hsServerHelloDone, nil)))),
		prototest.C(cli, cat(rec(typeHandshake, 0x0300, hs(16, make([]byte, 64))), rec(typeChangeCipherSpec, 0x0300, []byte{1}), rec(typeHandshake, 0x0300, make([]byte, 56)))),
		prototest.C(srv, cat(rec(typeChangeCipherSpec, 0x0300, []byte{1}), rec(typeHandshake, 0x0300, make([]byte, 56)))),
	}
	r, err := feed(t, chunks...)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Client.SSLv2 || !slices.Equal(r.Client.Ciphers, []uint16{0x0004, 0x000a}) || r.Client.Version != 0x0300 ||
		r.Client.JA3 != "" || r.Client.JA4 != "" || r.Version != 0x0300 || !r.Established {
		t.Errorf("record %+v", r)
	}
	if v, p := versionName(r.Version); v != "3.0" || p != "ssl" {
		t.Errorf("version %s %s", v, p)
	}
	prototest.CheckRobust(t, newParser(t, Config{}), tcpInfo(), false, chunks...)
}

func TestMalformed(t *testing.T) {
	good := rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("a.example").body()))
	badHello := hello{version: 0x0303, ciphers: []uint16{1}, exts: [][]byte{}}.body()
	badHello = append(badHello[:len(badHello)-2], 0, 9) // extensions length past the end
	cases := []struct {
		name   string
		chunks []prototest.Chunk
		reason string
		record bool
	}{
		{"bad content type", []prototest.Chunk{prototest.C(cli, good), prototest.C(srv, rec(99, 0x0303, []byte{1}))}, reasonRecordHeader, true},
		{"bad record version", []prototest.Chunk{prototest.C(cli, good), prototest.C(srv, rec(typeHandshake, 0x0203, []byte{1}))}, reasonRecordHeader, true},
		{"record too long", []prototest.Chunk{prototest.C(cli, good), prototest.C(srv, []byte{typeApplicationData, 3, 3, 0x48, 0x01})}, reasonRecordHeader, true},
		{"bad client hello", []prototest.Chunk{prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, badHello)))}, reasonClientHello, false},
		{"bad server hello", []prototest.Chunk{prototest.C(cli, good), prototest.C(srv, rec(typeHandshake, 0x0303, hs(hsServerHello, []byte{3, 3, 0})))}, reasonServerHello, true},
		{"message before hello", []prototest.Chunk{prototest.C(cli, rec(typeHandshake, 0x0301, cat(hs(hsClientHello+15, make([]byte, 40)))))}, reasonNoHello, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(t, Config{})
			if tc.name == "message before hello" {
				// Match refuses it; drive the session directly.
				s := p.NewSession(tcpInfo(), func(event.Record) { t.Error("record emitted") })
				err := s.Payload(cli, prototest.Epoch, tc.chunks[0].Data)
				if !errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != tc.reason {
					t.Errorf("error %v, want %q", err, tc.reason)
				}
				return
			}
			recs, err := prototest.Feed(p, tcpInfo(), tc.chunks...)
			if !errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != tc.reason {
				t.Fatalf("error %v, want %q", err, tc.reason)
			}
			if got := len(recs) == 1; got != tc.record {
				t.Fatalf("%d records", len(recs))
			}
			if tc.record {
				if r := recs[0].(*Record); r.Reason != "malformed: "+tc.reason || r.Outcome != "unknown" {
					t.Errorf("reason %q outcome %q", r.Reason, r.Outcome)
				}
			}
		})
	}
}

// TestGaps: a gap inside application data keeps the record framing; a gap
// in the handshake stops following that direction and is noted.
func TestGaps(t *testing.T) {
	ch := rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("gap.example").body()))
	sh := rec(typeHandshake, 0x0303, hs(hsServerHello, serverHelloBody(0x0303, nil, make([]byte, 32), 0x1301, extVersions0304())))
	app := rec(typeApplicationData, 0x0303, make([]byte, 1000))
	r, _ := feed(t,
		prototest.C(cli, ch), prototest.C(srv, sh),
		prototest.C(srv, app[:100]), prototest.Chunk{Dir: srv, Gap: 800}, prototest.C(srv, app[900:]),
		prototest.C(cli, rec(typeApplicationData, 0x0303, make([]byte, 60))),
	)
	if !r.Established || len(r.Anomalies) != 0 {
		t.Errorf("gap in application data: established %v anomalies %v", r.Established, r.Anomalies)
	}
	r, _ = feed(t,
		prototest.C(cli, ch), prototest.C(srv, sh[:20]), prototest.Chunk{Dir: srv, Gap: 10}, prototest.C(srv, sh[30:]),
	)
	if r.Version != 0 || !slices.Equal(r.Anomalies, []string{anomalyGap}) || r.Reason != "no server hello" {
		t.Errorf("gap in handshake: version %x anomalies %v reason %q", r.Version, r.Anomalies, r.Reason)
	}
}

// TestMemoryBound: hostile streams keep the buffered bytes under the limit.
func TestMemoryBound(t *testing.T) {
	const limit = 1024
	p := newParser(t, Config{HandshakeLimit: limit, MaxCertificates: 2, MaxListItems: 16})
	var recs []event.Record
	s := p.NewSession(tcpInfo(), func(r event.Record) { recs = append(recs, r) }).(*Session)
	ch := browserHello("bound.example")
	ch.ciphers = make([]uint16, 300) // a long list: capped in the record
	for i := range ch.ciphers {
		ch.ciphers[i] = uint16(i + 1)
	}
	body := hs(hsClientHello, ch.body())
	if len(body) > limit {
		t.Fatalf("test hello %d bytes", len(body))
	}
	if err := s.Payload(cli, prototest.Epoch, rec(typeHandshake, 0x0301, body)); err != nil {
		t.Fatal(err)
	}
	buffered := func() int { return cap(s.dir[0].hs) + cap(s.dir[1].hs) }
	// A handshake message declaring 16 MiB, sent as endless full records.
	huge := []byte{hsCertificate, 0xff, 0xff, 0xff}
	if err := s.Payload(srv, prototest.Epoch, rec(typeHandshake, 0x0303, huge)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := s.Payload(srv, prototest.Epoch, rec(typeHandshake, 0x0303, make([]byte, maxPlaintext))); err != nil {
			t.Fatal(err)
		}
		if b := buffered(); b > 2*limit {
			t.Fatalf("buffered %d bytes after %d records", b, i)
		}
	}
	// A message just under the limit, one byte per record.
	msg := hs(hsCertificateRequest, make([]byte, limit-4))
	s2 := p.NewSession(tcpInfo(), func(event.Record) {}).(*Session)
	_ = s2.Payload(cli, prototest.Epoch, rec(typeHandshake, 0x0301, body))
	for _, c := range msg {
		if err := s2.Payload(srv, prototest.Epoch, rec(typeHandshake, 0x0303, []byte{c})); err != nil {
			t.Fatal(err)
		}
		if b := cap(s2.dir[1].hs); b > limit {
			t.Fatalf("buffered %d > %d", b, limit)
		}
	}
	s.End(prototest.Epoch, event.EndShutdown)
	r := recs[0].(*Record)
	if len(r.Client.Ciphers) != 16 || !slices.Contains(r.Anomalies, anomalyListTruncated) || !slices.Contains(r.Anomalies, anomalyHandshakeTooLong) ||
		r.Server.Certificate != "skipped" {
		t.Errorf("ciphers %d anomalies %v certificate %q", len(r.Client.Ciphers), r.Anomalies, r.Server.Certificate)
	}
	// The fingerprints use the whole list.
	if !strings.HasPrefix(r.Client.JA4, "t13d99") {
		t.Errorf("ja4 %s", r.Client.JA4)
	}
}

func TestChainLimit(t *testing.T) {
	certs := makeCerts(t)
	p := newParser(t, Config{MaxCertificates: 2})
	recs, _ := prototest.Feed(p, tcpInfo(),
		prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("c.example").body()))),
		prototest.C(srv, rec(typeHandshake, 0x0303, cat(hs(hsServerHello, serverHelloBody(0x0303, nil, nil, 0xc02f)),
			hs(hsCertificate, certificateBody(certs.leaf, certs.ca, certs.self, []byte("junk")))))))
	r := recs[0].(*Record)
	if len(r.Server.Certs) != 2 || !slices.Equal(r.Anomalies, []string{anomalyChainTruncated}) {
		t.Errorf("certs %d anomalies %v", len(r.Server.Certs), r.Anomalies)
	}
	recs, _ = prototest.Feed(p, tcpInfo(),
		prototest.C(cli, rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("c.example").body()))),
		prototest.C(srv, rec(typeHandshake, 0x0303, cat(hs(hsServerHello, serverHelloBody(0x0303, nil, nil, 0xc02f)),
			hs(hsCertificate, certificateBody([]byte("not a certificate")))))))
	r = recs[0].(*Record)
	if len(r.Server.Certs) != 1 || r.Server.Certs[0].Parsed || r.Server.Certs[0].SHA256 != strings.ToUpper(sha256hex([]byte("not a certificate"))) ||
		!slices.Equal(r.Anomalies, []string{anomalyCertUnparsable}) {
		t.Errorf("certs %+v anomalies %v", r.Server.Certs, r.Anomalies)
	}
}

// TestCertCache: the cache is bounded, gives what parsing gives, and is
// safe for the workers that share a Parser.
func TestCertCache(t *testing.T) {
	certs := makeCerts(t)
	cc := newCertCache(2)
	// A certificate over maxKeyedDER is keyed by its hash.
	ders := [][]byte{certs.leaf, certs.ca, certs.self, []byte("junk"), bytes.Repeat([]byte("j"), maxKeyedDER+1)}
	done := make(chan bool)
	for range 4 {
		go func() {
			for i := range 50 {
				der := ders[i%len(ders)]
				got := cc.parse(der, 512)
				if want := parseCert(der, sha256.Sum256(der), 512); !equal(got, want) {
					t.Errorf("cached %+v, parsed %+v", got, want)
				}
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
	if n := len(cc.c.byK); n > 2 {
		t.Errorf("%d entries in a cache of 2", n)
	}
}
