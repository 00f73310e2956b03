package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
)

// isGREASE reports a GREASE value (RFC 8701): 0x0a0a, 0x1a1a … 0xfafa.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// appendDecimals appends the non-GREASE values of vs in decimal, joined by
// '-', as JA3 writes its lists.
func appendDecimals(b []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if isGREASE(v) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// ja3 returns the JA3 string and its MD5 (https://github.com/salesforce/ja3):
// SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats,
// decimal values joined by '-', GREASE values left out.
func ja3(h *clientHello) (str, hash string) {
	b := make([]byte, 0, 256)
	b = strconv.AppendUint(b, uint64(h.version), 10)
	b = append(b, ',')
	b = appendDecimals(b, h.ciphers)
	b = append(b, ',')
	b = appendDecimals(b, h.extensions)
	b = append(b, ',')
	b = appendDecimals(b, h.groups)
	b = append(b, ',')
	for i, f := range h.pointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	return string(b), md5hex(b)
}

// ja3s returns the JA3S string and its MD5: SSLVersion,Cipher,Extensions
// of the ServerHello.
func ja3s(h *serverHello) (str, hash string) {
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, uint64(h.version), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(h.cipher), 10)
	b = append(b, ',')
	b = appendDecimals(b, h.extensions)
	return string(b), md5hex(b)
}

// ja4Version is the two-character version of JA4 (JA4.md "TLS and DTLS
// Version").
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// ja4ALPN is the first and last character of the first ALPN value, "00"
// when there is none or it is empty, and the first and last hex digits of
// the value when its first or last byte is not alphanumeric.
func ja4ALPN(alpn []string) string {
	if len(alpn) == 0 || alpn[0] == "" {
		return "00"
	}
	v := alpn[0]
	first, last := v[0], v[len(v)-1]
	if !isAlnum(first) || !isAlnum(last) {
		const digits = "0123456789abcdef"
		return string([]byte{digits[first>>4], digits[last&0xf]})
	}
	return string([]byte{first, last})
}

// appendHex4 appends vs as 4-digit lower-case hex joined by ','.
func appendHex4(b []byte, vs []uint16) []byte {
	const digits = "0123456789abcdef"
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
	}
	return b
}

// hash12 is the first 12 hex digits of SHA-256(b), or twelve zeros for an
// empty list (JA4.md: "makes it clear to the user when a field has no
// values").
func hash12(b []byte) string {
	if len(b) == 0 {
		return "000000000000"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

func twoDigits(n int) string {
	n = min(n, 99)
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

func withoutGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !isGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

// ja4 returns the JA4 fingerprint of a ClientHello over TCP and its raw
// (sorted, unhashed) form JA4_r, as FoxIO's technical_details/JA4.md
// defines them: t, version, d/i, cipher and extension counts, ALPN; the
// truncated SHA-256 of the sorted cipher suites; the truncated SHA-256 of
// the sorted extensions without SNI and ALPN, an underscore and the
// signature algorithms in their order. GREASE is left out everywhere.
func ja4(h *clientHello) (fp, raw string) {
	version := h.version
	if vs := withoutGREASE(h.versions); len(vs) > 0 {
		version = slices.Max(vs)
	}
	ciphers := withoutGREASE(h.ciphers)
	exts := withoutGREASE(h.extensions)
	sni := "i"
	if h.hasSNI {
		sni = "d"
	}
	a := "t" + ja4Version(version) + sni + twoDigits(len(ciphers)) + twoDigits(len(exts)) + ja4ALPN(h.alpn)

	slices.Sort(ciphers)
	cb := appendHex4(nil, ciphers)

	sorted := exts[:0]
	for _, e := range exts {
		if e != extServerName && e != extALPN {
			sorted = append(sorted, e)
		}
	}
	slices.Sort(sorted)
	eb := appendHex4(nil, sorted)
	if sig := withoutGREASE(h.sigAlgs); len(sig) > 0 && len(eb) > 0 {
		eb = append(eb, '_')
		eb = appendHex4(eb, sig)
	}
	fp = a + "_" + hash12(cb) + "_" + hash12(eb)
	raw = a + "_" + string(cb) + "_" + string(eb)
	return fp, raw
}
