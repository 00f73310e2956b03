// Package dns parses DNS (RFC 1035) over UDP and TCP, recognised by
// content on any port, and emits one "mamori.dns" record per transaction:
// a query paired with its response by message id and question, a query
// that got no response (flushed after Config.QueryTimeout of packet time
// or in End), or a response whose query was not seen.
//
// Parsed: the header (id, opcode, flags, response code, extended by the
// EDNS0 OPT record, RFC 6891), every question, the answer section's
// records with their data for A, AAAA, CNAME, DNAME, NS, PTR, MX, SRV, SOA,
// TXT and SPF (other types keep name, type, class and TTL), and the OPT
// record of the additional section (the DO flag). Names follow compression
// pointers (RFC 1035 §4.1.4) only backwards, past every position read
// before, at most 64 times, and at most 255 bytes of wire name, so a
// pointer loop ends in an anomaly instead of a hang. Multicast DNS
// (RFC 6762, port 5353) and LLMNR (RFC 4795, port 5355) use the same wire
// format: they are parsed alike and marked in mamori.dns.variant; mDNS's
// unicast-response and cache-flush bits are taken out of the class.
//
// Over TCP (RFC 7766) each message has a two-byte length prefix and a
// connection may carry many messages (zone transfers, pipelined queries);
// each message is buffered whole, up to Config.MaxMessage bytes, because
// compression pointers may point anywhere before them.
//
// Not parsed: authority and additional records other than OPT (counted),
// DNSSEC record contents, SVCB/HTTPS parameters, EDNS options, DNS over
// TLS/HTTPS/QUIC (encrypted). The registered domain and top-level domain
// of the question come from the public suffix list compiled into
// golang.org/x/net/publicsuffix; names under a suffix that list does not
// know (".local", ".internal") get neither.
//
// A Session is owned by one worker and is not safe for concurrent use; the
// Parser is read-only and may be shared.
package dns
