package pcaptest

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// maxMirrored is the largest frame the ERSPAN builders can carry: the
// outer IPv4 length must fit in 16 bits with IPv4 (20), GRE (8) and the
// longest ERSPAN header (20) in front.
const maxMirrored = 65535 - 20 - 8 - 20

// etherPayload walks an Ethernet header and its VLAN tags and returns the
// EtherType (or 802.3 length) and what follows it.
func etherPayload(frame []byte) (etherType uint16, body []byte, ok bool) {
	if len(frame) < 14 {
		return 0, nil, false
	}
	off := 12
	for {
		if len(frame) < off+2 {
			return 0, nil, false
		}
		etherType = binary.BigEndian.Uint16(frame[off:])
		switch etherType {
		case 0x8100, 0x88a8, 0x9100:
			off += 4
			continue
		}
		return etherType, frame[off+2:], true
	}
}

// packetType is the Linux PACKET_* type of a frame seen on a mirror port.
func packetType(dst []byte) uint8 {
	switch {
	case string(dst) == "\xff\xff\xff\xff\xff\xff":
		return 1 // PACKET_BROADCAST
	case dst[0]&1 != 0:
		return 2 // PACKET_MULTICAST
	}
	return 3 // PACKET_OTHERHOST
}

// cookedBody returns the SLL protocol field and payload for an Ethernet
// frame: the EtherType and everything after it (VLAN tags stay in line,
// as libpcap puts them back), or 4 (802.2 LLC) and the LLC frame for an
// 802.3 length.
func cookedBody(frame []byte) (proto uint16, body []byte) {
	proto = binary.BigEndian.Uint16(frame[12:14])
	body = frame[14:]
	if proto < 0x0600 {
		body = body[:min(int(proto), len(body))]
		proto = 4
	}
	return proto, body
}

// ToSLL re-frames an Ethernet frame as a Linux cooked capture (v1,
// LINKTYPE_LINUX_SLL) record. It returns nil for a frame shorter than an
// Ethernet header.
func ToSLL(frame []byte) []byte {
	if len(frame) < 14 {
		return nil
	}
	proto, body := cookedBody(frame)
	out := make([]byte, 16+len(body))
	binary.BigEndian.PutUint16(out[0:], uint16(packetType(frame[0:6])))
	binary.BigEndian.PutUint16(out[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(out[4:], 6)
	copy(out[6:12], frame[6:12])
	binary.BigEndian.PutUint16(out[14:], proto)
	copy(out[16:], body)
	return out
}

// ToSLL2 re-frames an Ethernet frame as a Linux cooked capture v2
// (LINKTYPE_LINUX_SLL2) record received on interface ifindex. It returns
// nil for a frame shorter than an Ethernet header.
func ToSLL2(frame []byte, ifindex uint32) []byte {
	if len(frame) < 14 {
		return nil
	}
	proto, body := cookedBody(frame)
	out := make([]byte, 20+len(body))
	binary.BigEndian.PutUint16(out[0:], proto)
	binary.BigEndian.PutUint32(out[4:], ifindex)
	binary.BigEndian.PutUint16(out[8:], 1) // ARPHRD_ETHER
	out[10] = packetType(frame[0:6])
	out[11] = 6
	copy(out[12:18], frame[6:12])
	copy(out[20:], body)
	return out
}

// ToRaw strips the Ethernet header and VLAN tags of an IPv4 or IPv6
// frame, for LINKTYPE_RAW. Trailing Ethernet padding is kept. It returns
// nil when the frame does not carry IP.
func ToRaw(frame []byte) []byte {
	et, body, ok := etherPayload(frame)
	if !ok || (et != 0x0800 && et != 0x86dd) {
		return nil
	}
	return append([]byte(nil), body...)
}

func insertTags(frame []byte, tags ...[4]byte) []byte {
	if len(frame) < 14 {
		return nil
	}
	out := make([]byte, 0, len(frame)+4*len(tags))
	out = append(out, frame[:12]...)
	for _, t := range tags {
		out = append(out, t[:]...)
	}
	return append(out, frame[12:]...)
}

func tag(tpid, id uint16) [4]byte {
	return [4]byte{byte(tpid >> 8), byte(tpid), byte(id>>8) & 0x0f, byte(id)}
}

// AddVLAN adds an outer 802.1Q tag (TPID 0x8100) with VLAN ID id (12
// bits) to an Ethernet frame. It returns nil for a frame shorter than an
// Ethernet header.
func AddVLAN(frame []byte, id uint16) []byte {
	return insertTags(frame, tag(0x8100, id))
}

// AddQinQ adds an 802.1ad service tag (TPID 0x88a8) with ID outer and,
// inside it, an 802.1Q tag with ID inner. It returns nil for a frame
// shorter than an Ethernet header.
func AddQinQ(frame []byte, outer, inner uint16) []byte {
	return insertTags(frame, tag(0x88a8, outer), tag(0x8100, inner))
}

// mirror wraps header+frame in the outer Ethernet/IPv4/GRE headers.
func mirror(greProto layers.EthernetType, seq uint32, header, frame []byte) []byte {
	if len(frame) > maxMirrored {
		return nil
	}
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01},
		DstMAC:       net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version: 4, IHL: 5, TTL: 64, Id: uint16(seq), Flags: layers.IPv4DontFragment,
		Protocol: layers.IPProtocolGRE, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2},
	}
	gre := &layers.GRE{SeqPresent: true, Seq: seq, Protocol: greProto}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, gre, gopacket.Payload(header), gopacket.Payload(frame)); err != nil {
		return nil
	}
	return buf.Bytes()
}

