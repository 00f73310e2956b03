package dns

// Anomalies noted in mamori.dns.anomalies: fixed strings, never packet
// contents.
const (
	// AnomalyTruncated: a section ended before its declared record count
	// (snap length, a lying count, or a cut TCP stream).
	AnomalyTruncated = "truncated"
	// AnomalyBadName: a name with a compression loop, a forward pointer, an
	// extended label type or more than 255 bytes.
	AnomalyBadName = "bad_name"
	// AnomalyBadRData: an answer's data does not fit its type.
	AnomalyBadRData = "bad_rdata"
	// AnomalyTrailing: bytes after the last record of a datagram.
	AnomalyTrailing = "trailing_bytes"
	// AnomalyPendingOverflow: the query was written unanswered early
	// because Config.MaxPending queries were waiting.
	AnomalyPendingOverflow = "pending_overflow"
	// AnomalyMessageTooLarge: a TCP message longer than Config.MaxMessage
	// was skipped before this one.
	AnomalyMessageTooLarge = "message_too_large"
	// AnomalyGap: bytes of the TCP stream were lost before this message.
	AnomalyGap = "gap"
)

// Malformed reasons (proto.Malformed counter labels). Only DNS over TCP
// detaches a session, when its framing is not DNS; a bad UDP datagram is
// written as a record with anomalies instead, so that one odd datagram
// cannot switch DNS logging off for the rest of a flow.
const (
	reasonTCPLength = "tcp length below header"
)
