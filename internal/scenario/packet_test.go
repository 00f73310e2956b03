package scenario

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFrameChecksums checks every header checksum the way a receiver
// does (RFC 1071: the ones' complement sum over the covered bytes,
// checksum included, is 0xffff), for TCP and UDP frames of several
// payload lengths, odd ones included.
func TestFrameChecksums(t *testing.T) {
	src := netip.MustParseAddrPort("10.1.2.3:50000")
	dst := netip.MustParseAddrPort("192.0.2.7:443")
	for _, proto := range []uint8{6, 17} {
		for _, n := range []int{0, 1, 2, 17, 1448} {
			payload := bytes.Repeat([]byte{0xa5, 0x3c, 0x01}, n)[:n]
			b, wire := frame(src, dst, true, false, proto, 1000, 2000, psh|ack, 64240, payload, 0, 7)
			if wire != len(b) {
				t.Fatalf("wire %d, captured %d", wire, len(b))
			}
			ip := b[14:34]
			if csum(0, ip) != 0xffff {
				t.Errorf("proto %d len %d: IPv4 header checksum wrong", proto, n)
			}
			if got := int(be.Uint16(ip[2:])); got != len(b)-14 {
				t.Errorf("IPv4 total length %d, want %d", got, len(b)-14)
			}
			var ph [12]byte
			copy(ph[0:], ip[12:20])
			ph[9] = proto
			be.PutUint16(ph[10:], uint16(len(b)-34))
			if csum(csum(0, ph[:]), b[34:]) != 0xffff {
				t.Errorf("proto %d len %d: transport checksum wrong", proto, n)
			}
		}
	}
	// Bulk data is captured headers only and counted on the wire.
	b, wire := frame(src, dst, true, false, 6, 1, 1, ack, 64240, nil, 60000, 8)
	if len(b) != 54 || wire != 54+60000 || int(be.Uint16(b[16:])) != 40+60000 {
		t.Errorf("bulk frame: captured %d, wire %d, IP length %d", len(b), wire, be.Uint16(b[16:]))
	}
}

// TestConnSequence renders a connection and checks that each side's
// sequence numbers continue where its previous segment ended and that
// acknowledgments name the peer's next byte.
func TestConnSequence(t *testing.T) {
	cp := &capture{}
	r := newTestRand()
	w := &wire{cap: cp, r: r, internal: func(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 10 }}
	c := w.tcp(netip.MustParseAddrPort("10.0.0.1:50000"), netip.MustParseAddrPort("10.0.0.2:445"), time.Unix(1e9, 0))
	c.cli(make([]byte, 3000))
	c.srv(make([]byte, 10))
	c.bulk(false, 150000, time.Second)
	c.close()
	next := map[uint16]uint32{} // by source port: the next sequence number
	var last int64
	for i, p := range cp.pkts {
		if p.ts < last {
			t.Fatalf("packet %d goes back in time", i)
		}
		last = p.ts
		tcp := p.data[34:]
		sport, seq, flags := be.Uint16(tcp[0:]), be.Uint32(tcp[4:]), tcp[13]
		n := uint32(p.wire - 54)
		if want, ok := next[sport]; ok && seq != want {
			t.Errorf("packet %d: seq %d, want %d", i, seq, want)
		}
		if flags&(syn|fin) != 0 {
			n++
		}
		next[sport] = seq + n
		if flags&ack != 0 && flags&syn == 0 {
			dport := be.Uint16(tcp[2:])
			if got := be.Uint32(tcp[8:]); got != next[dport] {
				t.Errorf("packet %d: ack %d, want %d", i, got, next[dport])
			}
		}
	}
	if len(cp.pkts) < 10 {
		t.Fatalf("%d packets", len(cp.pkts))
	}
}

// TestDeterministic: a seed gives the same bytes; another seed another
// hospital.
func TestDeterministic(t *testing.T) {
	c := Config{Seed: 9, Workstations: 20, LearnDays: 1}
	write := func(c Config) []byte {
		dir := t.TempDir()
		f, err := Generate(c).Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f.Attack)
		if err != nil {
			t.Fatal(err)
		}
		site, _ := os.ReadFile(filepath.Join(dir, "site.yaml"))
		return append(b, site...)
	}
	a, b := write(c), write(c)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different captures")
	}
	c.Seed = 10
	if bytes.Equal(a, write(c)) {
		t.Error("two seeds gave the same capture")
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
