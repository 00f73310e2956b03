// Package smb is the SMB protocol analyzer: SMB2/SMB3 (MS-SMB2), the SMB1
// messages that still appear (MS-CIFS, MS-SMB), NTLM logons carried in
// them (via pipeline/proto/internal/ntlm) and DCE/RPC over named pipes
// (via pipeline/proto/internal/dcerpc), over direct TCP (445) or NetBIOS
// session service (139, RFC 1002 §4.3), recognised on any port by the
// NetBIOS session header followed by an SMB protocol id.
//
// # Records (dataset mamori.smb, plus mamori.ntlm)
//
//   - smb2_negotiate: dialects offered and chosen, signing required.
//   - smb2_session_setup: authentication (ntlm, kerberos, anonymous, guest),
//     NTLM user, domain and workstation, status (STATUS_LOGON_FAILURE …),
//     session flags; with a mamori.ntlm record for each NTLM AUTHENTICATE.
//   - smb2_tree_connect: UNC path, share type, share flags, status.
//   - smb2_create: file name, disposition, create action, access, status.
//   - smb2_close: a file's READ/WRITE counts and bytes (aggregated: never a
//     record per READ or WRITE), deletion, when it had any activity.
//   - smb2_rename (SET_INFO FileRenameInformation) with the new name, and
//     smb2_delete (SET_INFO FileDispositionInformation).
//   - smb2_tree_disconnect: a tree's totals (opens, reads, writes, bytes)
//     at TREE_DISCONNECT or flow end.
//   - smb2_encrypted: once per session whose messages are SMB3 transform
//     (encrypted) messages; nothing inside them is visible.
//   - dcerpc_bind and dcerpc_call over named pipes: interface by UUID,
//     operation by opnum, result, fault, return code and, for service
//     creation, scheduled tasks and registry writes, their arguments.
//   - smb1_<command> for the notable SMB1 commands and smb1_summary with
//     every SMB1 command's count: SMB1 on a network is itself a finding.
//
// Every record carries the session's user when its logon was seen.
//
// # How
//
// Each direction is framed into NetBIOS session messages. A message is
// buffered only up to what the parser needs (headers, names, blobs; at
// most Config.MaxMessage): READ and WRITE data and directory listings are
// skipped as they stream past, never held, except named-pipe data, which
// the DCE/RPC decoder reads (at most Config.MaxPipeData per message).
// Compound chains (NextCommand) are walked, related operations resolve
// their FileId to the chain's CREATE, multi-credit READ/WRITE are counted
// by bytes, interim STATUS_PENDING responses wait for the final one.
// Requests are paired with responses by MessageId in a table bounded by
// Config.MaxPending; files, trees, sessions and pipes are bounded tables
// too. A gap loses at most the message it hits: the stream resynchronises
// on the next NetBIOS header followed by an SMB signature, which is also
// how a flow joined mid-way is picked up.
//
// Not decoded: encrypted or compressed SMB3 payloads, SMB1 READ/WRITE
// totals, DCE/RPC over SMB1 transactions, Kerberos principals, SMB2
// QUERY_INFO/QUERY_DIRECTORY results, lease and durable-handle contexts.
package smb
