package pcaptest

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var testdata = filepath.Join("..", "..", "testdata", "pcaps")

func TestReadAll(t *testing.T) {
	for _, tc := range []struct {
		file   string
		frames int
	}{
		{"communityid/combined.pcap.gz", 68},
		{"beacon/zeek_merlinc2.pcapng", 100},
		{"communityid/arp.pcap", 6},
	} {
		t.Run(tc.file, func(t *testing.T) {
			frames, infos, link, err := ReadAll(filepath.Join(testdata, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != tc.frames || len(infos) != tc.frames || link != layers.LinkTypeEthernet {
				t.Fatalf("read %d frames, %d infos, link %v; want %d Ethernet", len(frames), len(infos), link, tc.frames)
			}
			for i, f := range frames {
				if len(f) != infos[i].CaptureLength {
					t.Fatalf("frame %d: %d bytes, capture length %d", i, len(f), infos[i].CaptureLength)
				}
			}
		})
	}
	if _, _, _, err := ReadAll(filepath.Join(t.TempDir(), "missing.pcap")); err == nil {
		t.Error("ReadAll of a missing file succeeded")
	}
}

func TestWritePcapRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.pcap")
	frames := [][]byte{{1, 2, 3}, bytes.Repeat([]byte{9}, 100)}
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	infos := []gopacket.CaptureInfo{{Timestamp: ts, CaptureLength: 2, Length: 10}} // 8 bytes cut by the snap length
	if err := WritePcap(path, layers.LinkTypeRaw, frames, infos); err != nil {
		t.Fatal(err)
	}
	got, gotInfos, link, err := ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	if link != layers.LinkTypeRaw || len(got) != 2 || !bytes.Equal(got[0], frames[0]) || !bytes.Equal(got[1], frames[1]) {
		t.Fatalf("read back link %v frames %v", link, got)
	}
	if !gotInfos[0].Timestamp.Equal(ts) || gotInfos[0].CaptureLength != 3 || gotInfos[0].Length != 11 {
		t.Errorf("first record %+v, want nanosecond time %v, lengths 3/11", gotInfos[0], ts)
	}
	if gotInfos[1].CaptureLength != 100 || gotInfos[1].Length != 100 {
		t.Errorf("second record %+v", gotInfos[1])
	}
}

// frame is an Ethernet/IPv4/UDP frame built by gopacket.
func frame(t *testing.T) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 1000, DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, udp, gopacket.Payload("payload"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// TestReframe decodes every form with gopacket itself, an implementation
// independent of the decoder these helpers serve.
func TestReframe(t *testing.T) {
	f := frame(t)
	udpOf := func(t *testing.T, p gopacket.Packet) {
		t.Helper()
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || u.DstPort != 53 || string(u.Payload) != "payload" {
			t.Errorf("no UDP to port 53 in %v", p)
		}
	}
	t.Run("sll", func(t *testing.T) {
		p := gopacket.NewPacket(ToSLL(f), layers.LayerTypeLinuxSLL, gopacket.Default)
		sll, ok := p.Layer(layers.LayerTypeLinuxSLL).(*layers.LinuxSLL)
		if !ok || !bytes.Equal(sll.Addr, f[6:12]) || sll.EthernetType != layers.EthernetTypeIPv4 {
			t.Fatalf("SLL header %+v", sll)
		}
		udpOf(t, p)
	})
	t.Run("sll2", func(t *testing.T) {
		p := gopacket.NewPacket(ToSLL2(f, 7), layers.LayerTypeLinuxSLL2, gopacket.Default)
		sll, ok := p.Layer(layers.LayerTypeLinuxSLL2).(*layers.LinuxSLL2)
		if !ok || !bytes.Equal(sll.Addr, f[6:12]) || sll.InterfaceIndex != 7 || sll.ProtocolType != layers.EthernetTypeIPv4 {
			t.Fatalf("SLL2 header %+v", sll)
		}
		udpOf(t, p)
	})
	t.Run("raw", func(t *testing.T) {
		udpOf(t, gopacket.NewPacket(ToRaw(AddQinQ(f, 1, 2)), layers.LayerTypeIPv4, gopacket.Default))
		if ToRaw(f[:13]) != nil {
			t.Error("ToRaw of a short frame is not nil")
		}
	})
	t.Run("vlan", func(t *testing.T) {
		p := gopacket.NewPacket(AddVLAN(f, 4094), layers.LayerTypeEthernet, gopacket.Default)
		if q, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); !ok || q.VLANIdentifier != 4094 {
			t.Fatalf("tag %+v", q)
		}
		udpOf(t, p)
	})
	t.Run("qinq", func(t *testing.T) {
		q := AddQinQ(f, 10, 20)
		if q[12] != 0x88 || q[13] != 0xa8 || q[16] != 0x81 || q[17] != 0x00 {
			t.Fatalf("TPIDs % x", q[12:18])
		}
		p := gopacket.NewPacket(q, layers.LayerTypeEthernet, gopacket.Default)
		var ids []uint16
		for _, l := range p.Layers() {
			if d, ok := l.(*layers.Dot1Q); ok {
				ids = append(ids, d.VLANIdentifier)
			}
		}
		if len(ids) != 2 || ids[0] != 10 || ids[1] != 20 {
			t.Fatalf("tags %v", ids)
		}
		udpOf(t, p)
	})
	t.Run("erspan2", func(t *testing.T) {
		p := gopacket.NewPacket(ToERSPAN2(f, 300), layers.LayerTypeEthernet, gopacket.Default)
		e, ok := p.Layer(layers.LayerTypeERSPANII).(*layers.ERSPANII)
		if !ok || e.SessionID != 300 {
			t.Fatalf("ERSPAN II layer %+v in %v", e, p)
		}
		udpOf(t, p)
	})
	t.Run("erspan3", func(t *testing.T) {
		for _, sub := range []bool{false, true} {
			m := ToERSPAN3(f, 301, sub)
			p := gopacket.NewPacket(m, layers.LayerTypeEthernet, gopacket.Default)
			g, ok := p.Layer(layers.LayerTypeGRE).(*layers.GRE)
			if !ok || g.Protocol != 0x22eb {
				t.Fatalf("GRE %+v", g)
			}
			hl := 12
			if sub {
				hl = 20
			}
			if !bytes.Equal(g.Payload[:hl], ERSPAN3Header(301, 0, sub)) || !bytes.Equal(g.Payload[hl:], f) {
				t.Fatalf("GRE payload % x", g.Payload)
			}
		}
	})
	if ToERSPAN2(make([]byte, 70000), 1) != nil {
		t.Error("ToERSPAN2 of an oversized frame is not nil")
	}
}
