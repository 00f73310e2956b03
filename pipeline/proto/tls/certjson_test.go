package tls

import (
	"crypto/sha256"
	"testing"

	"mamori/pipeline/event"
)

// TestCertJSON: a certificate's pre-rendered JSON is what the fields
// write, first in its object or after other members, as a leaf and as a
// chain element.
func TestCertJSON(t *testing.T) {
	certs := makeCerts(t)
	for _, der := range [][]byte{certs.leaf, certs.ca, certs.self, []byte("junk")} {
		c := parseCert(der, sha256.Sum256(der), 512)
		if c.json == nil {
			t.Fatal("parseCert rendered no JSON")
		}
		plain := c
		plain.json = nil
		write := func(c Cert, before bool) string {
			var w event.JSON
			w.Begin()
			w.Object("client")
			if before {
				w.String("server_name", "x")
			}
			writeCertECS(&w, &c)
			w.End()
			writeCertsMamori(&w, []Cert{c, c})
			w.Finish()
			return string(w.B)
		}
		for _, before := range []bool{false, true} {
			if got, want := write(c, before), write(plain, before); got != want {
				t.Errorf("rendered\n%s\nfields\n%s", got, want)
			}
		}
	}
}
