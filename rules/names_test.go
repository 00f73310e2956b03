package rules

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"mamori/pipeline/event"
)

type sniRec struct {
	event.Base
	sni string
}

func (r *sniRec) Dataset() string                               { return "mamori.tls" }
func (r *sniRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *sniRec) ServerName() string                            { return r.sni }

type answerRec struct {
	event.Base
	q     string
	addrs []netip.Addr
}

func (r *answerRec) Dataset() string                               { return "mamori.dns" }
func (r *answerRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *answerRec) DNSResolution() (string, []netip.Addr)         { return r.q, r.addrs }

func namesFlow(id byte, dst string, final bool) *event.Flow {
	f := &event.Flow{Start: time.Unix(1e9, 0), Final: final}
	f.ID[0], f.ID[5] = id, id
	f.Source.IP = netip.MustParseAddr("10.0.0.1")
	f.Destination.IP = netip.MustParseAddr(dst)
	return f
}

// TestNames drives a detector's own memory and an engine's shared one
// with the same records: each asks the same questions and gets the same
// answers, but the shared one is fed and made to forget only by Done.
func TestNames(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.7")
	sni := &sniRec{sni: "Portal.Example.COM."}
	sni.FlowID[0], sni.FlowID[5], sni.Protocol = 1, 1, "tls"
	dns := &answerRec{q: "cdn.example.net", addrs: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.7")}}
	interim, final := namesFlow(1, "192.0.2.7", false), namesFlow(1, "192.0.2.7", true)

	tests := []struct {
		name string
		n    *Names
	}{
		{"own", NewNames(16)},
		{"shared", NewSharedNames(16, 16)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			feed := func(r event.Record) {
				if n.Shared() {
					n.Done(r) // the engine, after the detectors
				} else {
					n.Observe(r) // the detector itself
				}
			}
			want := []string{"portal.example.com", "cdn.example.net"}
			feed(sni)
			feed(dns)
			// An interim record: twice (two detectors), the same answer.
			for range 2 {
				if got := n.Flow(interim, peer); !slices.Equal(got, want) {
					t.Fatalf("interim: %q, want %q", got, want)
				}
			}
			feed(interim)
			// The final record: every detector still sees the server name.
			// (A detector's own memory forgets at once: it has one reader.)
			for i := range 2 {
				if got := n.Flow(final, peer); (i == 0 || n.Shared()) && !slices.Equal(got, want) {
					t.Fatalf("final, reader %d: %q, want %q", i, got, want)
				}
			}
			if got := n.Name(final, peer); n.Shared() && got != want[0] {
				t.Fatalf("Name: %q", got)
			}
			feed(final)
			// After it, the server name is forgotten; the DNS name stays.
			if got := n.Flow(final, peer); !slices.Equal(got, want[1:]) {
				t.Fatalf("after the final record: %q, want %q", got, want[1:])
			}
			if got := n.Flow(namesFlow(2, "192.0.2.8", true), netip.MustParseAddr("192.0.2.8")); got != nil {
				t.Fatalf("an unnamed peer: %q", got)
			}
		})
	}
}

// TestSharedNamesMemo: the answer remembered for one record is not given
// for another flow, another peer, or after Done.
func TestSharedNamesMemo(t *testing.T) {
	n := NewSharedNames(16, 16)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	n.Done(&answerRec{q: "a.example", addrs: []netip.Addr{a}})
	n.Done(&answerRec{q: "b.example", addrs: []netip.Addr{b}})
	f := namesFlow(3, "192.0.2.1", true)
	if got := n.Name(f, a); got != "a.example" {
		t.Fatalf("a: %q", got)
	}
	if got := n.Name(f, b); got != "b.example" {
		t.Fatalf("b after a for the same flow: %q", got)
	}
	if got := n.Name(namesFlow(4, "192.0.2.1", true), a); got != "a.example" {
		t.Fatalf("another flow: %q", got)
	}
	n.Done(&answerRec{q: "c.example", addrs: []netip.Addr{a}})
	if got := n.Name(f, a); got != "c.example" {
		t.Fatalf("a's new name after Done: %q", got)
	}
}

