// Package sensor owns the Source seam: the one place packets enter mamori.
//
// A Source is either a live capture (a kernel ring) or a replay of capture
// files (OpenFiles). Both hand out the same thing, raw frames with a
// gopacket.CaptureInfo whose InterfaceIndex names the capture interface, and
// answer LinkType and Interface for those indices, so everything after the
// Source (decode, flows, protocol parsers, rules) runs unchanged on either.
//
// # Buffer ownership
//
// ZeroCopyReadPacketData returns data owned by the Source. It is valid only
// until the next call on the same Source; a caller that keeps bytes past that
// copies them. In steady state the read path allocates nothing per packet.
//
// # Errors
//
// io.EOF means no packet will ever come again. A *FileError means one input
// could not be read (Packet == 0) or could not be read past one packet record
// (Packet == n, 1-based within that file); the Source has dropped that input
// and the next call continues with the others, so a caller prints the error
// and keeps reading. Truncation is recognisable with
// errors.Is(err, io.ErrUnexpectedEOF). ErrNotSupported marks features this
// platform or kernel lacks.
//
// # File replay
//
// OpenFiles reads classic pcap (microsecond or nanosecond, either byte order)
// and pcapng, each optionally gzip-compressed (recognised by its magic, not
// its name). Several files are merged into one stream in timestamp order;
// packets of one file always keep their file order. See OpenFiles for how
// interface indices, names and errors are assigned.
//
// # Concurrency
//
// A Source is not safe for concurrent use: one goroutine reads it. The
// exception is Close, which may be called from another goroutine to stop a
// reader; after Close, reads return io.EOF. FileSource.Progress is also safe
// to call from any goroutine.
package sensor
