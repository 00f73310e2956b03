// Package rdp recognises Remote Desktop Protocol connection set-up by
// content, on any port, and emits one "mamori.rdp" record per connection.
//
// Parsed (MS-RDPBCGR §2.2.1, ITU-T X.224 / RFC 1006 TPKT, T.125 MCS, T.124
// GCC):
//   - the TPKT + X.224 Connection Request: the routing token or cookie
//     ("Cookie: mstshash=USER" gives user.name; "Cookie: msts=…" is a load
//     balancer routing token, decoded to its target address), the
//     RDP_NEG_REQ requested protocols and flags (restricted admin mode,
//     redirected authentication);
//   - the X.224 Connection Confirm: RDP_NEG_RSP selected protocol or
//     RDP_NEG_FAILURE code, or an X.224 Disconnect Request;
//   - with classic RDP security (selected protocol "rdp"), the MCS Connect
//     Initial's client core, security and network data (client name, build,
//     product id, keyboard layout, desktop size, static virtual channels)
//     and the MCS Connect Response's server security data (encryption
//     method and level, certificate type and count);
//   - whether a TLS handshake followed the negotiation;
//   - MS-RDPEUDP: the UDP transport's SYN and SYN+ACK datagrams.
//
// The outcome is "negotiated" (the server accepted a protocol),
// "refused" (RDP_NEG_FAILURE, X.224 Disconnect, or an MCS Connect Response
// with a failure result) or "no_answer" (the flow ended before the server
// confirmed), flushed in End.
//
// Not parsed: anything inside TLS or CredSSP (NLA): the NTLM or Kerberos
// exchange of an NLA logon is encrypted by the TLS session, so it is never
// visible on the wire; the Client Info PDU (encrypted with classic RDP
// security unless the encryption level is none); fast-path and slow-path
// PDUs after the connection is set up; MS-RDPEUDP data after the
// handshake.
//
// A Session is owned by one worker and is not safe for concurrent use; the
// Parser is read-only and may be shared.
package rdp
