package http

import (
	"math/rand/v2"
	"net"
	"strings"
	"testing"
)

// serverNameSlow is the definition serverName must agree with.
func serverNameSlow(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

func TestServerNameAgrees(t *testing.T) {
	cases := []string{"", "example.org", "Example.ORG.", "example.org:8080", "EXAMPLE.org.:80", "10.0.0.1", "10.0.0.1:443",
		"[::1]", "[::1]:80", "::1", "fe80::1%eth0", "[fe80::1]:", "host:", ":80", "a:b:c", "[x]y", "x]", "[", "]:1"}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aZ.:[]0-%"
	for range 200000 {
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, h := range cases {
		if got, want := serverName(h), serverNameSlow(h); got != want {
			t.Fatalf("serverName(%q) = %q, want %q", h, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = serverName("ehr.hospital.example:8080") }); n != 0 {
		t.Errorf("serverName allocates %v times for a name with a port", n)
	}
}
