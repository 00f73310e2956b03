package tls

// ServerName is the SNI of the ClientHello (empty without one): the name
// detectors (rules/...) give a TLS peer, read without importing this
// package (see rules/flows.go).
func (r *Record) ServerName() string { return r.Client.ServerName }
