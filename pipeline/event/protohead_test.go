package event

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// TestProtoRunsFollowContent: the cached runs are found by content, so an
// Observer changed in place, or a category slice changed in place, gives
// the new bytes, not the runs cached for the old values.
func TestProtoRunsFollowContent(t *testing.T) {
	o := &Observer{Hostname: "a", Version: "1"}
	cat := []string{"network", "web"}
	b := &Base{
		Conn:      Conn{Source: netip.MustParseAddrPort("10.0.0.1:1"), Destination: netip.MustParseAddrPort("10.0.0.2:2"), Transport: 6, Interface: "eth0"},
		Timestamp: time.Unix(1700000000, 5).UTC(), Protocol: "http", Action: "x", Category: cat,
	}
	check := func(step string) {
		t.Helper()
		want := legacyAppendProto(nil, o, "mamori.test", b, nil)
		if got := AppendProto(nil, o, "mamori.test", b, nil); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %s\nwant %s", step, got, want)
		}
	}
	check("first")
	check("cached")
	o.Hostname, o.Namespace = "b", "ns"
	check("observer changed")
	cat[1] = "file"
	check("category changed")
	b.Interface = "eth1"
	check("interface changed")
}
