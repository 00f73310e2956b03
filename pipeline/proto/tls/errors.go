package tls

// Malformed reasons: fixed strings, the labels of
// mamori_proto_malformed_total{protocol="tls",reason=…}. Each detaches the
// session; the record of what was parsed so far is still emitted at End.
const (
	reasonRecordHeader = "bad record header"
	reasonClientHello  = "bad client hello"
	reasonServerHello  = "bad server hello"
	reasonSSLv2Hello   = "bad sslv2 hello"
	reasonNoHello      = "no client hello"
)

// Anomalies: fixed strings noted in mamori.tls.anomalies. The session goes
// on after them.
const (
	anomalyHandshakeTooLong = "handshake message over limit"
	anomalyCertificateList  = "bad certificate message"
	anomalyCertUnparsable   = "certificate unparsable"
	anomalyChainTruncated   = "certificate chain over limit"
	anomalyListTruncated    = "list over limit"
	anomalyGap              = "gap in handshake"
	anomalyServerKeyShare   = "bad server key exchange"
	anomalyEncryptedAlert   = "encrypted alert"
)