// TestNamesRepeatedName: a flow's records that repeat its server name
// (skipped as already known) leave the same names as putting each: after
// the flow's final record dropped it, after another flow's name evicted
// it, and when a record of the flow changes it.
func TestNamesRepeatedName(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.7")
	rec := func(id byte, name string) *sniRec {
		r := &sniRec{sni: name}
		r.FlowID[0], r.FlowID[5], r.Protocol = id, id, "http"
		return r
	}
	name := func(n *Names, id byte) string { return n.Name(namesFlow(id, "192.0.2.7", false), peer) }
	for _, shared := range []bool{false, true} {
		n := NewNamesSized(2, 16)
		n.shared = shared
		feed := func(r event.Record) {
			if shared {
				n.Done(r)
			} else {
				n.Observe(r)
			}
		}
		feed(rec(1, "a.example"))
		feed(rec(1, "a.example"))
		if got := name(n, 1); got != "a.example" {
			t.Fatalf("shared %v: repeated: %q", shared, got)
		}
		feed(rec(1, "b.example"))
		feed(rec(1, "a.example"))
		if got := name(n, 1); got != "a.example" {
			t.Fatalf("shared %v: changed back: %q", shared, got)
		}
		// The final record drops the name; the same name again is new.
		final := namesFlow(1, "192.0.2.7", true)
		if shared {
			n.Done(final)
		} else {
			n.Forget(final)
		}
		n.memo = false
		if got := name(n, 1); got != "" {
			t.Fatalf("shared %v: after the final record: %q", shared, got)
		}
		feed(rec(1, "a.example"))
		if got := name(n, 1); got != "a.example" {
			t.Fatalf("shared %v: put again after the drop: %q", shared, got)
		}
		// Two other flows evict it (the table holds two); then it is new.
		feed(rec(2, "c.example"))
		feed(rec(3, "d.example"))
		n.memo = false
		if got := name(n, 1); got != "" {
			t.Fatalf("shared %v: after eviction: %q", shared, got)
		}
		feed(rec(1, "a.example"))
		n.memo = false
		if got := name(n, 1); got != "a.example" {
			t.Fatalf("shared %v: put again after eviction: %q", shared, got)
		}
	}
}

// TestNamesAddrBound: IPv4 and IPv6 answers are found by their address
// (an IPv4-mapped answer by the plain address), and both kinds together
// stay within the bound: the memory starts over when it is full.
func TestNamesAddrBound(t *testing.T) {
	n := NewNamesSized(4, 3)
	v4, mapped, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.2"), netip.MustParseAddr("2001:db8::3")
	n.Observe(&answerRec{q: "a.example", addrs: []netip.Addr{v4, mapped, v6}})
	f := namesFlow(1, "192.0.2.1", false)
	for _, tc := range []struct {
		peer netip.Addr
		want string
	}{{v4, "a.example"}, {mapped.Unmap(), "a.example"}, {mapped, "a.example"}, {v6, "a.example"}, {netip.MustParseAddr("192.0.2.9"), ""}} {
		if got := n.Name(f, tc.peer); got != tc.want {
			t.Errorf("Name(%v) = %q, want %q", tc.peer, got, tc.want)
		}
	}
	if n.Cleared != 0 {
		t.Fatalf("cleared %d times with 3 of 3 held", n.Cleared)
	}
	n.Observe(&answerRec{q: "b.example", addrs: []netip.Addr{netip.MustParseAddr("2001:db8::4")}})
	if n.Cleared != 1 || len(n.byAddr4)+len(n.byAddr) != 1 || n.Name(f, v4) != "" || n.Name(f, netip.MustParseAddr("2001:db8::4")) != "b.example" {
		t.Errorf("after a fourth address: cleared %d, holding %d+%d; want a fresh memory holding the new one", n.Cleared, len(n.byAddr4), len(n.byAddr))
	}
}
