package http

import (
	"net"
	"strings"
)

// ServerName is the request's Host header without its port: the name
// detectors (rules/...) give an HTTP peer, read without importing this
// package (see rules/flows.go).
func (r *Record) ServerName() string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}
