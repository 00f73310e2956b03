package http

import (
	"net"
	"strings"
)

// ServerName is the request's Host header without its port: the name
// detectors (rules/...) give an HTTP peer, read without importing this
// package (see rules/flows.go).
func (r *Record) ServerName() string { return serverName(r.Host) }

// serverName is the Host header without its port, brackets and final dot,
// in lower case. The usual header (a name or IPv4 address, with or
// without a port) takes a path that allocates nothing; anything with
// brackets or several colons goes through net.SplitHostPort.
func serverName(h string) string {
	if strings.IndexByte(h, '[') < 0 && strings.IndexByte(h, ']') < 0 && strings.Count(h, ":") <= 1 {
		if i := strings.IndexByte(h, ':'); i >= 0 {
			h = h[:i]
		}
		return strings.ToLower(strings.TrimSuffix(h, "."))
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}
