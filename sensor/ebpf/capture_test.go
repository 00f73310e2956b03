//go:build linux

package ebpf

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
)

// refPacket is what an independent decoder (gopacket's own layers) says
// the program should do with a frame.
type refPacket struct {
	counted bool
	key     Key
	fromB   bool
	flags   uint8
}

// reference decodes a frame with gopacket and applies the program's rules:
// TCP and UDP directly over the outermost IPv4/IPv6 (after up to four
// hop-by-hop, routing or destination-options headers), not fragments.
func reference(frame []byte) refPacket {
	pkt := gopacket.NewPacket(frame, layers.LinkTypeEthernet, gopacket.NoCopy)
	var vlans []uint16
	ls := pkt.Layers()
	i := 0
	for ; i < len(ls); i++ {
		switch l := ls[i].(type) {
		case *layers.Ethernet:
			continue
		case *layers.Dot1Q:
			vlans = append(vlans, l.VLANIdentifier)
			continue
		}
		break
	}
	if i >= len(ls) || len(vlans) > 3 {
		return refPacket{}
	}
	var src, dst netip.Addr
	switch l := ls[i].(type) {
	case *layers.IPv4:
		if l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0 {
			return refPacket{}
		}
		src, _ = netip.AddrFromSlice(l.SrcIP)
		dst, _ = netip.AddrFromSlice(l.DstIP)
		i++
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(l.SrcIP)
		dst, _ = netip.AddrFromSlice(l.DstIP)
		i++
		for ext := 0; i < len(ls) && ext < 4; ext++ {
			switch ls[i].(type) {
			case *layers.IPv6HopByHop, *layers.IPv6Routing, *layers.IPv6Destination:
				i++
				continue
			}
			break
		}
	default:
		return refPacket{}
	}
	if i >= len(ls) {
		return refPacket{}
	}
	var vlan, inner uint16
	if len(vlans) > 0 {
		vlan = vlans[0]
	}
	if len(vlans) > 1 {
		inner = vlans[1]
	}
	switch l := ls[i].(type) {
	case *layers.TCP:
		k, fromB := NewKey(6, netip.AddrPortFrom(src, uint16(l.SrcPort)), netip.AddrPortFrom(dst, uint16(l.DstPort)), vlan, inner)
		f := l.Contents[13]
		return refPacket{true, k, fromB, f}
	case *layers.UDP:
		k, fromB := NewKey(17, netip.AddrPortFrom(src, uint16(l.SrcPort)), netip.AddrPortFrom(dst, uint16(l.DstPort)), vlan, inner)
		return refPacket{true, k, fromB, 0}
	}
	return refPacket{}
}

// TestRealCaptures runs every packet of real captures through the program
// (plain, 802.1Q-tagged and QinQ-tagged) and compares, packet by packet,
// what it keeps, and at the end every flow's counters, with a simulation
// driven by gopacket's decoding.
func TestRealCaptures(t *testing.T) {
	cfg := Config{Cutoff: 4000, Ports: map[uint16]Limit{53: 0, 3389: 20000}}
	for _, rel := range []string{
		"recorded/benign_smb_rdp.pcap",
		"communityid/combined.pcap.gz",
		"dns/zeek_ipv6-fragmented-dns.pcap",
		"smb/sv_20171220_smb_net_user.pcap",
		"tls/zeek_tls1.2.pcap",
	} {
		frames, _, link, err := pcaptest.ReadAll(testenv.Pcap(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		if link != layers.LinkTypeEthernet {
			t.Fatalf("%s: link type %s", rel, link)
		}
		for _, variant := range []string{"plain", "vlan", "qinq"} {
			t.Run(rel+"/"+variant, func(t *testing.T) {
				p := load(t, cfg)
				type flow struct {
					c    Counters
					seen uint64
				}
				want := map[Key]*flow{}
				var counted, cut int
				for n, fr := range frames {
					switch variant {
					case "vlan":
						fr = pcaptest.AddVLAN(fr, 7)
					case "qinq":
						fr = pcaptest.AddQinQ(fr, 7, 300)
					}
					if len(fr) > 3000 {
						continue // BPF_PROG_TEST_RUN takes about a page
					}
					ref := reference(fr)
					keep := true
					if ref.counted {
						counted++
						f := want[ref.key]
						if f == nil {
							f = &flow{}
							f.c.Limit = p.Limit(ref.key)
							want[ref.key] = f
						}
						d := 0
						if ref.fromB {
							d = 1
						}
						n := uint64(len(fr))
						f.c.Packets[d]++
						f.c.Bytes[d] += n
						f.c.TCPFlags[d] |= ref.flags
						if f.seen >= f.c.Limit && !(ref.key.Proto == 6 && ref.flags&0x07 != 0) {
							keep = false
							cut++
							f.c.CutPackets[d]++
							f.c.CutBytes[d] += n
						}
						f.seen += n
					}
					if got := run(t, p, fr) != 0; got != keep {
						t.Fatalf("packet %d: kept=%v, want %v (reference %+v)", n+1, got, keep, ref)
					}
				}
				if counted == 0 || cut == 0 && variant == "plain" && rel == "recorded/benign_smb_rdp.pcap" {
					t.Fatalf("test covers too little: %d counted, %d cut", counted, cut)
				}
				got := map[Key]Counters{}
				if err := p.Flows(func(k Key, c Counters) bool { got[k] = c; return true }); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Errorf("kernel has %d flows, reference %d", len(got), len(want))
				}
				for k, f := range want {
					if g, ok := got[k]; !ok || g != f.c {
						t.Errorf("flow %s:%d-%s:%d/%d vlan %d/%d\n got %+v\nwant %+v", netip.AddrFrom16(k.A).Unmap(), k.PortA,
							netip.AddrFrom16(k.B).Unmap(), k.PortB, k.Proto, k.VLAN, k.InnerVLAN, g, f.c)
					}
				}
				t.Logf("%d frames, %d counted, %d cut, %d flows", len(frames), counted, cut, len(want))
			})
		}
	}
}
