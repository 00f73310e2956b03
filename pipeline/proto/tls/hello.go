package tls

// reader reads big-endian TLS vectors from a byte slice. A read past the
// end sets bad and returns zero values, so parsers check once at the end.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad, r.b = true, nil
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) u24() int {
	if len(r.b) < 3 {
		r.bad, r.b = true, nil
		return 0
	}
	v := int(r.b[0])<<16 | int(r.b[1])<<8 | int(r.b[2])
	r.b = r.b[3:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// vec8, vec16 and vec24 read a vector with a 1-, 2- or 3-byte length.
func (r *reader) vec8() reader  { return reader{b: r.bytes(int(r.u8())), bad: r.bad} }
func (r *reader) vec16() reader { return reader{b: r.bytes(int(r.u16())), bad: r.bad} }
func (r *reader) vec24() reader { return reader{b: r.bytes(r.u24()), bad: r.bad} }

func (r *reader) empty() bool { return len(r.b) == 0 }

// u16s reads a list of 16-bit values filling r.
func (r *reader) u16s() []uint16 { return r.u16sTo(make([]uint16, 0, len(r.b)/2)) }

// u16sTo is u16s appending to dst[:0].
func (r *reader) u16sTo(dst []uint16) []uint16 {
	if len(r.b)%2 != 0 {
		r.bad = true
	}
	out := dst[:0]
	for len(r.b) >= 2 {
		out = append(out, r.u16())
	}
	r.b = nil
	return out
}

// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
const (
	hsClientHello        = 1
	hsServerHello        = 2
	hsCertificate        = 11
	hsServerKeyExchange  = 12
	hsCertificateRequest = 13
	hsServerHelloDone    = 14
)

// Extension numbers the parser reads.
const (
	extServerName           = 0
	extSupportedGroups      = 10
	extECPointFormats       = 11
	extSignatureAlgorithms  = 13
	extALPN                 = 16
	extPreSharedKey         = 41
	extSupportedVersions    = 43
	extKeyShare             = 51
	extEncryptedClientHello = 0xfe0d
)

// minClientHello is the shortest ClientHello body: version, random,
// session id length, cipher suites length, compression methods length.
const minClientHello = 2 + 32 + 1 + 2 + 1

// clientHello is what a ClientHello offers, GREASE values included (they
// are dropped where the fingerprints and lists say so).
type clientHello struct {
	version      uint16
	sessionID    int // its length
	ciphers      []uint16
	extensions   []uint16
	serverName   string
	hasSNI       bool
	alpn         []string
	versions     []uint16 // supported_versions
	groups       []uint16
	pointFormats []uint8
	sigAlgs      []uint16
	ech          bool
	sslv2        bool
}

// parseClientHello reads a ClientHello body (after the 4-byte handshake
// header). It reports false on a body that does not hold together.
func parseClientHello(b []byte) (clientHello, bool) {
	var h clientHello
	ok := h.parse(b)
	return h, ok
}

// parse is parseClientHello into h, reusing its lists' arrays (a pooled
// clientHello: nothing of it may be kept after the next parse).
func (h *clientHello) parse(b []byte) bool {
	*h = clientHello{ciphers: h.ciphers[:0], extensions: h.extensions[:0], versions: h.versions[:0],
		groups: h.groups[:0], pointFormats: h.pointFormats[:0], sigAlgs: h.sigAlgs[:0], alpn: h.alpn[:0]}
	r := reader{b: b}
	h.version = r.u16()
	r.bytes(32) // random
	sid := r.vec8()
	h.sessionID = len(sid.b)
	cs := r.vec16()
	h.ciphers = cs.u16sTo(h.ciphers)
	r.vec8() // compression methods
	if r.bad || cs.bad || h.sessionID > 32 {
		return false
	}
	if r.empty() {
		return true // no extensions (SSL 3.0, old TLS)
	}
	exts := r.vec16()
	if r.bad || !r.empty() {
		return false
	}
	for !exts.empty() {
		typ := exts.u16()
		body := exts.vec16()
		if exts.bad {
			return false
		}
		h.extensions = append(h.extensions, typ)
		if !h.extension(typ, body) {
			return false
		}
	}
	return true
}

// extension reads one ClientHello extension body into h.
func (h *clientHello) extension(typ uint16, r reader) bool {
	switch typ {
	case extServerName:
		h.hasSNI = true
		list := r.vec16()
		for !list.empty() {
			kind := list.u8()
			name := list.vec16()
			if list.bad {
				return false
			}
			if kind == 0 && h.serverName == "" {
				h.serverName = string(name.b)
			}
		}
		return !r.bad
	case extALPN:
		list := r.vec16()
		for !list.empty() {
			p := list.vec8()
			if list.bad {
				return false
			}
			h.alpn = append(h.alpn, alpnString(p.b))
		}
		return !r.bad
	case extSupportedVersions:
		list := r.vec8()
		h.versions = list.u16sTo(h.versions)
		return !r.bad && !list.bad
	case extSupportedGroups:
		list := r.vec16()
		h.groups = list.u16sTo(h.groups)
		return !r.bad && !list.bad
	case extECPointFormats:
		list := r.vec8()
		h.pointFormats = append(h.pointFormats[:0], list.b...)
		return !r.bad
	case extSignatureAlgorithms:
		list := r.vec16()
		h.sigAlgs = list.u16sTo(h.sigAlgs)
		return !r.bad && !list.bad
	case extEncryptedClientHello:
		h.ech = true
	}
	return true
}

// alpnString is an ALPN protocol ID as a string, without allocating for
// the common ones.
func alpnString(b []byte) string {
	switch string(b) {
	case "h2":
		return "h2"
	case "http/1.1":
		return "http/1.1"
	case "http/1.0":
		return "http/1.0"
	case "h3":
		return "h3"
	case "spdy/3.1":
		return "spdy/3.1"
	}
	return string(b)
}

// parseSSLv2Hello reads an SSL 2.0 CLIENT-HELLO body (after the record
// header): only its TLS-compatible cipher specs (first byte zero) are kept.
func parseSSLv2Hello(b []byte) (clientHello, bool) {
	h := clientHello{sslv2: true}
	r := reader{b: b}
	if r.u8() != 1 {
		return h, false
	}
	h.version = r.u16()
	cs, sid, ch := int(r.u16()), int(r.u16()), int(r.u16())
	specs := r.bytes(cs)
	r.bytes(sid)
	r.bytes(ch)
	if r.bad || cs%3 != 0 {
		return h, false
	}
	h.sessionID = sid
	for i := 0; i+3 <= len(specs); i += 3 {
		if specs[i] == 0 {
			h.ciphers = append(h.ciphers, uint16(specs[i+1])<<8|uint16(specs[i+2]))
		}
	}
	return h, true
}

// helloRetryRandom is the ServerHello.random that marks a
// HelloRetryRequest (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest").
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// serverHello is what a ServerHello chose.
type serverHello struct {
	version    uint16 // legacy_version
	selected   uint16 // supported_versions, 0 when absent
	sessionID  []byte
	cipher     uint16
	extensions []uint16
	alpn       []byte // a view into the message
	group      uint16 // key_share (TLS 1.3)
	hasGroup   bool
	psk        bool
	retry      bool // HelloRetryRequest
}

// negotiated is the protocol version the server chose.
func (h *serverHello) negotiated() uint16 {
	if h.selected != 0 {
		return h.selected
	}
	return h.version
}

func parseServerHello(b []byte) (serverHello, bool) {
	var h serverHello
	ok := h.parse(b)
	return h, ok
}

// parse is parseServerHello into h, appending the extensions to
// h.extensions[:0] (an array the caller may keep on its stack).
func (h *serverHello) parse(b []byte) bool {
	*h = serverHello{extensions: h.extensions[:0]}
	r := reader{b: b}
	h.version = r.u16()
	random := r.bytes(32)
	sid := r.vec8()
	h.sessionID = sid.b
	h.cipher = r.u16()
	r.u8() // compression method
	if r.bad || len(sid.b) > 32 {
		return false
	}
	h.retry = [32]byte(random) == helloRetryRandom
	if r.empty() {
		return true
	}
	exts := r.vec16()
	if r.bad || !r.empty() {
		return false
	}
	for !exts.empty() {
		typ := exts.u16()
		body := exts.vec16()
		if exts.bad {
			return false
		}
		h.extensions = append(h.extensions, typ)
		switch typ {
		case extSupportedVersions:
			h.selected = body.u16()
		case extALPN:
			list := body.vec16()
			p := list.vec8()
			h.alpn = p.b
		case extKeyShare:
			h.group, h.hasGroup = body.u16(), true
		case extPreSharedKey:
			h.psk = true
		}
		if body.bad {
			return false
		}
	}
	return true
}

// certificateList returns the DER certificates of a TLS ≤ 1.2 Certificate
// message body, at most max of them; more is true when there were more.
func certificateList(b []byte, max int) (certs [][]byte, more bool, ok bool) {
	r := reader{b: b}
	list := r.vec24()
	if r.bad || !r.empty() {
		return nil, false, false
	}
	for !list.empty() {
		c := list.vec24()
		if list.bad {
			return certs, false, false
		}
		if len(certs) == max {
			more = true
			continue
		}
		certs = append(certs, c.b)
	}
	return certs, more, true
}

// ecdheCurve reads the named curve of an ECDHE ServerKeyExchange
// (RFC 8422 §5.4: curve_type named_curve(3), then the group).
func ecdheCurve(b []byte) (uint16, bool) {
	if len(b) < 3 || b[0] != 3 {
		return 0, false
	}
	return uint16(b[1])<<8 | uint16(b[2]), true
}
