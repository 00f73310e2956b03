package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"mamori/pipeline/decode"
)

// TestIndexAgreesWithMap inserts, finds and removes keys in random order,
// growing the index from its smallest size, and checks every lookup
// against a map. The keys differ from one another in single fields, so a
// key comparison or hash that skips a field fails.
func TestIndexAgreesWithMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := Key{A: netip.MustParseAddr("10.0.0.1").As16(), B: netip.MustParseAddr("10.0.0.2").As16(), PortA: 1000, PortB: 80, Proto: protoTCP}
	var keys []Key
	for i := range 3000 {
		k := base
		switch i % 9 {
		case 0:
			k.A[15] = byte(i)
			k.A[14] = byte(i >> 8)
		case 1:
			k.B[3] = byte(i) // the IPv6 part of the words
			k.B[2] = byte(i >> 8)
		case 2:
			k.PortA = uint16(i)
		case 3:
			k.PortB = uint16(i)
		case 4:
			k.VLAN = uint16(i)
		case 5:
			k.InnerVLAN = uint16(i)
		case 6:
			k.Proto = uint8(i)
			k.PortA = uint16(i >> 8)
		case 7:
			k.IPv6 = true
			k.PortB = uint16(i)
		case 8:
			k.A[0] = byte(i)
			k.B[8] = byte(i >> 8)
		}
		keys = append(keys, k)
	}
	// Tags rarely collide, so check the key comparison on its own.
	for i := range 300 {
		for j := range 300 {
			if got, want := keys[i].equal(&keys[j]), keys[i] == keys[j]; got != want {
				t.Fatalf("key %d equal key %d = %v, want %v", i, j, got, want)
			}
		}
	}
	var sl slab
	ix := newIndex(1, 42)
	model := map[Key]int{}
	slotOf := make([]int, len(keys))
	check := func() {
		t.Helper()
		for i := range keys {
			k := keys[i]
			got, _ := ix.find(&k, &sl)
			want, ok := model[k]
			if !ok {
				want = -1
			}
			if got != want {
				t.Fatalf("find(key %d) = %d, want %d", i, got, want)
			}
		}
	}
	for round := range 3 {
		for _, i := range rng.Perm(len(keys)) {
			k := keys[i]
			if _, ok := model[k]; ok {
				continue
			}
			slot, h := ix.find(&k, &sl)
			if slot >= 0 {
				t.Fatalf("round %d: key %d found at %d before insert", round, i, slot)
			}
			slot = sl.grow()
			sl.at(slot).key = k
			ix.insert(h, slot, &sl)
			model[k], slotOf[i] = slot, slot
		}
		check()
		for _, i := range rng.Perm(len(keys))[:len(keys)/2] {
			k := keys[i]
			if _, ok := model[k]; !ok {
				continue
			}
			ix.remove(&k, slotOf[i])
			delete(model, k)
		}
		check()
		if ix.n != len(model) {
			t.Fatalf("index holds %d entries, want %d", ix.n, len(model))
		}
	}
}

// TestPacketKeyAsBytes checks the word-wise packet key against the key
// built from the addresses' 16-byte forms and the byte order of less.
func TestPacketKeyAsBytes(t *testing.T) {
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("192.168.1.1"),
		netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::2"),
	}
	for _, src := range addrs {
		for _, dst := range addrs {
			for _, ports := range [][2]uint16{{1000, 80}, {80, 1000}, {53, 53}} {
				p := decode.Packet{Net: decode.NetIPv4, Proto: protoUDP, Src: src, Dst: dst, SrcPort: ports[0], DstPort: ports[1], VLAN: 7}
				if src.Is6() || dst.Is6() {
					p.Net = decode.NetIPv6
				}
				k, fromB, _ := packetKey(&p)
				s, d := src.As16(), dst.As16()
				want := Key{A: s, B: d, PortA: ports[0], PortB: ports[1], VLAN: 7, Proto: protoUDP, IPv6: p.Net == decode.NetIPv6}
				wantB := !less(s, d, ports[0], ports[1])
				if wantB {
					want.A, want.B, want.PortA, want.PortB = d, s, ports[1], ports[0]
				}
				if k != want || fromB != wantB {
					t.Errorf("%v:%d → %v:%d: key %+v fromB %v, want %+v %v", src, ports[0], dst, ports[1], k, fromB, want, wantB)
				}
				if !k.equal(&want) {
					t.Errorf("equal(%+v, itself) is false", k)
				}
			}
		}
	}
}
