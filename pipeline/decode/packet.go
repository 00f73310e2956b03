package decode

import (
	"errors"
	"net/netip"

	"github.com/gopacket/gopacket/layers"
)

// Net says what the network layer of a frame is.
type Net uint8

const (
	NetNone  Net = iota // nothing past the link layer was recognised
	NetARP              // ARP: Src/Dst are the sender and target protocol addresses
	NetIPv4             // IPv4
	NetIPv6             // IPv6
	NetOther            // another EtherType (LLDP, STP, …): counted, not decoded
)

// Encap is a bit set of the encapsulations removed to reach the inner frame.
type Encap uint8

const (
	EncapGRE     Encap = 1 << iota // GRE (the inner frame is what counts)
	EncapERSPAN2                   // ERSPAN type II (GRE protocol 0x88BE)
	EncapERSPAN3                   // ERSPAN type III (GRE protocol 0x22EB)
)

// TCP flag bits as they appear in Packet.TCPFlags (the low byte of the TCP
// header's flags field).
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Packet is the decoded view of one frame, filled in place by
// Decoder.Decode. The Decoder owns no part of it; Payload points into the
// frame passed to Decode and is valid only as long as that frame is.
// Decode resets every field, so one Packet can be reused for every frame.
type Packet struct {
	// Link layer (the innermost Ethernet header when encapsulated).
	HasMAC    bool
	SrcMAC    [6]byte
	DstMAC    [6]byte
	VLAN      uint16 // outer 802.1Q/802.1ad VLAN ID; 0 when untagged
	InnerVLAN uint16 // inner (QinQ) VLAN ID; 0 when single-tagged or untagged
	EtherType uint16 // EtherType of the network layer (0 for raw IP links)

	// Encapsulation removed on the way in (mirror sessions arriving as ERSPAN).
	Encap         Encap
	ERSPANSession uint16 // ERSPAN session ID, when Encap has ERSPAN2 or ERSPAN3

	// Network layer. For NetARP, Src and Dst are the sender and target
	// protocol addresses and SrcMAC/DstMAC the hardware addresses in the ARP
	// body.
	Net   Net
	Src   netip.Addr
	Dst   netip.Addr
	Proto uint8 // IP protocol number of the transport header (after IPv6 extension headers)
	TTL   uint8 // IPv4 TTL or IPv6 hop limit
	IPLen int   // total IP length as declared by the header (IPv4 total length, IPv6 40+payload length)

	// Fragmentation. Fragment is true for any fragment (IPv4 MF or offset,
	// IPv6 Fragment header). For a fragment with FragOffset > 0 there is no
	// transport header: ports and flags are zero and only the fragment
	// fields identify the datagram.
	Fragment   bool
	FragID     uint32 // IPv4 identification or IPv6 fragment identification
	FragOffset uint16 // offset in bytes
	FragMore   bool   // more fragments follow

	// Transport layer.
	SrcPort  uint16
	DstPort  uint16
	TCPFlags uint8 // FlagFIN … FlagCWR
	Seq      uint32
	Ack      uint32
	Window   uint16
	ICMPType uint8 // ICMPv4 or ICMPv6 type
	ICMPCode uint8

	// Payload is the transport payload as captured (Ethernet padding
	// removed; may be shorter than PayloadLen when the snap length cut it).
	// For non-first fragments it is the fragment's data.
	Payload    []byte
	PayloadLen int // payload length as declared by the IP (and UDP) headers
}

// Decode errors. They are sentinels so that returning one never allocates;
// the Decoder counts them by reason.
var (
	// ErrTruncated: a header is cut short (by the snap length or a broken
	// packet) before the layer the frame announces.
	ErrTruncated = errors.New("truncated header")
	// ErrMalformed: a header is present but impossible (bad IHL, bad
	// version, length fields that contradict each other).
	ErrMalformed = errors.New("malformed header")
	// ErrUnsupportedLink: the capture's link type is not one we decode.
	ErrUnsupportedLink = errors.New("unsupported link type")
)

// SupportedLinkTypes lists the link types Decode understands.
var SupportedLinkTypes = []layers.LinkType{
	layers.LinkTypeEthernet,
	layers.LinkTypeLinuxSLL,
	layers.LinkTypeLinuxSLL2,
	layers.LinkTypeRaw,  // DLT_RAW as written by libpcap (101 on disk)
	layers.LinkTypeIPv4, // 228
	layers.LinkTypeIPv6, // 229
	layers.LinkType(12), // DLT_RAW on some BSDs / OpenBSD captures
	layers.LinkType(14), // DLT_RAW alias
}
