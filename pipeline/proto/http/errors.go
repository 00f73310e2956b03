package http

// Anomalies noted in mamori.http.anomalies: fixed strings, never packet
// contents.
const (
	// AnomalyBadRequestLine: the request line is not "method SP target SP
	// HTTP/x.y" (a missing target or version, a method that is not a
	// token).
	AnomalyBadRequestLine = "bad_request_line"
	// AnomalyBadContentLength: a Content-Length that is not a number, or
	// several that differ.
	AnomalyBadContentLength = "bad_content_length"
	// AnomalyTEAndCL: both Transfer-Encoding and Content-Length, the
	// request-smuggling pattern (RFC 9112 §6.3 item 3).
	AnomalyTEAndCL = "transfer_encoding_and_content_length"
	// AnomalyBadChunk: a chunk-size line that is not hex, or too long.
	AnomalyBadChunk = "bad_chunk"
	// AnomalyPendingOverflow: written unanswered early because MaxPending
	// requests were waiting.
	AnomalyPendingOverflow = "pending_overflow"
	// AnomalyGap: bytes were lost where the message framing was needed;
	// the direction is no longer parsed.
	AnomalyGap = "gap"
	// AnomalyNoRequest: a response with no request waiting (the capture
	// started mid-connection, or the request was lost).
	AnomalyNoRequest = "response_without_request"
	// AnomalyBadAuth: an Authorization header whose credentials do not
	// decode (base64, NTLM).
	AnomalyBadAuth = "bad_authorization"
)

// Malformed reasons (proto.Malformed counter labels): the session ends.
const (
	reasonHeaderTooLarge = "header block too large"
	reasonStatusLine     = "bad status line"
	reasonNotHTTP        = "not http"
)
