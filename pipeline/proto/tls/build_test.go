package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"reflect"
	"testing"
	"time"
)

// Builders of TLS bytes laid out as RFC 8446 / RFC 5246 describe them.

func be16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func v8(b ...[]byte) []byte  { c := cat(b...); return cat([]byte{byte(len(c))}, c) }
func v16(b ...[]byte) []byte { c := cat(b...); return cat(be16(len(c)), c) }
func v24(b ...[]byte) []byte {
	c := cat(b...)
	return cat([]byte{byte(len(c) >> 16), byte(len(c) >> 8), byte(len(c))}, c)
}

func u16list(vs ...uint16) []byte {
	var out []byte
	for _, v := range vs {
		out = append(out, byte(v>>8), byte(v))
	}
	return out
}

// ext is one extension: type and body.
func ext(typ uint16, body ...[]byte) []byte { return cat(be16(int(typ)), v16(body...)) }

func extSNI(name string) []byte { return ext(extServerName, v16([]byte{0}, v16([]byte(name)))) }

func alpnExt(protos ...string) []byte {
	var l []byte
	for _, p := range protos {
		l = append(l, v8([]byte(p))...)
	}
	return ext(extALPN, v16(l))
}

func extVersions(vs ...uint16) []byte { return ext(extSupportedVersions, v8(u16list(vs...))) }
func extGroups(vs ...uint16) []byte   { return ext(extSupportedGroups, v16(u16list(vs...))) }
func extSigAlgs(vs ...uint16) []byte  { return ext(extSignatureAlgorithms, v16(u16list(vs...))) }
func extPoints(fs ...byte) []byte     { return ext(extECPointFormats, v8(fs)) }

// hello is the input of a ClientHello.
type hello struct {
	version uint16
	sid     []byte
	ciphers []uint16
	exts    [][]byte // nil: no extensions block at all
}

func (h hello) body() []byte {
	random := make([]byte, 32)
	b := cat(be16(int(h.version)), random, v8(h.sid), v16(u16list(h.ciphers...)), v8([]byte{0}))
	if h.exts != nil {
		b = append(b, v16(h.exts...)...)
	}
	return b
}

// hs is a handshake message: type, 3-byte length, body.
func hs(typ byte, body []byte) []byte { return cat([]byte{typ}, v24(body)) }

// rec is a TLS record.
func rec(typ byte, version uint16, body []byte) []byte {
	return cat([]byte{typ}, be16(int(version)), be16(len(body)), body)
}

// serverHelloBody builds a ServerHello.
func serverHelloBody(version uint16, random []byte, sid []byte, cipher uint16, exts ...[]byte) []byte {
	if random == nil {
		random = make([]byte, 32)
		random[0] = 1
	}
	b := cat(be16(int(version)), random, v8(sid), be16(int(cipher)), []byte{0})
	if exts != nil {
		b = append(b, v16(exts...)...)
	}
	return b
}

func certificateBody(ders ...[]byte) []byte {
	var l []byte
	for _, d := range ders {
		l = append(l, v24(d)...)
	}
	return v24(l)
}

// testCerts makes a CA and a leaf it signed, and a self-signed leaf.
type testCerts struct {
	ca, leaf, self []byte
}

func makeCerts(t testing.TB) testCerts {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey, selfKey := key(), key(), key()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x0102), Subject: pkix.Name{CommonName: "Hospital Root CA", Organization: []string{"Mamori General"}},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ca, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(ca)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0xabcdef), Subject: pkix.Name{CommonName: "pacs.example.jp"},
		NotBefore: nb, NotAfter: na, DNSNames: []string{"pacs.example.jp", "pacs2.example.jp"},
		IPAddresses: []net.IP{net.ParseIP("10.1.2.3")},
	}
	leaf, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	selfTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "modality-ct01"},
		NotBefore: nb, NotAfter: na,
	}
	self, err := x509.CreateCertificate(rand.Reader, selfTmpl, selfTmpl, &selfKey.PublicKey, selfKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCerts{ca: ca, leaf: leaf, self: self}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }
