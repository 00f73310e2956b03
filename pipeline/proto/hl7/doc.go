// Package hl7 parses HL7 version 2 messages framed by the Minimal Lower
// Layer Protocol (MLLP: 0x0b, message, 0x1c 0x0d; HL7 v2.5.1 Appendix C) on
// TCP, and writes one record per exchange: a message and the message that
// acknowledged it.
//
// # What is parsed
//
//   - MSH (HL7 v2.5.1 §2.14.9): the field separator (MSH-1) and encoding
//     characters (MSH-2), sending and receiving application and facility
//     (MSH-3 to -6), date/time (MSH-7), message type, trigger event and
//     structure (MSH-9), control ID (MSH-10), processing ID (MSH-11),
//     version (MSH-12), accept and application acknowledgment types
//     (MSH-15, -16) and character sets (MSH-18). MSH-8 (security) is
//     never read.
//   - MSA (§2.14.8): acknowledgment code (MSA-1: AA, AE, AR, CA, CE, CR)
//     and the control ID acknowledged (MSA-2), which pairs the answer with
//     its message: outcome and latency. MSA-3 (free text) is never read.
//   - ERR: the coded error (ERR-3.1, or ERR-1.4.1 before v2.5) and
//     severity (ERR-4) only.
//   - Every segment: counted, and its three-letter ID listed. PATIENT DATA
//     NEVER LEAVES THE SENSOR: segments other than MSH, MSA and ERR (PID,
//     OBX, NK1, Z-segments...) are skipped byte by byte and never
//     buffered.
//
// # Character sets
//
// Japanese feeds often declare MSH-18 "ISO IR87" (JIS X 0208 through
// ISO-2022-JP escape sequences) or send Shift_JIS. Nothing here assumes
// UTF-8: a field that is not clean UTF-8 is emitted with its control bytes
// (ESC included), invalid bytes and backslashes written as \xNN, so the
// original bytes can be recovered exactly. (Decoding ISO-2022-JP would
// need golang.org/x/text, which the module does not carry.)
//
// # Streaming and limits
//
// Each direction scans for start blocks, segment terminators (CR, or LF
// from sloppy senders) and end blocks across TCP segments, fed the whole
// flow (StreamLimit 0). The kept segments are bounded by
// Config.MaxSegmentBytes and the messages awaiting an answer by
// Config.MaxPending. A start block inside a message, a gap or a missing
// end block is an anomaly in the record; the next start block
// resynchronises. Only a flow that stops looking like MLLP (more than 1 KiB
// outside any frame) returns an error wrapping proto.ErrMalformed.
//
// MLLP carries one message at a time: when an answer arrives, messages
// from the same sender still waiting before the answered one are written
// as unanswered.
//
// # Concurrency
//
// A Parser is read-only and shared by every worker; a Session belongs to
// one flow and one worker.
package hl7
