package flow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"

	"mamori/pipeline/decode"
)

// TestCommunityIDVectors checks CommunityID against the specification's
// published baseline (testdata/baseline_*.json, copied from
// corelight/community-id-spec, BSD licence in COMMUNITY-ID-COPYING). The
// vectors give packets as (saddr, daddr, proto, sport, dport); for ICMP the
// ports are the type and code.
func TestCommunityIDVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		seed uint16
	}{
		{"testdata/baseline_deflt.json", 0},
		{"testdata/baseline_seed1.json", 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var vecs []struct {
				Proto       uint8  `json:"proto"`
				Saddr       string `json:"saddr"`
				Daddr       string `json:"daddr"`
				Sport       uint16 `json:"sport"`
				Dport       uint16 `json:"dport"`
				CommunityID string `json:"communityid"`
			}
			if err := json.Unmarshal(raw, &vecs); err != nil {
				t.Fatal(err)
			}
			if len(vecs) < 20 {
				t.Fatalf("only %d vectors in %s", len(vecs), tc.file)
			}
			for _, v := range vecs {
				src, dst := netip.MustParseAddr(v.Saddr), netip.MustParseAddr(v.Daddr)
				p := decode.Packet{Src: src, Dst: dst, Proto: v.Proto, Net: decode.NetIPv4}
				if src.Is6() {
					p.Net = decode.NetIPv6
				}
				switch v.Proto {
				case protoICMP, protoICMPv6:
					p.ICMPType, p.ICMPCode = uint8(v.Sport), uint8(v.Dport)
				default:
					p.SrcPort, p.DstPort = v.Sport, v.Dport
				}
				k, fromB, _ := packetKey(&p)
				// The vector's packet is the first of its flow, so its sender is the originator.
				got := CommunityID(tc.seed, &k, fromB).String()
				if got != v.CommunityID {
					t.Errorf("%s %s → %s %d/%d: got %s, want %s", protoName(v.Proto), v.Saddr, v.Daddr, v.Sport, v.Dport, got, v.CommunityID)
				}
			}
		})
	}
}

func protoName(p uint8) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "icmp6"
	case protoSCTP:
		return "sctp"
	}
	return "proto"
}

// TestLessIsByteOrder checks the word-wise endpoint order against
// bytes.Compare on random and near-equal addresses.
func TestLessIsByteOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 100000 {
		var a, b [16]byte
		for j := range a {
			a[j] = byte(r.UintN(3)) // few values: many equal prefixes
			b[j] = byte(r.UintN(3))
		}
		if i%4 == 0 {
			b = a
			b[r.UintN(16)] ^= byte(1 << r.UintN(8))
		}
		pa, pb := uint16(r.UintN(3)), uint16(r.UintN(3))
		c := bytes.Compare(a[:], b[:])
		want := c < 0 || (c == 0 && pa <= pb)
		if got := less(a, b, pa, pb); got != want {
			t.Fatalf("less(%x, %x, %d, %d) = %v, want %v", a, b, pa, pb, got, want)
		}
	}
}

func TestBase64Digest(t *testing.T) {
	for i := range 2000 {
		var sum [20]byte
		for j := range sum {
			sum[j] = byte(i*31 + j*j*7 + i>>3*j)
		}
		if i < 256 {
			sum = [20]byte{}
			sum[i%20] = byte(i)
		}
		got := make([]byte, 28)
		base64Digest(got, &sum)
		if want := base64.StdEncoding.EncodeToString(sum[:]); string(got) != want {
			t.Fatalf("%x: got %s, want %s", sum, got, want)
		}
	}
}
