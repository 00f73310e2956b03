package sensor

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Source is where packets come from: a live capture ring or a set of capture
// files. Everything after it (decode, flows, parsers) is shared by both.
//
// ZeroCopyReadPacketData returns the next packet. The returned data is owned
// by the Source and valid only until the next call; callers that keep bytes
// copy them. It returns io.EOF when no packet will ever come again. A
// *FileError means one input could not be read further: the Source has
// dropped that input and the next call continues with the others.
//
// A live Source that has nothing to deliver returns, about once a second,
// an idle tick: no data, CaptureInfo.Length 0 and the current time in
// CaptureInfo.Timestamp. The pipeline advances packet time with it, so the
// flows of a quiet link still expire. File sources never tick.
//
// A Source is not safe for concurrent use, except that Close may be called
// from another goroutine to unblock a reader.
type Source interface {
	gopacket.ZeroCopyPacketDataSource
	// LinkType is the link type of packets whose CaptureInfo.InterfaceIndex
	// is ifIndex. Unknown indices report layers.LinkTypeNull.
	LinkType(ifIndex int) layers.LinkType
	// Interface names the capture interface ifIndex (a device name live,
	// the file name in replay).
	Interface(ifIndex int) string
	// Stats reports what the Source has read and lost so far.
	Stats() Stats
	Close() error
}

// Stats counts what a Source delivered and what it could not.
type Stats struct {
	Packets uint64 // packets returned to the caller
	Bytes   uint64 // their captured bytes
	// KernelDrops counts packets the kernel dropped before we saw them (live
	// capture only); KernelFreezes counts TPACKET_V3 queue freezes.
	KernelDrops   uint64
	KernelFreezes uint64
	Files         int // inputs opened
	FilesFailed   int // inputs that could not be read at all or stopped early
}

// ErrNotSupported is returned by sources and options that this platform or
// kernel does not provide.
var ErrNotSupported = errors.New("not supported")

// FileError describes an input file that could not be read, or could not be
// read past one packet. Packet is the 1-based index of the packet record at
// fault, or 0 when the file header itself was unreadable.
type FileError struct {
	File   string
	Packet int
	Err    error
}

func (e *FileError) Error() string {
	if e.Packet == 0 {
		return e.File + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s: packet %d: %s", e.File, e.Packet, e.Err.Error())
}

func (e *FileError) Unwrap() error { return e.Err }
