package tls

import (
	"encoding/json"
	"testing"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto/prototest"
)

// encodeStream turns chunks into fuzz input: a header byte per piece, its
// low bit the direction and its high 7 bits the length (0: a gap of 100
// bytes), then the piece's bytes.
func encodeStream(chunks []prototest.Chunk, max int) []byte {
	var out []byte
	for _, c := range chunks {
		if c.Gap > 0 {
			out = append(out, byte(c.Dir))
			continue
		}
		for d := c.Data; len(d) > 0 && len(out) < max; {
			n := min(len(d), 127)
			out = append(out, byte(n<<1)|byte(c.Dir))
			out = append(out, d[:n]...)
			d = d[n:]
		}
	}
	return out
}

func decodeStream(b []byte) []prototest.Chunk {
	var out []prototest.Chunk
	for len(b) > 0 {
		d, n := flow.Dir(b[0]&1), int(b[0]>>1)
		b = b[1:]
		if n == 0 {
			out = append(out, prototest.Chunk{Dir: d, Gap: 100})
			continue
		}
		n = min(n, len(b))
		out = append(out, prototest.C(d, b[:n]))
		b = b[n:]
	}
	return out
}

// FuzzSession feeds arbitrary chunk sequences, seeded from every real TLS
// flow, to a session that has already accepted a ClientHello: it must
// never panic, emit at most one record, and always emit valid JSON.
func FuzzSession(f *testing.F) {
	for _, c := range append(captures, "beacon/slips_test-cc-capture-1.pcap") {
		for i, st := range prototest.Streams(f, c) {
			if st.UDP || i > 20 {
				continue
			}
			f.Add(encodeStream(st.Chunks, 6<<10))
		}
	}
	f.Add(encodeStream([]prototest.Chunk{prototest.C(srv, rec(typeAlert, 0x0303, []byte{2, 40}))}, 1<<10))
	p := newParser(f, Config{HandshakeLimit: 4096, MaxCertificates: 2, MaxListItems: 32})
	hello := rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("fuzz.example").body()))
	f.Fuzz(func(t *testing.T, data []byte) {
		chunks := decodeStream(data)
		if first := firstData(chunks); first == nil || !p.Match(tcpInfo(), first.Dir, first.Data) {
			// Reach the state machine whatever the first bytes are.
			chunks = append([]prototest.Chunk{prototest.C(cli, hello)}, chunks...)
		}
		recs, _ := prototest.Feed(p, tcpInfo(), chunks...)
		if len(recs) > 1 {
			t.Fatalf("%d records for one connection", len(recs))
		}
		for _, r := range recs {
			if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
		}
	})
}

// FuzzClientHello fuzzes the ClientHello parser and the fingerprints
// directly, seeded with real hellos.
func FuzzClientHello(f *testing.F) {
	f.Add(browserHello("a.example").body())
	f.Add(hello{version: 0x0300, ciphers: []uint16{4, 5}}.body())
	for _, st := range prototest.Streams(f, "tls/zeek_tls13-ech.pcap") {
		if first := firstData(st.Chunks); first != nil && len(first.Data) > 9 {
			f.Add(first.Data[9:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseClientHello(b)
		if !ok {
			return
		}
		ja3(&h)
		ja4(&h)
		parseServerHello(b)
		parseSSLv2Hello(b)
		certificateList(b, 4)
	})
}
