// Package prefixset tests an address against a list of network prefixes
// on the address's words, as netip.Prefix.Contains does but without its
// per-prefix work: the flow path asks it twice per flow record and the
// rules on every record.
package prefixset
