package dicom

import "mamori/pipeline/proto"

// Malformed reasons: fixed strings, the labels of
// mamori_proto_malformed_total{protocol="dicom",reason=...}. Each detaches
// the session; its association record is still written, with the anomaly
// "malformed pdu".
var (
	errPDUType   = proto.Malformed("unknown pdu type")
	errPDULength = proto.Malformed("bad pdu length")
	errPDVLength = proto.Malformed("bad pdv length")
)
