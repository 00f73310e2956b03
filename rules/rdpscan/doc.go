// Package rdpscan is the rdp-scan rule: one source reaching RDP on many
// hosts in a sliding window with mostly failing or probe-like connections
// (ATT&CK T1046, T1021.001); many short RDP sessions from one source to
// one host (brute force, T1110); and, with a baseline, an RDP session
// between a pair never seen before.
//
// RDP is recognised on the configured ports (3389) and, on any port, by
// the RDP records of the protocol layer (network.protocol "rdp") of the
// same flow, which arrive before the flow's own record. A port on which
// a source's flow was RDP stays RDP for that source (at most four such
// ports, as long as the source's state lives): the refused and
// unanswered attempts of a scan of a non-standard port carry no RDP
// bytes, but the hosts that answer teach the port.
//
// State is bounded per source, per target and per pair (Config); limits
// reached are counted (Stats). Time is packet time only.
package rdpscan
