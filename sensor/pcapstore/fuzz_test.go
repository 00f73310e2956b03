package pcapstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseExpr: any input gives an expression or a *SyntaxError whose
// position lies within the input; a parsed expression evaluates without
// panicking.
func FuzzParseExpr(f *testing.F) {
	for _, e := range filterExprs {
		f.Add(e)
	}
	for _, e := range []string{"host 10.0.0.1 and port htp", "(tcp or udp", "community-id 1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
		"src or dst net 10.1 mask 255.255.0.0", "alert a-1 and not (port 80 || icmp6)", "ip6 proto 58 && !arp"} {
		f.Add(e)
	}
	tuples := []tuple{
		{kind: kindIPv4, flags: fProto | fPorts | fTrans, proto: protoTCP, tproto: protoTCP, sport: 445, dport: 50000,
			src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("192.168.1.2")},
		{kind: kindIPv6, flags: fProto | fTrans, proto: protoICMPv6, tproto: protoICMPv6, sport: 135,
			src: netip.MustParseAddr("fe80::1"), dst: netip.MustParseAddr("ff02::1")},
		{kind: kindARP, src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("10.0.0.2")},
		{kind: kindIPv4, flags: fCutAddr | fCutProto},
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: %T %v, want *SyntaxError", s, err, err)
			}
			if len(s) <= maxExprLen && (se.Pos < 0 || se.Pos > len(s)) {
				t.Fatalf("%q: position %d outside the input", s, se.Pos)
			}
			return
		}
		pin := &Pin{AlertID: "a"}
		var bind func(n *node)
		bind = func(n *node) {
			if n == nil {
				return
			}
			if n.op == opPrim && n.p.kind == pAlert {
				n.p.pin = pin
			}
			bind(n.l)
			bind(n.r)
		}
		bind(e.root)
		for i := range tuples {
			c := evalCtx{hasTime: true}
			if o := evalRoot(e.root, &tuples[i], &c); o != oT && o != oF && o != oA {
				t.Fatalf("%q: a packet evaluates to %b", s, o)
			}
			c.hasTime = false
			evalRoot(e.root, &tuples[i], &c)
		}
		_ = e.root.String()
	})
}

// FuzzIndex: any bytes given as an index file give an error or an index
// whose every lookup, entry and posting list can be read without a panic.
func FuzzIndex(f *testing.F) {
	s := importStore(f, Config{FileSize: 64 << 10}, pcapPath(f, "communityid/combined.pcap.gz"), pcapPath(f, "dns/zeek_ipv6-fragmented-dns.pcap"))
	idx, _ := filepath.Glob(filepath.Join(s.Dir(), "*.idx"))
	if len(idx) == 0 {
		f.Fatal("no index files to seed from")
	}
	for _, p := range idx {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	var plans []*plan
	for _, q := range []string{"", "host 192.168.0.1 or net fe80::/10", "tcp port 80 or portrange 1-1024", "community-id 1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "not udp"} {
		e, err := ParseExpr(q)
		if err != nil {
			f.Fatal(err)
		}
		plans = append(plans, &plan{root: e.root, from: math.MinInt64, to: math.MaxInt64})
	}
	plans = append(plans, &plan{from: 1e18, to: 2e18})
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		if fixCRC && len(b) >= idxHeaderLen {
			// Let the fuzzer past the header checksum to the sections.
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint32(b[124:], crc32.Checksum(b[:124], crcTable))
		}
		x, err := parseIndex(b)
		if err != nil {
			if !errors.Is(err, ErrBadIndex) {
				t.Fatalf("error %v does not wrap ErrBadIndex", err)
			}
			return
		}
		for _, p := range plans {
			offs, err := x.offsets(p)
			if err == nil {
				for i, o := range offs {
					if int64(o) >= x.dataSize || i > 0 && offs[i-1] > o {
						t.Fatalf("offset %d of a %d-byte file, or out of order", o, x.dataSize)
					}
				}
			}
		}
		for i := uint32(0); i < x.numEntries() && i < 1<<16; i++ {
			_, po, n, err := x.entry(i)
			if err != nil {
				continue
			}
			x.postings(nil, po, n)
		}
	})
}

// FuzzPacket: any frame of any supported link type is read without a
// panic, and as a packet file record stream too.
func FuzzPacket(f *testing.F) {
	pkts, _ := readPackets(f, pcapPath(f, "communityid/combined.pcap.gz"))
	for _, p := range pkts {
		f.Add(p.data, uint16(linkEthernet))
	}
	f.Add([]byte{0x45, 0, 0, 20}, uint16(linkRaw))
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		var tp tuple
		extract(data, uint32(link), &tp)
		communityID(0, &tp)
		c := tp.canonical()
		if c != tp && c != tp.swapped() {
			t.Fatal("canonical is neither direction")
		}
		file := appendFileHeader(nil, uint32(link))
		file = append(file, data...)
		scanRecords(bytes.NewReader(file), func(off int64, h recHeader, d []byte) error {
			var t2 tuple
			extract(d, uint32(link), &t2)
			return nil
		})
	})
}
