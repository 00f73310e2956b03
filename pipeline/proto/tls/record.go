package tls

import (
	"strconv"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
)

// Record is one TLS connection's handshake.
type Record struct {
	event.Base

	// Version is the negotiated protocol version (ServerHello, its
	// supported_versions extension included); zero without a ServerHello.
	Version      uint16
	Cipher       uint16
	HasCipher    bool
	Curve        uint16 // key_share (TLS 1.3) or ECDHE ServerKeyExchange group
	HasCurve     bool
	Established  bool
	Resumed      bool
	NextProtocol string // ALPN the server chose (visible before TLS 1.3)

	Client ClientSide
	Server ServerSide

	// Alert is the first alert seen in the clear (AlertFrom "client" or
	// "server"); a fatal one ends the handshake as a failure.
	AlertFrom  string
	AlertLevel uint8
	AlertDesc  uint8

	HelloRetry bool // the server sent a HelloRetryRequest
	Heartbeat  bool // heartbeat records were seen (RFC 6520)
	Anomalies  []string
}

// ClientSide is what the client offered.
type ClientSide struct {
	Version      uint16 // ClientHello legacy_version
	SSLv2        bool   // an SSL 2.0-compatible CLIENT-HELLO
	Hellos       int    // ClientHellos seen (2 after a HelloRetryRequest)
	ServerName   string
	Ciphers      []uint16 // GREASE left out, at most MaxListItems
	Extensions   []uint16
	Versions     []uint16 // supported_versions
	Groups       []uint16
	PointFormats []uint8
	SigAlgs      []uint16
	ALPN         []string
	GREASE       bool
	ECH          bool // encrypted_client_hello offered: ServerName is the outer name
	JA3          string
	JA3String    string
	JA4          string
	JA4Raw       string
	// CertRequested is set when the server asked for a client
	// certificate; Certs holds what the client sent (TLS ≤ 1.2).
	CertRequested bool
	Certs         []Cert

	// hello is the shared helloInfo the lists above came from (nil for a
	// record built elsewhere): its arrays are copied instead of written
	// name by name.
	hello *helloInfo
}

// ServerSide is what the server chose and showed.
type ServerSide struct {
	Version    uint16 // ServerHello legacy_version
	Extensions []uint16
	JA3S       string
	JA3SString string
	// Certificate is "visible" (TLS ≤ 1.2, Certs filled), "encrypted"
	// (TLS 1.3), "skipped" (over the handshake limit) or "not_seen".
	Certificate string
	Certs       []Cert // leaf first
}

func newRecord(f *flow.Info) *Record {
	r := &Record{}
	r.Conn = f.Conn
	r.Protocol = Name
	r.Action = "tls_handshake"
	r.Type = recType
	return r
}

// recType is every record's event.type (shared: never changed).
var recType = []string{"connection", "protocol"}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// AppendJSON implements event.Record: the ECS tls.* fields and mamori.tls.*.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, r.body)
}

func (r *Record) body(w *event.JSON) {
	w.Object("tls")
	if r.Version != 0 {
		v, p := versionName(r.Version)
		w.String("version", v)
		w.String("version_protocol", p)
	} else if r.Client.Version != 0 {
		// No ServerHello: the version the client asked for is all there is.
		_, p := versionName(r.Client.Version)
		w.String("version_protocol", p)
	}
	if r.HasCipher {
		w.String("cipher", cipherName(r.Cipher))
	}
	if r.HasCurve {
		w.String("curve", groupName(r.Curve))
	}
	w.Bool("established", r.Established)
	w.Bool("resumed", r.Resumed)
	w.StringIf("next_protocol", r.NextProtocol)

	c := &r.Client
	w.Object("client")
	w.StringIf("server_name", c.ServerName)
	w.StringIf("ja3", c.JA3)
	w.StringIf("ja4", c.JA4)
	if h := c.hello; h != nil {
		if h.js.ciphers != nil {
			rawArray(w, "supported_ciphers", h.js.ciphers)
		}
	} else if len(c.Ciphers) > 0 {
		names(w, "supported_ciphers", len(c.Ciphers), func(i int) string { return cipherName(c.Ciphers[i]) })
	}
	if len(c.Certs) > 0 {
		writeCertECS(w, &c.Certs[0])
	}
	w.End()

	s := &r.Server
	if s.JA3S != "" || len(s.Certs) > 0 {
		w.Object("server")
		w.StringIf("ja3s", s.JA3S)
		if len(s.Certs) > 0 {
			writeCertECS(w, &s.Certs[0])
		}
		w.End()
	}
	w.End() // tls

	w.Object("mamori")
	w.Object("tls")
	w.StringIf("ja3_string", c.JA3String)
	w.StringIf("ja4_r", c.JA4Raw)
	w.StringIf("ja3s_string", s.JA3SString)

	w.Object("client")
	if c.Version != 0 {
		v, _ := versionName(c.Version)
		w.String("version", v)
	}
	if h := c.hello; h != nil {
		for _, m := range [...]struct {
			k   string
			arr []byte
		}{
			{"supported_versions", h.js.versions}, {"alpn", h.js.alpn}, {"extensions", h.js.extensions},
			{"supported_groups", h.js.groups}, {"ec_point_formats", h.js.pointFormats},
			{"signature_algorithms", h.js.sigAlgs},
		} {
			if m.arr != nil {
				rawArray(w, m.k, m.arr)
			}
		}
	} else {
		if len(c.Versions) > 0 {
			names(w, "supported_versions", len(c.Versions), func(i int) string { v, _ := versionName(c.Versions[i]); return v })
		}
		if len(c.ALPN) > 0 {
			w.Strings("alpn", c.ALPN...)
		}
		if len(c.Extensions) > 0 {
			names(w, "extensions", len(c.Extensions), func(i int) string { return extensionName(c.Extensions[i]) })
		}
		if len(c.Groups) > 0 {
			names(w, "supported_groups", len(c.Groups), func(i int) string { return groupName(c.Groups[i]) })
		}
		if len(c.PointFormats) > 0 {
			names(w, "ec_point_formats", len(c.PointFormats), func(i int) string { return pointFormatName(c.PointFormats[i]) })
		}
		if len(c.SigAlgs) > 0 {
			names(w, "signature_algorithms", len(c.SigAlgs), func(i int) string { return sigAlgName(c.SigAlgs[i]) })
		}
	}
	if c.GREASE {
		w.Bool("grease", true)
	}
	if c.ECH {
		w.Bool("ech", true)
	}
	if c.SSLv2 {
		w.Bool("sslv2_hello", true)
	}
	if c.Hellos > 1 {
		w.Int("hellos", int64(c.Hellos))
	}
	if c.CertRequested {
		w.Bool("certificate_requested", true)
	}
	writeCertsMamori(w, c.Certs)
	w.End()

	w.Object("server")
	if s.Version != 0 {
		v, _ := versionName(s.Version)
		w.String("version", v)
	}
	if len(s.Extensions) > 0 {
		names(w, "extensions", len(s.Extensions), func(i int) string { return extensionName(s.Extensions[i]) })
	}
	w.StringIf("certificate", s.Certificate)
	writeCertsMamori(w, s.Certs)
	w.End()

	if r.AlertFrom != "" {
		w.Object("alert")
		w.String("from", r.AlertFrom)
		switch r.AlertLevel {
		case 1:
			w.String("level", "warning")
		case 2:
			w.String("level", "fatal")
		default:
			w.String("level", strconv.Itoa(int(r.AlertLevel)))
		}
		w.String("description", alertName(r.AlertDesc))
		w.End()
	}
	if r.HelloRetry {
		w.Bool("hello_retry", true)
	}
	if r.Heartbeat {
		w.Bool("heartbeat", true)
	}
	if len(r.Anomalies) > 0 {
		w.Strings("anomalies", r.Anomalies...)
	}
	w.End()
	w.End() // mamori
}

