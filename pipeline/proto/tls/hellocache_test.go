package tls

import (
	"fmt"
	"reflect"
	"testing"

	"mamori/pipeline/proto/prototest"
)

// TestHelloInfoJSON: a record whose client lists come from the shared
// helloInfo (their arrays copied) writes what the same record writes name
// by name from its fields, on every real capture.
func TestHelloInfoJSON(t *testing.T) {
	n := 0
	for _, c := range captures {
		for _, r := range records(t, c) {
			if r.Client.hello == nil {
				continue
			}
			n++
			plain := *r
			plain.Client.hello = nil
			got := string(r.AppendJSON(nil, &prototest.Observer))
			want := string(plain.AppendJSON(nil, &prototest.Observer))
			if got != want {
				t.Errorf("%s: from helloInfo\n%s\nfrom fields\n%s", c, got, want)
			}
		}
	}
	if n == 0 {
		t.Fatal("no record with a helloInfo")
	}
}

// TestHelloCache: offers that differ only in GREASE values share one
// helloInfo equal to the one computed alone; offers that differ in
// anything a record shows or a fingerprint covers get their own; a full
// cache evicts and still answers correctly.
func TestHelloCache(t *testing.T) {
	base := func() clientHello {
		return clientHello{
			version: 0x0303, hasSNI: true,
			ciphers:      []uint16{0x1301, 0xc02f, 0x009c},
			extensions:   []uint16{0, 10, 11, 13, 16, 43},
			versions:     []uint16{0x0304, 0x0303},
			groups:       []uint16{29, 23},
			sigAlgs:      []uint16{0x0403, 0x0804},
			alpn:         []string{"h2", "http/1.1"},
			pointFormats: []uint8{0},
		}
	}
	withGREASE := func(g uint16) clientHello {
		h := base()
		h.ciphers = append([]uint16{g}, h.ciphers...)
		h.extensions = append(h.extensions, g)
		h.groups = append([]uint16{g}, h.groups...)
		return h
	}
	variants := map[string]func(h *clientHello){
		"cipher":     func(h *clientHello) { h.ciphers[1] = 0xc030 },
		"order":      func(h *clientHello) { h.ciphers[0], h.ciphers[1] = h.ciphers[1], h.ciphers[0] },
		"version":    func(h *clientHello) { h.version = 0x0301 },
		"no sni":     func(h *clientHello) { h.hasSNI = false },
		"sslv2":      func(h *clientHello) { h.sslv2 = true },
		"alpn":       func(h *clientHello) { h.alpn = []string{"h2", "http/1.0"} },
		"alpn split": func(h *clientHello) { h.alpn = []string{"h2h", "ttp/1.1"} },
		"points":     func(h *clientHello) { h.pointFormats = []uint8{0, 1} },
		"sigalgs":    func(h *clientHello) { h.sigAlgs = h.sigAlgs[:1] },
		"moved":      func(h *clientHello) { h.groups = append(h.groups, h.sigAlgs[0]); h.sigAlgs = h.sigAlgs[1:] },
		"grease":     func(h *clientHello) { h.versions = append(h.versions, 0x2a2a) },
	}
	for _, size := range []int{256, 1} {
		hc := newHelloCache(size)
		h := base()
		first := hc.get(&h, 512)
		if want := newHelloInfo(&h, 512); !reflect.DeepEqual(first, want) {
			t.Fatalf("cached %+v\nalone %+v", first, want)
		}
		if first.grease {
			t.Error("grease without GREASE")
		}
		var g1, g2 *helloInfo
		for i, g := range []uint16{0x0a0a, 0xdada} {
			gh := withGREASE(g)
			in := hc.get(&gh, 512)
			if want := newHelloInfo(&gh, 512); !reflect.DeepEqual(in, want) {
				t.Fatalf("GREASE %#x: cached %+v\nalone %+v", g, in, want)
			}
			if i == 0 {
				g1 = in
			} else {
				g2 = in
			}
		}
		if size > 1 && g1 != g2 {
			t.Error("offers differing in GREASE values only were not shared")
		}
		for name, change := range variants {
			v := base()
			change(&v)
			in := hc.get(&v, 512)
			if want := newHelloInfo(&v, 512); !reflect.DeepEqual(in, want) {
				t.Errorf("%s (cache %d): cached %+v\nalone %+v", name, size, in, want)
			}
			if reflect.DeepEqual(in, first) {
				t.Errorf("%s: same helloInfo as the base offer", name)
			}
		}
	}
}

