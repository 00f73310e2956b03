package hl7

import "mamori/pipeline/proto"

// errOutside is the one malformed reason (a counter label of
// mamori_proto_malformed_total{protocol="hl7"}): more than maxOutside bytes
// in a row outside any MLLP frame mean the flow is not MLLP. Problems
// inside a frame never detach the session: MLLP resynchronises on the next
// start block, and they are anomalies in the record
// (mamori.hl7.anomalies).
var errOutside = proto.Malformed("data outside mllp frame")

// maxOutside is how many bytes outside frames (other than line ends) are
// tolerated in a row.
const maxOutside = 1024
