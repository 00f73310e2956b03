package tls

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestJA4SpecExample uses the worked example of FoxIO's JA4 specification
// (FoxIO-LLC/ja4, technical_details/JA4.md, "Cipher hash", "Extension
// hash", "Example" and "Raw Output"): a ClientHello with these ciphers,
// extensions in this order, ALPN h2 and these signature algorithms gives
// t13d1516h2_8daaf6152771_e5627efa2ab1 and the JA4_r shown there.
func TestJA4SpecExample(t *testing.T) {
	h := clientHello{
		version:    0x0303,
		ciphers:    []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		extensions: []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015},
		hasSNI:     true,
		alpn:       []string{"h2"},
		versions:   []uint16{0x0304, 0x0303},
		sigAlgs:    []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
	}
	fp, raw := ja4(&h)
	if fp != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("JA4 %s", fp)
	}
	const wantRaw = "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
	if raw != wantRaw {
		t.Errorf("JA4_r %s\nwant  %s", raw, wantRaw)
	}
	// GREASE anywhere changes nothing; the spec's order-independence of
	// ciphers and extensions holds.
	g := h
	g.ciphers = append([]uint16{0x4a4a}, h.ciphers...)
	g.extensions = append([]uint16{0xdada, 0x0015}, h.extensions[:15]...)
	g.sigAlgs = append([]uint16{0x1a1a}, h.sigAlgs...)
	g.versions = []uint16{0x7a7a, 0x0304}
	if fp2, _ := ja4(&g); fp2 != fp {
		t.Errorf("with GREASE and reordering: %s", fp2)
	}
	// "If there are no signature algorithms … the string ends without an
	// underscore": the spec gives 6d807ffa2a79 for the list alone.
	if got := hash12([]byte("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01")); got != "6d807ffa2a79" {
		t.Errorf("hash of the extension list alone: %s", got)
	}
	n := h
	n.sigAlgs = nil
	if _, raw := ja4(&n); !strings.HasSuffix(raw, "_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01") {
		t.Errorf("raw without signature algorithms: %s", raw)
	}
	// No ciphers, no extensions: twelve zeros each.
	e := clientHello{version: 0x0301}
	if fp, _ := ja4(&e); fp != "t10i000000_000000000000_000000000000" {
		t.Errorf("empty hello: %s", fp)
	}
}

// TestJA4ALPN checks the ALPN rules of JA4.md "ALPN Extension Value",
// including its hex examples.
func TestJA4ALPN(t *testing.T) {
	cases := []struct {
		alpn []string
		want string
	}{
		{nil, "00"},
		{[]string{""}, "00"},
		{[]string{"h2", "http/1.1"}, "h2"},
		{[]string{"http/1.1"}, "h1"},
		{[]string{"h"}, "hh"},
		{[]string{"\xab"}, "ab"},
		{[]string{"\xab\xcd"}, "ad"},
		{[]string{"\x30\xab"}, "3b"},
		{[]string{"\x30\x31\xab\xcd"}, "3d"},
		{[]string{"\x30\xab\xcd\x31"}, "01"},
	}
	for _, tc := range cases {
		if got := ja4ALPN(tc.alpn); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.alpn, got, tc.want)
		}
	}
}

func TestJA4Counts(t *testing.T) {
	h := clientHello{version: 0x0303}
	for i := range 120 {
		h.ciphers = append(h.ciphers, uint16(i+1))
	}
	if fp, _ := ja4(&h); !strings.HasPrefix(fp, "t12i9900") {
		t.Errorf("over 99 ciphers: %s", fp)
	}
	for v, want := range map[uint16]string{0x0304: "13", 0x0300: "s3", 0x0002: "s2", 0xfefd: "d2", 0x7f1c: "00"} {
		if got := ja4Version(v); got != want {
			t.Errorf("version %04x: %s, want %s", v, got, want)
		}
	}
}

func TestGREASE(t *testing.T) {
	n := 0
	for v := range 1 << 16 {
		if isGREASE(uint16(v)) {
			n++
			if v&0xff != v>>8 || v&0x0f != 0x0a {
				t.Errorf("%04x is not GREASE", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, RFC 8701 reserves 16", n)
	}
}

// TestCipherNames checks the cipher table against crypto/tls, an
// independent list, for every suite Go implements.
func TestCipherNames(t *testing.T) {
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if got := cipherName(cs.ID); got != cs.Name {
			t.Errorf("%04x: %s, crypto/tls says %s", cs.ID, got, cs.Name)
		}
	}
	for i := 1; i < len(cipherNames); i++ {
		if cipherNames[i-1].id >= cipherNames[i].id {
			t.Fatalf("cipherNames not sorted at %d", i)
		}
	}
	if got := cipherName(0x1337); got != "0x1337" {
		t.Errorf("unknown suite: %s", got)
	}
}
