package tls

import (
	"sync"

	"mamori/pipeline/event"
)

// helloInfo is what a record takes from a ClientHello besides its server
// name and ECH flag: the lists without GREASE (capped at MaxListItems),
// the fingerprints, and the lists' JSON arrays as the record writes them.
// A client sends the same ClientHello on every connection (bar its random,
// session id and key shares, which no record shows), so one helloInfo is
// built per distinct offer and shared by every record of it: immutable
// once built.
type helloInfo struct {
	ciphers, extensions, versions, groups, sigAlgs []uint16
	pointFormats                                   []uint8
	alpn                                           []string
	grease, truncated                              bool
	ja3, ja3String, ja4, ja4Raw                    string
	js                                             helloJSON
}

// helloJSON holds each list's JSON array ("[\"a\",\"b\"]"), nil for an
// empty list.
type helloJSON struct {
	ciphers, versions, alpn, extensions, groups, pointFormats, sigAlgs []byte
}

// newHelloInfo computes h's helloInfo, as setClient did field by field.
func newHelloInfo(h *clientHello, maxList int) *helloInfo {
	in := &helloInfo{}
	for _, vs := range [...][]uint16{h.ciphers, h.extensions, h.versions, h.groups, h.sigAlgs} {
		for _, v := range vs {
			if isGREASE(v) {
				in.grease = true
			}
		}
	}
	list := func(vs []uint16) []uint16 {
		if len(vs) > maxList {
			in.truncated = true
			return vs[:maxList:maxList]
		}
		if len(vs) == 0 {
			return nil
		}
		return vs
	}
	in.ciphers = list(withoutGREASE(h.ciphers))
	in.extensions = list(withoutGREASE(h.extensions))
	in.versions = list(withoutGREASE(h.versions))
	in.groups = list(withoutGREASE(h.groups))
	in.sigAlgs = list(withoutGREASE(h.sigAlgs))
	in.pointFormats = h.pointFormats
	if len(in.pointFormats) > maxList {
		in.pointFormats = in.pointFormats[:maxList]
		in.truncated = true
	}
	in.alpn = h.alpn
	if len(in.alpn) > maxList {
		in.alpn = in.alpn[:maxList]
		in.truncated = true
	}
	if !h.sslv2 {
		// JA3 and JA4 are defined on TLS ClientHellos only (tshark and
		// FoxIO's tools leave SSL 2.0 hellos without them).
		in.ja3String, in.ja3 = ja3(h)
		in.ja4, in.ja4Raw = ja4(h)
	}
	in.js = helloJSON{
		ciphers:  nameArray(len(in.ciphers), func(i int) string { return cipherName(in.ciphers[i]) }),
		versions: nameArray(len(in.versions), func(i int) string { v, _ := versionName(in.versions[i]); return v }),
		alpn:     nameArray(len(in.alpn), func(i int) string { return in.alpn[i] }),
		extensions: nameArray(len(in.extensions), func(i int) string {
			return extensionName(in.extensions[i])
		}),
		groups:       nameArray(len(in.groups), func(i int) string { return groupName(in.groups[i]) }),
		pointFormats: nameArray(len(in.pointFormats), func(i int) string { return pointFormatName(in.pointFormats[i]) }),
		sigAlgs:      nameArray(len(in.sigAlgs), func(i int) string { return sigAlgName(in.sigAlgs[i]) }),
	}
	return in
}

// nameArray is the JSON array of name(0) … name(n-1), as names and
// JSON.Strings write it; nil when n is 0.
func nameArray(n int, name func(i int) string) []byte {
	if n == 0 {
		return nil
	}
	b := []byte{'['}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendQuoted(b, name(i))
	}
	b = append(b, ']')
	return b[:len(b):len(b)]
}

// rawArray writes k: arr, arr being a JSON array written before.
func rawArray(w *event.JSON, k string, arr []byte) {
	w.Strings(k) // "k":[]
	w.B = append(w.B[:len(w.B)-2], arr...)
}

// maxHelloKey is the longest key (the lists of one ClientHello) the cache
// keeps; a larger offer is computed for its record alone.
const maxHelloKey = 4096

// appendHelloKey appends what a helloInfo depends on: the SSL 2.0 flag,
// version, whether an SNI was sent, the lists without GREASE and whether
// any GREASE was left out, and the point formats and ALPN values as sent.
func appendHelloKey(b []byte, h *clientHello) []byte {
	var flags byte
	if h.sslv2 {
		flags |= 1
	}
	if h.hasSNI {
		flags |= 2
	}
	at := len(b)
	b = append(b, flags, byte(h.version>>8), byte(h.version))
	for _, vs := range [...][]uint16{h.ciphers, h.extensions, h.versions, h.groups, h.sigAlgs} {
		n := len(b)
		b = append(b, 0, 0, 0, 0)
		c := 0
		for _, v := range vs {
			if isGREASE(v) {
				b[at] |= 4
				continue
			}
			b = append(b, byte(v>>8), byte(v))
			c++
		}
		putCount(b[n:], c)
	}
	b = appendCount(b, len(h.pointFormats))
	b = append(b, h.pointFormats...)
	b = appendCount(b, len(h.alpn))
	for _, s := range h.alpn {
		b = appendCount(b, len(s))
		b = append(b, s...)
	}
	return b
}

func putCount(b []byte, n int) {
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

func appendCount(b []byte, n int) []byte {
	return append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// helloCache remembers helloInfo by the offer's key, bounded (oldest out
// first) and safe for concurrent use. newHelloInfo is a pure function of
// the key's contents, so the cache changes no output.
type helloCache struct {
	mu   sync.Mutex
	byK  map[string]int // key → slot in ring
	ring []helloSlot
	next int
}

type helloSlot struct {
	key  string
	info *helloInfo
}

func newHelloCache(n int) *helloCache {
	return &helloCache{byK: make(map[string]int, n), ring: make([]helloSlot, n)}
}

// get returns h's helloInfo, from the cache when the same offer was seen
// before.
func (hc *helloCache) get(h *clientHello, maxList int) *helloInfo {
	var kb [512]byte
	key := appendHelloKey(kb[:0], h)
	if len(key) > maxHelloKey {
		return newHelloInfo(h, maxList)
	}
	hc.mu.Lock()
	if i, ok := hc.byK[string(key)]; ok {
		in := hc.ring[i].info
		hc.mu.Unlock()
		return in
	}
	hc.mu.Unlock()
	in := newHelloInfo(h, maxList)
	hc.mu.Lock()
	if _, ok := hc.byK[string(key)]; !ok {
		e := &hc.ring[hc.next]
		if e.info != nil {
			delete(hc.byK, e.key)
		}
		*e = helloSlot{key: string(key), info: in}
		hc.byK[e.key] = hc.next
		hc.next = (hc.next + 1) % len(hc.ring)
	}
	hc.mu.Unlock()
	return in
}