// TestHelloCacheTruncated: the list cap applies to cached offers, and a
// record from a cached offer still notes the truncation.
func TestHelloCacheTruncated(t *testing.T) {
	h := clientHello{version: 0x0303, ciphers: []uint16{1, 2, 3, 4}, alpn: []string{"a", "b", "c"}}
	hc := newHelloCache(4)
	for range 2 {
		in := hc.get(&h, 2)
		if !in.truncated || len(in.ciphers) != 2 || len(in.alpn) != 2 {
			t.Fatalf("not truncated: %+v", in)
		}
	}
}

// TestHelloParseReuse: a clientHello parsed into again (as the pooled one
// is) holds the second hello only, nothing left of the first.
func TestHelloParseReuse(t *testing.T) {
	full := hello{version: 0x0303, sid: make([]byte, 32), ciphers: []uint16{0x0a0a, 0x1301, 0xc02f},
		exts: [][]byte{extSNI("a.example"), alpnExt("h2", "x-custom"), extVersions(0x0304, 0x0303),
			extGroups(29, 23), extSigAlgs(0x0403), extPoints(0, 1)}}.body()
	bare := hello{version: 0x0301, ciphers: []uint16{0x002f}, exts: [][]byte{}}.body()
	norm := func(h clientHello) string {
		return fmt.Sprintf("%d %d %v %v %q %v %q %v %v %v %v %v %v", h.version, h.sessionID, h.ciphers, h.extensions, h.serverName, h.hasSNI,
			h.alpn, h.versions, h.groups, h.pointFormats, h.sigAlgs, h.ech, h.sslv2)
	}
	var reused clientHello
	for _, b := range [][]byte{full, bare, full, bare} {
		fresh, ok := parseClientHello(b)
		if !ok || !reused.parse(b) {
			t.Fatal("parse failed")
		}
		if got, want := norm(reused), norm(fresh); got != want {
			t.Errorf("reused %s\nfresh  %s", got, want)
		}
	}
	if alpnString([]byte("x-custom")) != "x-custom" || alpnString([]byte("h2")) != "h2" {
		t.Error("alpnString")
	}
}

// TestServerCache: ServerHellos that differ only in GREASE share one
// serverInfo equal to the one computed alone; a different choice gets its
// own.
func TestServerCache(t *testing.T) {
	sc := newServerCache(2)
	a := serverHello{version: 0x0303, cipher: 0xc02f, extensions: []uint16{0xff01, 0x0a0a, 11}}
	b := serverHello{version: 0x0303, cipher: 0xc02f, extensions: []uint16{0xff01, 11, 0x3a3a}}
	c := serverHello{version: 0x0303, cipher: 0xc030, extensions: []uint16{0xff01, 11}}
	ia, ib, ic := sc.get(&a, 512), sc.get(&b, 512), sc.get(&c, 512)
	if ia != ib {
		t.Error("GREASE-only difference not shared")
	}
	for _, x := range []struct {
		h  *serverHello
		in *serverInfo
	}{{&a, ia}, {&c, ic}} {
		if want := newServerInfo(x.h, 512); !reflect.DeepEqual(x.in, want) {
			t.Errorf("cached %+v\nalone %+v", x.in, want)
		}
	}
	if ia.ja3s == ic.ja3s {
		t.Error("different ciphers, same JA3S")
	}
}
