// Package dispatch runs the protocol parsers of one worker: it implements
// flow.Hook, picks a parser for each flow from its first payload bytes
// (ports are only a hint), reassembles TCP and feeds the chosen session.
//
// # TCP reassembly
//
// Each direction of a TCP flow is delivered in sequence order for its first
// N bytes (Config.MaxStreamBytes, 64 KiB by default; a parser implementing
// proto.Limiter asks for more or for the whole flow). Bytes past the limit
// are still counted by the flow table; the parser just does not see them.
//
//   - In-order segments are passed straight from the packet, without a copy.
//   - Retransmissions and overlaps are trimmed: the bytes delivered first
//     win (as in Zeek and Suricata's default policy), and the overlap is
//     counted, including when the retransmitted bytes differ.
//   - Segments ahead of the next expected byte are copied into a small,
//     sorted per-direction buffer, bounded per flow (MaxBufferedPerFlow) and
//     in total (MaxBuffered).
//   - A hole becomes a gap, reported to the session with Session.Gap, when
//     the peer has acknowledged bytes past it (the capture missed them),
//     when a buffer limit is reached, when the payload was cut by the snap
//     length, or when the flow ends with segments still waiting.
//
// A flow seen without its SYN starts at the first byte seen. A session that
// returns an error wrapping proto.ErrMalformed is ended and detached; the
// error is counted by parser and reason.
package dispatch
