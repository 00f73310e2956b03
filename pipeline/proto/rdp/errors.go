package rdp

// Anomalies noted in mamori.rdp.anomalies. They are fixed strings (a
// detection may count them) and never carry packet contents.
const (
	// AnomalyPDUTooLarge: a TPKT PDU longer than Config.MaxPDU was skipped.
	AnomalyPDUTooLarge = "pdu_too_large"
	// AnomalyCookieUnterminated: the X.224 Connection Request's cookie or
	// routing token has no CR LF terminator.
	AnomalyCookieUnterminated = "cookie_unterminated"
	// AnomalyBadNegotiation: an RDP_NEG_REQ/RSP/FAILURE structure has a
	// wrong length or an unknown type.
	AnomalyBadNegotiation = "bad_negotiation"
	// AnomalyUnexpectedPDU: the server's first PDU is not an X.224
	// Connection Confirm or Disconnect Request.
	AnomalyUnexpectedPDU = "unexpected_pdu"
	// AnomalyBadMCS: an MCS Connect Initial/Response could not be decoded.
	AnomalyBadMCS = "bad_mcs"
	// AnomalyGap: bytes were lost before the negotiation was complete.
	AnomalyGap = "gap"
	// AnomalyNotTPKT: a direction stopped speaking TPKT before the
	// negotiation was complete.
	AnomalyNotTPKT = "not_tpkt"
)

// Malformed reasons (counter labels of proto.Malformed) are not used: once
// a flow has matched on a valid Connection Request, later problems are
// anomalies in the record rather than a reason to drop it.
