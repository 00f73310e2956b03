package event

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// The flow encoder's helpers must write what the general functions they
// stand in for write.

func TestAppendTimeSameDay(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	day := int64(86400)
	for i := range 200000 {
		ref := time.Unix(r.Int64N(maxTimeSec+2*day)-day, r.Int64N(1e9))
		var tm time.Time
		switch i % 4 {
		case 0: // same day
			tm = time.Unix(ref.Unix()/day*day+r.Int64N(day), r.Int64N(1e9))
		case 1: // around midnight
			tm = time.Unix(ref.Unix()/day*day+r.Int64N(3)-1, r.Int64N(1e9))
		case 2: // anywhere
			tm = time.Unix(r.Int64N(maxTimeSec+2*day)-day, r.Int64N(1e9))
		case 3: // a second apart, either way
			tm = ref.Add(time.Duration(r.Int64N(2e9) - 1e9))
		}
		if r.IntN(2) == 0 {
			tm = tm.In(time.FixedZone("X", 3600*r.IntN(10)))
		}
		refText := AppendTime(nil, ref)
		want := AppendTime([]byte("p"), tm)
		if got := appendTimeSameDay([]byte("p"), tm, ref, refText); !bytes.Equal(got, want) {
			t.Fatalf("%v with %v: got %s, want %s", tm, ref, got, want)
		}
	}
}

func TestAppendAddrMatchesAppendTo(t *testing.T) {
	addrs := []netip.Addr{{}, netip.MustParseAddr("::"), netip.MustParseAddr("::ffff:1.2.3.4"), netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("2001:db8::1")}
	for i := range 256 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{byte(i), byte(255 - i), byte(i * 7), byte(i / 3)}))
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 10000 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}))
	}
	for _, a := range addrs {
		if got, want := appendAddr([]byte("p"), a), a.AppendTo([]byte("p")); !bytes.Equal(got, want) {
			t.Fatalf("%v: got %s, want %s", a, got, want)
		}
	}
}

func TestAppendKeywordMatchesAppendQuoted(t *testing.T) {
	strs := append([]string{"SF", "S0", "RSTOS0", "internal", "outbound", "0123456789abcdef", "0123456789abcdefg", "tab\there", "long string with a \" quote in it"}, oddStrings...)
	for c := range 256 {
		strs = append(strs, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)}))
	}
	for _, s := range strs {
		if got, want := appendKeyword([]byte("p"), s), AppendQuoted([]byte("p"), s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	}
}

func TestAppendHex12(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 1000 {
		var id FlowID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		if got, want := appendHex12([]byte("p"), &id), hex.AppendEncode([]byte("p"), id[:]); !bytes.Equal(got, want) {
			t.Fatalf("%x: got %s, want %s", id, got, want)
		}
	}
}

// TestObserverCache writes the observer members for many observer and
// interface pairs, again and again, and after changing an observer: every
// time as appendObserver does, and the cache stays within its bound.
func TestObserverCache(t *testing.T) {
	observerRuns.Store(nil) // other tests' observers out
	obs := []*Observer{{Hostname: "vm", Version: "1"}, {Hostname: "sensor-1", Name: "ward \"7\"", Version: "0.1"}, {}}
	var ifaces []string
	for i := range 30 {
		ifaces = append(ifaces, fmt.Sprintf("f%d\xff.pcap", i))
	}
	for round := range 3 {
		for _, o := range obs {
			for _, iface := range ifaces {
				want := appendObserver([]byte("p"), o, iface)
				if got := appendObserverRun([]byte("p"), o, iface); !bytes.Equal(got, want) {
					t.Fatalf("round %d, %+v, %q: got %s, want %s", round, *o, iface, got, want)
				}
			}
		}
		obs[0].Hostname += strconv.Itoa(round) // changed in place
	}
	if n := len(*observerRuns.Load()); n != maxRuns {
		t.Errorf("%d observer runs cached, want the bound, %d", n, maxRuns)
	}
}
