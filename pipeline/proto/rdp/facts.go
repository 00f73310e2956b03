package rdp

// RDPCookie is the user name of the X.224 "Cookie: mstshash=" (empty when
// none), for detectors (rules/rdpscan) that read it without importing this
// package.
func (r *Record) RDPCookie() string { return r.Cookie }