// ToERSPAN2 mirrors an Ethernet frame in ERSPAN type II (GRE protocol
// 0x88BE) with the given 10-bit session ID, VLAN field 0. It returns nil
// for a frame too long for the outer IPv4 packet.
func ToERSPAN2(frame []byte, session uint16) []byte {
	buf := gopacket.NewSerializeBuffer()
	er := &layers.ERSPANII{Version: layers.ERSPANIIVersion, SessionID: session & 0x03ff, Index: 1}
	if err := er.SerializeTo(buf, gopacket.SerializeOptions{}); err != nil {
		return nil
	}
	return mirror(layers.EthernetTypeERSPAN, uint32(session), buf.Bytes(), frame)
}

// ERSPAN3Header builds an ERSPAN type III header (draft-foschiano-erspan-03
// section 4.3) for an Ethernet frame: version 2, the given VLAN field and
// 10-bit session ID, a fixed timestamp with 100 ns granularity and, with
// withSubheader, the O bit and an 8-byte platform-specific subheader of
// platform ID 3 (port index 7).
func ERSPAN3Header(session, vlan uint16, withSubheader bool) []byte {
	h := make([]byte, 12, 20)
	binary.BigEndian.PutUint32(h[0:], 2<<28|uint32(vlan&0x0fff)<<16|uint32(session&0x03ff))
	binary.BigEndian.PutUint32(h[4:], 0x5eed1234)     // timestamp
	w2 := uint32(0)<<10 | uint32(1)<<4 | uint32(1)<<1 // FT Ethernet, hardware ID 1, 100 ns
	if withSubheader {
		w2 |= 1
		var sub [8]byte
		binary.BigEndian.PutUint32(sub[0:], 3<<26|7) // platform ID 3, port index 7
		binary.BigEndian.PutUint32(sub[4:], 0x00000001)
		h = append(h, sub[:]...)
	}
	binary.BigEndian.PutUint32(h[8:], w2)
	return h
}

// ToERSPAN3 mirrors an Ethernet frame in ERSPAN type III (GRE protocol
// 0x22EB) with the given session ID, VLAN field 0, and the optional
// platform-specific subheader. It returns nil for a frame too long for
// the outer IPv4 packet.
func ToERSPAN3(frame []byte, session uint16, withSubheader bool) []byte {
	return mirror(0x22EB, uint32(session), ERSPAN3Header(session, 0, withSubheader), frame)
}

// WritePcap writes frames to a new pcap file at path with nanosecond
// timestamps. infos supplies the timestamps (and the original lengths)
// when it has an entry for a frame; otherwise frames are 1 µs apart from
// a fixed time. The lengths are recomputed from the frames, keeping the
// number of bytes the snap length had cut from the original.
func WritePcap(path string, link layers.LinkType, frames [][]byte, infos []gopacket.CaptureInfo) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating pcap: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing pcap: %w", cerr)
		}
	}()
	bw := bufio.NewWriter(f)
	w := pcapgo.NewWriterNanos(bw)
	snaplen := 262144
	for _, fr := range frames {
		snaplen = max(snaplen, len(fr))
	}
	if err := w.WriteFileHeader(uint32(snaplen), link); err != nil {
		return fmt.Errorf("writing pcap header: %w", err)
	}
	base := time.Unix(1700000000, 0).UTC()
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Microsecond)}
		if i < len(infos) {
			ci = infos[i]
		}
		cut := max(ci.Length-ci.CaptureLength, 0)
		ci.CaptureLength = len(fr)
		ci.Length = len(fr) + cut
		if err := w.WritePacket(ci, fr); err != nil {
			return fmt.Errorf("writing frame %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing pcap: %w", err)
	}
	return nil
}

// packetSource is what pcapgo's Reader and NgReader share.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ReadAll reads every frame of a pcap or pcapng file, gzip-compressed
// when path ends in ".gz". Each frame is a fresh slice. For pcapng the
// link type is that of the first interface.
func ReadAll(path string) (frames [][]byte, infos []gopacket.CaptureInfo, link layers.LinkType, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("opening capture: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reading gzip header of %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reading magic of %s: %w", path, err)
	}
	var src packetSource
	if binary.BigEndian.Uint32(magic) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reading pcapng header of %s: %w", path, err)
		}
		src, link = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reading pcap header of %s: %w", path, err)
		}
		src, link = pr, pr.LinkType()
	}
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames, infos, link, nil
		}
		if err != nil {
			return nil, nil, 0, fmt.Errorf("reading frame %d of %s: %w", len(frames), path, err)
		}
		frames = append(frames, data)
		infos = append(infos, ci)
	}
}
