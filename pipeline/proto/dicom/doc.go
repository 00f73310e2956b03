// Package dicom parses the DICOM upper layer protocol (PS3.8 §9, DIMSE
// command sets of PS3.7 §E) on TCP and writes one record per association,
// plus one per DIMSE response with a failure status.
//
// # What is parsed
//
//   - A-ASSOCIATE-RQ and -AC (PS3.8 §9.3.2-9.3.3): called and calling AE
//     titles (trimmed), application context, presentation contexts with
//     their abstract syntax (named as a SOP class from a table of the
//     common ones), proposed transfer syntaxes and the acceptor's per
//     context result and transfer syntax, and from the user information
//     item the maximum PDU length, implementation class UID and version
//     name, and the user identity type (with the user name of types 1 and
//     2; never the passcode or a token).
//   - A-ASSOCIATE-RJ result, source and reason; A-RELEASE-RQ/RP; A-ABORT
//     source and reason; all named as in PS3.8 Tables 9-21 and 9-26.
//   - P-DATA-TF: each PDV's header. Command PDVs (flag bit 0) are
//     reassembled across fragments and decoded: command field (C-ECHO,
//     C-STORE, C-FIND, C-MOVE, C-GET, C-CANCEL, N-*), message ID and
//     message ID being responded to (requests and final responses are
//     paired; pending responses keep the request open), affected or
//     requested SOP class, move destination, status (named and classed
//     success, pending, cancel, warning, failure) and sub-operation
//     counts.
//   - Data set PDVs are never buffered or decoded: their bytes are counted
//     per DIMSE service (store_bytes for C-STORE). Patient data never
//     leaves the sensor: no data set element, no Error Comment (free text),
//     no SOP Instance UID is read.
//
// # Streaming and limits
//
// Each direction is a state machine over PDU headers, PDV headers and PDV
// bodies, fed the whole flow (StreamLimit 0). Only A-ASSOCIATE PDUs
// (Config.MaxAssociatePDU) and command sets (Config.MaxCommandBytes) are
// buffered; the pending-request table, context list, SOP class list and
// failure records are bounded by Config as well. A limit reached is an
// anomaly in the record, never silent. A gap inside a data PDV is skipped
// and its bytes still counted; a gap inside a PDU skips the rest of that
// PDU; a longer one loses sync, and the direction scans for the next PDU
// header that is plausible for this association (a P-DATA-TF on an accepted
// presentation context, an exact A-RELEASE or A-ABORT).
//
// A PDU that breaks the framing (unknown type, impossible PDU or PDV length)
// returns an error wrapping proto.ErrMalformed; the association record is
// still written, with the anomaly "malformed pdu".
//
// # Concurrency
//
// A Parser is read-only and shared by every worker; a Session belongs to
// one flow and one worker.
package dicom
