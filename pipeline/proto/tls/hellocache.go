package tls

import (
	"slices"
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
	// h may be pooled: its lists are copied (withoutGREASE copies too).
	if len(h.pointFormats) > 0 {
		in.pointFormats = slices.Clone(h.pointFormats)
	}
	if len(in.pointFormats) > maxList {
		in.pointFormats = in.pointFormats[:maxList]
		in.truncated = true
	}
	if len(h.alpn) > 0 {
		in.alpn = slices.Clone(h.alpn)
	}
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

// infoCache remembers values built from a key's bytes (helloInfo by a
// ClientHello's offer, serverInfo by a ServerHello's choice), bounded
// (oldest out first) and safe for concurrent use. The values are pure
// functions of the key's contents, so the cache changes no output.
type infoCache[V any] struct {
	mu   sync.Mutex
	byK  map[string]int // key → slot in ring
	ring []infoSlot[V]
	next int
}

type infoSlot[V any] struct {
	key string
	v   V
	set bool
}

func newInfoCache[V any](n int) *infoCache[V] {
	return &infoCache[V]{byK: make(map[string]int, n), ring: make([]infoSlot[V], n)}
}

// get returns the value of key, calling build when it is not cached. A
// key longer than maxHelloKey is built for its caller alone.
func (c *infoCache[V]) get(key []byte, build func() V) V {
	if len(key) > maxHelloKey {
		return build()
	}
	c.mu.Lock()
	if i, ok := c.byK[string(key)]; ok {
		v := c.ring[i].v
		c.mu.Unlock()
		return v
	}
	c.mu.Unlock()
	v := build()
	c.mu.Lock()
	if _, ok := c.byK[string(key)]; !ok {
		e := &c.ring[c.next]
		if e.set {
			delete(c.byK, e.key)
		}
		*e = infoSlot[V]{key: string(key), v: v, set: true}
		c.byK[e.key] = c.next
		c.next = (c.next + 1) % len(c.ring)
	}
	c.mu.Unlock()
	return v
}

// helloCache holds the helloInfo of recent ClientHello offers.
type helloCache struct{ c *infoCache[*helloInfo] }

func newHelloCache(n int) *helloCache { return &helloCache{newInfoCache[*helloInfo](n)} }

// get returns h's helloInfo, from the cache when the same offer was seen
// before.
func (hc *helloCache) get(h *clientHello, maxList int) *helloInfo {
	var kb [512]byte
	key := appendHelloKey(kb[:0], h)
	return hc.c.get(key, func() *helloInfo { return newHelloInfo(h, maxList) })
}

// serverInfo is what a record takes from a ServerHello's version, cipher
// and extensions: the extensions without GREASE (capped) and JA3S.
type serverInfo struct {
	extensions       []uint16
	truncated        bool
	ja3s, ja3sString string
}

// newServerInfo computes h's serverInfo, as serverHelloMsg did.
func newServerInfo(h *serverHello, maxList int) *serverInfo {
	in := &serverInfo{extensions: withoutGREASE(h.extensions)}
	if len(in.extensions) > maxList {
		in.extensions, in.truncated = in.extensions[:maxList:maxList], true
	} else if len(in.extensions) == 0 {
		in.extensions = nil
	}
	in.ja3sString, in.ja3s = ja3s(h)
	return in
}

// serverCache holds the serverInfo of recent ServerHello choices.
type serverCache struct{ c *infoCache[*serverInfo] }

func newServerCache(n int) *serverCache { return &serverCache{newInfoCache[*serverInfo](n)} }

// get returns h's serverInfo, from the cache when the same choice was
// seen before.
func (sc *serverCache) get(h *serverHello, maxList int) *serverInfo {
	var kb [128]byte
	key := append(kb[:0], byte(h.version>>8), byte(h.version), byte(h.cipher>>8), byte(h.cipher))
	for _, v := range h.extensions {
		if !isGREASE(v) {
			key = append(key, byte(v>>8), byte(v))
		}
	}
	return sc.c.get(key, func() *serverInfo { return newServerInfo(h, maxList) })
}
