// Package decode turns captured frames into Packets: the link, network
// and transport fields the rest of the pipeline works from.
//
// # What it owns
//
// Decoding from the first byte of a frame to the start of the transport
// payload, for the link types in SupportedLinkTypes: Ethernet with any
// number of 802.1Q/802.1ad tags, Linux cooked captures v1 and v2, and raw
// IPv4/IPv6. Above the link it decodes ARP, IPv4 (options skipped),
// IPv6 with its hop-by-hop, routing, destination-options and fragment
// headers, TCP, UDP, ICMPv4 and ICMPv6. It removes GRE carrying IPv4,
// IPv6 or Ethernet (transparent bridging), and the ERSPAN mirroring
// headers of types I, II and III, so that the Packet describes the
// mirrored frame. Anything else ends decoding without an error: an
// unknown EtherType gives Net == NetOther, an unknown IP protocol leaves
// the transport fields zero with Payload holding the IP payload.
//
// Reassembly, checksums and protocols above the transport are not this
// package's job.
//
// # How
//
// A Decoder holds one gopacket.DecodingLayerParser per first layer
// (Ethernet, SLL, SLL2, IPv4, IPv6), all sharing one set of preallocated
// layers, so Decode allocates nothing. Each gopacket layer is wrapped
// (layers.go) to check bounds before gopacket sees the bytes, to stop the
// walk at the layers this package reports, and to copy the fields into
// the Packet as the walk goes. ERSPAN type III, which gopacket lacks, is
// the ERSPANIII layer (erspan3.go); LayerTypeERSPANIII is registered with
// gopacket from a package-level variable initializer, which is this
// package's only global side effect. gopacket's own enum tables are not
// modified.
//
// One shape is decoded without the layer walk: untagged Ethernet → IPv4
// without options, unfragmented → TCP or UDP, every header whole and
// consistent (fast.go). It is most of a LAN's frames and the walk costs
// several times more than reading those four headers. Anything else, and
// every frame that would be an error, goes to the parsers. The fast path
// must fill the Packet exactly as the parsers do: FuzzDecode and
// TestFastPathAgrees compare the two on every input.
//
// # Concurrency
//
// A Decoder is owned by one goroutine (one pipeline worker) and is not
// safe for concurrent use; run one Decoder per worker. Its Counters are
// plain integers read by that owner.
//
// # Memory
//
// Decode never writes to the frame and never keeps it. Packet.Payload
// points into the frame passed to Decode and is valid as long as the
// caller keeps that frame (for a zero-copy source: until its next read).
// A Packet holds no reference to the Decoder.
//
// # Invariants
//
// When Decode returns nil:
//
//   - Net is never NetNone (NetOther when no network layer was
//     recognised);
//   - for NetIPv4, Src and Dst are IPv4 addresses; for NetIPv6 they are
//     IPv6 addresses, IPv4-mapped ones included (never unmapped);
//   - 0 <= len(Payload) <= PayloadLen; Payload is shorter only when the
//     snap length cut the frame, which is not an error when all headers
//     are whole; Ethernet padding is never part of it (unless the IP
//     length is 0, see below);
//   - a fragment with FragOffset > 0 has no ports, flags or ICMP fields,
//     and Payload is the fragment's data;
//   - ICMP packets have zero ports.
//
// Field choices worth knowing:
//
//   - VLAN is the outer tag's ID and InnerVLAN the second tag's. For a
//     frame that came out of ERSPAN, the tags are the mirrored frame's;
//     when the mirrored frame is untagged, VLAN is the ERSPAN header's
//     VLAN field (the switch strips the tag of the original frame and
//     reports it there, unless configured to keep it in the frame).
//   - For IP carried directly in GRE, the link fields stay those of the
//     outer Ethernet header (the innermost one there is) and EtherType is
//     the GRE protocol type. GRE is not removed from a fragment.
//   - An 802.3 frame (a length, not an EtherType, after the MACs: STP,
//     LLC/SNAP) is NetOther with EtherType 0, as is a Linux cooked frame
//     whose protocol field is not an EtherType.
//   - Linux cooked captures carry only the source link address: HasMAC is
//     false and SrcMAC is set when that address is a 6-byte Ethernet one.
//   - For ARP, SrcMAC/DstMAC are the sender/target hardware addresses of
//     the ARP body, not the Ethernet header's.
//   - IPv6 with a zero payload length (a jumbogram, or a capture taken
//     before segmentation offload) takes its length from the capture, as
//     gopacket does for an IPv4 total length of zero.
//   - PayloadLen is the IP length minus all headers; for UDP it is the UDP
//     length minus 8 (for a first fragment, the whole datagram's); ICMPv4
//     counts 8 header bytes, ICMPv6 4.
//
// On error, Decode returns ErrTruncated (a header is cut short), ErrMalformed
// (a header contradicts itself or its enclosing length: bad version, IHL,
// data offset, UDP length, an upper-layer header split across fragments)
// or ErrUnsupportedLink; *p then holds the fields of the headers decoded
// before the failing one, for accounting only.
package decode
