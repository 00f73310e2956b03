package rules

import (
	"math/rand/v2"
	"testing"

	"mamori/pipeline/baseline"
)

// TestNormalizeName: the rules' name normalisation is the baseline's (a
// name a rule looks up must be the name the baseline learned).
func TestNormalizeName(t *testing.T) {
	inputs := []string{"", "www.Example.COM.", "10.1.2.3", "10.1.2.3:8080", "[10.1.2.3]", "[fe80::1]", "fe80::1%eth0",
		"[2001:db8::1]:443", "1.2.3.4.example", "deadbeef", "dead:beef", "host.example.com:80", " spaced.example.org "}
	r := rand.New(rand.NewPCG(4, 4))
	const alphabet = "0123456789abcdefxyzABC.:[]%-_ "
	for range 20000 {
		b := make([]byte, r.IntN(14))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		if got, want := normalizeName(in), baseline.NormalizeName(in); got != want {
			t.Errorf("normalizeName(%q) = %q, baseline has %q", in, got, want)
		}
	}
}
