package tls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"mamori/pipeline/event"
)

// Cert is what a record reports of one X.509 certificate.
type Cert struct {
	SHA256             string // upper-case hex of the DER, as ECS writes hashes
	Parsed             bool   // crypto/x509 could read it; the fields below are set
	Subject            string // RFC 2253 distinguished name
	Issuer             string
	SubjectCN          []string
	IssuerCN           []string
	SubjectO           []string
	IssuerO            []string
	NotBefore          time.Time
	NotAfter           time.Time
	Serial             string // upper-case hex
	AltNames           []string
	PublicKeyAlgorithm string
	PublicKeySize      int
	SignatureAlgorithm string
	Version            int
	SelfSigned         bool
	CA                 bool

	// json is the certificate's part of a record, written once when the
	// cache parses it (nil for a Cert built elsewhere: the record writes
	// the fields then). It is shared by every record and never changed.
	json *certJSON
}

// certJSON is what writeCertECS and writeCertsMamori write for one
// certificate, as bytes to copy: hash is the member list of "hash"
// ("sha256":"…"), rest the members after it (",\"subject\":…" up to x509's
// end, empty for an unparsed certificate), item the members of a chain
// element.
type certJSON struct{ hash, rest, item []byte }

// render fills c.json from the writer-based functions, so that the bytes
// copied are exactly what they write.
func (c *Cert) render() {
	var w event.JSON
	w.Begin()
	writeCertECSFields(&w, c)
	w.Finish()
	// {"hash":{"sha256":"…"}…}
	b := w.B
	const open = `{"hash":{`
	end := bytes.IndexByte(b[len(open):], '}') + len(open)
	j := &certJSON{hash: b[len(open):end:end], rest: b[end+1 : len(b)-1 : len(b)-1]}
	var v event.JSON
	v.Begin()
	writeChainItem(&v, c)
	v.Finish()
	j.item = v.B[1 : len(v.B)-1 : len(v.B)-1]
	c.json = j
}

// certCache remembers parsed certificates by their DER bytes: the same
// server certificates come back on every connection (a beacon, the EHR
// server), and parsing one costs far more than looking it up. A
// certificate up to maxKeyedDER bytes is its own key (a hit costs a map
// lookup, no hash); a larger one is keyed by its SHA-256 (so that the
// cache holds at most that many bytes of key per entry). It is bounded
// (oldest out first) and safe for concurrent use; since parseCert is a
// pure function of the bytes, it changes no output.
type certCache struct{ c *infoCache[Cert] }

// maxKeyedDER is the largest certificate kept as its own cache key
// (certificates are typically 1–2 KB).
const maxKeyedDER = maxHelloKey - 1

func newCertCache(n int) *certCache { return &certCache{newInfoCache[Cert](n)} }

// parse returns the certificate parsed from der, from the cache when it
// was seen before. The Cert's slices are shared and must not be changed.
func (cc *certCache) parse(der []byte, maxList int) Cert {
	// The key's first byte says which kind it is, so that no certificate's
	// bytes can pose as another's hash.
	var kb [1 + maxKeyedDER]byte
	if len(der) <= maxKeyedDER {
		kb[0] = 'd'
		key := append(kb[:1], der...)
		return cc.c.get(key, func() Cert { return parseCert(der, sha256.Sum256(der), maxList) })
	}
	sum := sha256.Sum256(der)
	kb[0] = 's'
	key := append(kb[:1], sum[:]...)
	return cc.c.get(key, func() Cert { return parseCert(der, sum, maxList) })
}

// parseCert reads one DER certificate whose SHA-256 is sum, with its
// JSON rendered. der is not retained: every field is copied out. A
// certificate crypto/x509 refuses still gives its hash.
func parseCert(der []byte, sum [32]byte, maxList int) Cert {
	c := parseFields(der, sum, maxList)
	c.render()
	return c
}

// parseFields is parseCert without the JSON.
func parseFields(der []byte, sum [32]byte, maxList int) Cert {
	c := Cert{SHA256: strings.ToUpper(hex.EncodeToString(sum[:]))}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return c
	}
	c.Parsed = true
	c.Subject = x.Subject.String()
	c.Issuer = x.Issuer.String()
	c.SubjectCN = nonEmpty(x.Subject.CommonName)
	c.IssuerCN = nonEmpty(x.Issuer.CommonName)
	c.SubjectO = clone(x.Subject.Organization, maxList)
	c.IssuerO = clone(x.Issuer.Organization, maxList)
	c.NotBefore, c.NotAfter = x.NotBefore.UTC(), x.NotAfter.UTC()
	if x.SerialNumber != nil {
		if x.SerialNumber.Sign() < 0 {
			c.Serial = "-" + strings.ToUpper(hex.EncodeToString(x.SerialNumber.Bytes()))
		} else {
			c.Serial = strings.ToUpper(hex.EncodeToString(x.SerialNumber.Bytes()))
		}
	}
	for _, n := range x.DNSNames {
		c.AltNames = appendBounded(c.AltNames, n, maxList)
	}
	for _, a := range x.IPAddresses {
		c.AltNames = appendBounded(c.AltNames, a.String(), maxList)
	}
	for _, e := range x.EmailAddresses {
		c.AltNames = appendBounded(c.AltNames, e, maxList)
	}
	for _, u := range x.URIs {
		c.AltNames = appendBounded(c.AltNames, u.String(), maxList)
	}
	c.PublicKeyAlgorithm = x.PublicKeyAlgorithm.String()
	switch k := x.PublicKey.(type) {
	case *rsa.PublicKey:
		c.PublicKeySize = k.N.BitLen()
	case *ecdsa.PublicKey:
		c.PublicKeySize = k.Curve.Params().BitSize
	case ed25519.PublicKey:
		c.PublicKeySize = 256
	}
	c.SignatureAlgorithm = x.SignatureAlgorithm.String()
	c.Version = x.Version
	c.CA = x.IsCA
	c.SelfSigned = selfSigned(x)
	return c
}

// selfSigned reports a certificate whose issuer is its subject and whose
// signature its own key verifies. Signatures crypto/x509 no longer checks
// (MD5, SHA-1) count when the names match: old devices' certificates are
// exactly those.
func selfSigned(x *x509.Certificate) bool {
	if !bytes.Equal(x.RawSubject, x.RawIssuer) {
		return false
	}
	err := x.CheckSignature(x.SignatureAlgorithm, x.RawTBSCertificate, x.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func clone(ss []string, max int) []string {
	if len(ss) == 0 {
		return nil
	}
	return append([]string(nil), ss[:min(len(ss), max)]...)
}

func appendBounded(ss []string, s string, max int) []string {
	if len(ss) >= max {
		return ss
	}
	return append(ss, s)
}
