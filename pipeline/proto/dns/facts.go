package dns

import "net/netip"

// The methods below give detectors (rules/...) the facts they read from
// DNS records without importing this package (see rules/flows.go).

// DNSQuestion is the name asked.
func (r *Record) DNSQuestion() string { return r.Name }

// DNSResolution is the name asked and the A/AAAA addresses answered for it
// (directly or through CNAMEs), for answered queries; addrs is nil
// otherwise.
func (r *Record) DNSResolution() (name string, addrs []netip.Addr) {
	if !r.HasResponse {
		return r.Name, nil
	}
	for _, a := range r.Answers {
		if a.IP.IsValid() {
			addrs = append(addrs, a.IP)
		}
	}
	return r.Name, addrs
}
