package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ERSPAN type III (draft-foschiano-erspan-03, section 4.3) rides in GRE
// with protocol type 0x22EB. gopacket v1.7.7 knows only type II, so this
// file adds a layer of our own. Its header is 12 bytes, followed by an
// 8-byte platform-specific subheader when the O bit is set:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Timestamp                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Platf ID |        Platform Specific Info (58 bits)           |
//	+-+-+-+-+-+-+                                                   +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Ver is 2. FT (frame type) 0 is an Ethernet frame, 2 an IP packet.

const (
	// layerNumERSPANIII is the layer type number registered with gopacket,
	// in the range gopacket leaves to applications (2000 and up). It is
	// the GRE protocol type, which makes it easy to recognise.
	layerNumERSPANIII = 0x22EB

	erspan3Version      = 2
	erspan3HeaderLen    = 12
	erspan3SubheaderLen = 8

	// ERSPANFrameEthernet is the ERSPANIII frame type of a mirrored
	// Ethernet frame.
	ERSPANFrameEthernet = 0
	// ERSPANFrameIP is the ERSPANIII frame type of a mirrored IP packet.
	ERSPANFrameIP = 2
)

// LayerTypeERSPANIII is the gopacket layer type of ERSPANIII. Registering
// it is the one side effect of loading this package; gopacket's own tables
// (EthernetTypeMetadata and friends) are left alone, so gopacket.NewPacket
// does not reach this layer from GRE by itself.
var LayerTypeERSPANIII = gopacket.RegisterLayerType(layerNumERSPANIII, gopacket.LayerTypeMetadata{
	Name:    "ERSPANIII",
	Decoder: gopacket.DecodeFunc(decodeERSPANIII),
})

// ERSPANIII is an ERSPAN type III header, a gopacket DecodingLayer.
type ERSPANIII struct {
	layers.BaseLayer
	Version        uint8
	VLANIdentifier uint16
	CoS            uint8
	BSO            uint8 // bad/short/oversized frame indication
	Truncated      bool  // the mirrored frame was cut to fit the MTU
	SessionID      uint16
	Timestamp      uint32
	SGT            uint16 // security group tag
	PDU            bool   // P: the payload is an Ethernet PDU
	FrameType      uint8  // ERSPANFrameEthernet or ERSPANFrameIP
	HardwareID     uint8
	Egress         bool  // D: mirrored on egress rather than ingress
	Granularity    uint8 // timestamp granularity
	HasSubheader   bool  // O: the platform-specific subheader is present
	PlatformID     uint8
	PlatformInfo   uint64 // the subheader's low 58 bits
}

// LayerType returns LayerTypeERSPANIII.
func (e *ERSPANIII) LayerType() gopacket.LayerType { return LayerTypeERSPANIII }

// CanDecode returns LayerTypeERSPANIII.
func (e *ERSPANIII) CanDecode() gopacket.LayerClass { return LayerTypeERSPANIII }

// NextLayerType returns Ethernet or IPv4/IPv6 (by the version nibble) as
// the frame type says, and gopacket.LayerTypePayload for other types.
func (e *ERSPANIII) NextLayerType() gopacket.LayerType {
	switch e.FrameType {
	case ERSPANFrameEthernet:
		return layers.LayerTypeEthernet
	case ERSPANFrameIP:
		if len(e.Payload) > 0 {
			switch e.Payload[0] >> 4 {
			case 4:
				return layers.LayerTypeIPv4
			case 6:
				return layers.LayerTypeIPv6
			}
		}
	}
	return gopacket.LayerTypePayload
}

// DecodeFromBytes decodes the header at the start of data. It returns
// ErrTruncated when data is shorter than the header (subheader included)
// and ErrMalformed when the version is not 2. Contents and Payload alias
// data.
func (e *ERSPANIII) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < erspan3HeaderLen {
		df.SetTruncated()
		return ErrTruncated
	}
	w0 := binary.BigEndian.Uint32(data[0:4])
	w2 := binary.BigEndian.Uint32(data[8:12])
	version := uint8(w0 >> 28)
	if version != erspan3Version {
		return ErrMalformed
	}
	hl := erspan3HeaderLen
	hasSub := w2&0x1 != 0
	if hasSub {
		hl += erspan3SubheaderLen
		if len(data) < hl {
			df.SetTruncated()
			return ErrTruncated
		}
	}
	*e = ERSPANIII{
		BaseLayer:      layers.BaseLayer{Contents: data[:hl], Payload: data[hl:]},
		Version:        version,
		VLANIdentifier: uint16(w0>>16) & 0x0fff,
		CoS:            uint8(w0>>13) & 0x7,
		BSO:            uint8(w0>>11) & 0x3,
		Truncated:      w0&0x0400 != 0,
		SessionID:      uint16(w0) & 0x03ff,
		Timestamp:      binary.BigEndian.Uint32(data[4:8]),
		SGT:            uint16(w2 >> 16),
		PDU:            w2&0x8000 != 0,
		FrameType:      uint8(w2>>10) & 0x1f,
		HardwareID:     uint8(w2>>4) & 0x3f,
		Egress:         w2&0x0008 != 0,
		Granularity:    uint8(w2>>1) & 0x3,
		HasSubheader:   hasSub,
	}
	if hasSub {
		sub := binary.BigEndian.Uint64(data[12:20])
		e.PlatformID = uint8(sub >> 58)
		e.PlatformInfo = sub & (1<<58 - 1)
	}
	return nil
}

// decodeERSPANIII lets gopacket.NewPacket decode the layer when a caller
// hands it LayerTypeERSPANIII.
func decodeERSPANIII(data []byte, p gopacket.PacketBuilder) error {
	e := &ERSPANIII{}
	if err := e.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(e)
	return p.NextDecoder(e.NextLayerType())
}
