package tls

import (
	"strings"
	"testing"

	"mamori/pipeline/proto/prototest"
)

func TestMatch(t *testing.T) {
	ch := rec(typeHandshake, 0x0301, hs(hsClientHello, browserHello("m.example").body()))
	sh := rec(typeHandshake, 0x0303, hs(hsServerHello, serverHelloBody(0x0303, nil, nil, 0xc02f)))
	cases := []struct {
		name  string
		dir   bool // from the server
		udp   bool
		first []byte
		want  bool
	}{
		{"client hello", false, false, ch, true},
		{"client hello, first byte only", false, false, ch[:1], true},
		{"client hello, record header only", false, false, ch[:5], true},
		{"client hello, 9 bytes", false, false, ch[:9], true},
		{"record version 3.0", false, false, cat([]byte{22, 3, 0}, ch[3:]), true},
		{"server hello", false, false, sh, false},
		{"client hello from the server side", true, false, ch, false},
		{"over udp", false, true, ch, false},
		{"record version 3.5", false, false, cat([]byte{22, 3, 5}, ch[3:]), false},
		{"record length 0", false, false, []byte{22, 3, 1, 0, 0}, false},
		{"record length over 2^14", false, false, []byte{22, 3, 1, 0x40, 0x01, 1}, false},
		{"handshake too short for a hello", false, false, []byte{22, 3, 1, 0, 40, 1, 0, 0, 20, 3, 3}, false},
		{"hello version not 3.x", false, false, []byte{22, 3, 1, 0, 60, 1, 0, 0, 56, 2, 0}, false},
		{"application data", false, false, rec(typeApplicationData, 0x0303, []byte("hello")), false},
		{"http", false, false, []byte("GET / HTTP/1.1\r\n"), false},
		{"rdp", false, false, []byte{3, 0, 0, 19, 14, 0xe0, 0, 0}, false},
		{"empty", false, false, nil, false},
	}
	p := newParser(t, Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tcpInfo()
			if tc.udp {
				f = prototest.UDPInfo("10.0.0.1:50000", "10.0.0.2:443")
			}
			d := cli
			if tc.dir {
				d = srv
			}
			if got := p.Match(f, d, tc.first); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatchSSLv2(t *testing.T) {
	msg := cat([]byte{1}, be16(0x0301), be16(6), be16(0), be16(16), []byte{0, 0, 4, 1, 0, 0x80}, make([]byte, 16))
	v2 := cat([]byte{0x80, byte(len(msg))}, msg)
	p := newParser(t, Config{})
	if !p.Match(tcpInfo(), cli, v2) {
		t.Error("SSLv2 CLIENT-HELLO not matched")
	}
	bad := append([]byte(nil), v2...)
	bad[1]++ // record length disagrees with the vectors
	if p.Match(tcpInfo(), cli, bad) {
		t.Error("inconsistent SSLv2 lengths matched")
	}
	bad = append([]byte(nil), v2...)
	bad[3], bad[4] = 0x01, 0x00 // version 1.0 in SSLv2 numbering does not exist
	if p.Match(tcpInfo(), cli, bad) {
		t.Error("bad SSLv2 version matched")
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string // substring of the error, "" for none
	}{
		{Config{}, ""},
		{DefaultConfig(), ""},
		{Config{HandshakeLimit: -1}, "handshake_limit: must not be negative"},
		{Config{HandshakeLimit: 100}, "handshake_limit: 100 is too small"},
		{Config{HandshakeLimit: 1 << 24}, "handshake_limit: 16777216 is more than"},
		{Config{StreamLimit: -1}, "stream_limit"},
		{Config{MaxCertificates: -1}, "max_certificates"},
		{Config{MaxListItems: -1}, "max_list_items"},
	}
	for _, tc := range cases {
		_, err := New(tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	p := newParser(t, Config{StreamLimit: 4096})
	if p.StreamLimit() != 4096 || p.cfg.HandshakeLimit != 64<<10 || p.cfg.MaxCertificates != 8 || p.Name() != "tls" {
		t.Errorf("defaults: %+v", p.cfg)
	}
}
