package smb

import "mamori/pipeline/proto"

// Malformed reasons (counter labels).
var (
	errNotSMB      = proto.Malformed("not smb")
	errBadNetBIOS  = proto.Malformed("bad netbios header")
	errBadProtocol = proto.Malformed("bad protocol id")
)

// Anomalies noted in records' mamori.smb.anomalies: fixed strings.
const (
	anomTruncated      = "message_truncated" // message longer than MaxMessage
	anomPendingEvicted = "pending_evicted"   // request table full
	anomFilesFull      = "files_full"        // file table full
	anomTreesFull      = "trees_full"        // tree table full
	anomSessionsFull   = "sessions_full"     // session table full
	anomPipesFull      = "pipes_full"        // DCE/RPC state table full
	anomCompound       = "compound_too_long" // chain longer than MaxCompound
	anomBadCompound    = "bad_next_command"  // NextCommand outside the message
	anomShortPDU       = "short_command"     // body shorter than its structure
	anomBadOffset      = "bad_offset"        // a name or blob offset outside the message
	anomGap            = "gap"               // bytes lost; resynchronised
	anomNoAnswer       = "no_answer"         // request never answered
	anomUnpaired       = "unpaired_response" // response without its request
)