// names writes k: [name(0), …] without building a slice.
func names(w *event.JSON, k string, n int, name func(i int) string) {
	w.Strings(k) // "k":[]
	w.B = w.B[:len(w.B)-1]
	for i := range n {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.B = event.AppendQuoted(w.B, name(i))
	}
	w.B = append(w.B, ']')
}

// writeCertECS writes the ECS tls.{client,server}.* fields of a leaf:
// subject, issuer, validity, hash and x509 (copied when the cache wrote
// them before).
func writeCertECS(w *event.JSON, c *Cert) {
	if j := c.json; j != nil {
		w.Object("hash")
		w.B = append(w.B, j.hash...)
		w.End()
		w.B = append(w.B, j.rest...)
		return
	}
	writeCertECSFields(w, c)
}

// writeCertECSFields is writeCertECS from the Cert's fields.
func writeCertECSFields(w *event.JSON, c *Cert) {
	w.Object("hash")
	w.String("sha256", c.SHA256)
	w.End()
	if !c.Parsed {
		return
	}
	w.String("subject", c.Subject)
	w.String("issuer", c.Issuer)
	w.Time("not_before", c.NotBefore)
	w.Time("not_after", c.NotAfter)
	w.Object("x509")
	w.Object("subject")
	if len(c.SubjectCN) > 0 {
		w.Strings("common_name", c.SubjectCN...)
	}
	if len(c.SubjectO) > 0 {
		w.Strings("organization", c.SubjectO...)
	}
	w.String("distinguished_name", c.Subject)
	w.End()
	w.Object("issuer")
	if len(c.IssuerCN) > 0 {
		w.Strings("common_name", c.IssuerCN...)
	}
	if len(c.IssuerO) > 0 {
		w.Strings("organization", c.IssuerO...)
	}
	w.String("distinguished_name", c.Issuer)
	w.End()
	w.Time("not_before", c.NotBefore)
	w.Time("not_after", c.NotAfter)
	w.StringIf("serial_number", c.Serial)
	if len(c.AltNames) > 0 {
		w.Strings("alternative_names", c.AltNames...)
	}
	w.String("public_key_algorithm", c.PublicKeyAlgorithm)
	if c.PublicKeySize > 0 {
		w.Int("public_key_size", int64(c.PublicKeySize))
	}
	w.String("signature_algorithm", c.SignatureAlgorithm)
	w.String("version_number", strconv.Itoa(c.Version))
	w.End()
}

// writeCertsMamori writes what ECS has no field for: the leaf's
// self-signed flag and the rest of the chain.
func writeCertsMamori(w *event.JSON, certs []Cert) {
	if len(certs) == 0 {
		return
	}
	if certs[0].Parsed {
		w.Bool("self_signed", certs[0].SelfSigned)
	}
	if len(certs) == 1 {
		return
	}
	w.Array("chain")
	for i := 1; i < len(certs); i++ {
		c := &certs[i]
		w.Item()
		if c.json != nil {
			w.B = append(w.B, c.json.item...)
		} else {
			writeChainItem(w, c)
		}
		w.End()
	}
	w.EndArray()
}

// writeChainItem writes the members of one chain element.
func writeChainItem(w *event.JSON, c *Cert) {
	if c.Parsed {
		w.String("subject", c.Subject)
		w.String("issuer", c.Issuer)
		w.Time("not_before", c.NotBefore)
		w.Time("not_after", c.NotAfter)
		w.StringIf("serial_number", c.Serial)
		w.Bool("self_signed", c.SelfSigned)
	}
	w.String("sha256", c.SHA256)
}
