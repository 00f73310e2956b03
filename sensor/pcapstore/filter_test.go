package pcapstore

import (
	"encoding/json"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCommunityIDVectors checks communityID against the specification's
// published baseline (testdata/communityid, copied from
// corelight/community-id-spec, BSD licence in COPYING). Each vector is a
// packet (proto, saddr, daddr, sport, dport; ICMP type and code as ports).
func TestCommunityIDVectors(t *testing.T) {
	for _, tc := range []struct {
		file string
		seed uint16
	}{
		{"testdata/communityid/baseline_deflt.json", 0},
		{"testdata/communityid/baseline_seed1.json", 1},
	} {
		raw, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var vecs []struct {
			Proto       uint8  `json:"proto"`
			Saddr       string `json:"saddr"`
			Daddr       string `json:"daddr"`
			Sport       uint16 `json:"sport"`
			Dport       uint16 `json:"dport"`
			CommunityID string `json:"communityid"`
		}
		if err := json.Unmarshal(raw, &vecs); err != nil {
			t.Fatal(err)
		}
		if len(vecs) < 20 {
			t.Fatalf("only %d vectors in %s", len(vecs), tc.file)
		}
		for _, v := range vecs {
			tp := tuple{kind: kindIPv4, proto: v.Proto, tproto: v.Proto, src: netip.MustParseAddr(v.Saddr), dst: netip.MustParseAddr(v.Daddr),
				sport: v.Sport, dport: v.Dport, flags: fProto}
			if tp.src.Is6() {
				tp.kind = kindIPv6
			}
			if hasPorts(v.Proto) || v.Proto == protoICMP || v.Proto == protoICMPv6 {
				tp.flags |= fTrans
			} else {
				tp.sport, tp.dport = 0, 0
			}
			got, ok := communityID(tc.seed, &tp)
			if !ok || got.String() != v.CommunityID {
				t.Errorf("%s: proto %d %s:%d → %s:%d: got %s (ok %v), want %s", tc.file, v.Proto, v.Saddr, v.Sport, v.Daddr, v.Dport, got, ok, v.CommunityID)
			}
			if c, err := ParseCommunityID(v.CommunityID); err != nil || c != got && ok {
				t.Errorf("ParseCommunityID(%s) = %v, %v", v.CommunityID, c, err)
			}
		}
	}
}

// filterExprs are the expressions every capture is checked with; HOST1,
// HOST2, NET1 and PORT1 are replaced by values taken from the capture.
var filterExprs = []string{
	"",
	"host HOST1",
	"host HOST2",
	"src host HOST1",
	"dst host HOST1",
	"src and dst host HOST1",
	"src or dst host HOST2",
	"host HOST1 and host HOST2",
	"host HOST1 or HOST2",
	"net NET1",
	"not net NET1",
	"host V6HOST",
	"ip6 host V6HOST",
	"src host V6HOST or dst net V6NET",
	"net V6NET and udp",
	"net 10",
	"net 192.168",
	"net 10.0.0.0 mask 255.0.0.0",
	"port PORT1",
	"src port PORT1",
	"dst port PORT1",
	"tcp port PORT1",
	"udp port PORT1",
	"portrange 1-1023",
	"port 53 or 80",
	"tcp",
	"udp",
	"icmp",
	"icmp6",
	"ip",
	"ip6",
	"arp",
	"sctp",
	"not tcp",
	"not ip",
	"ip proto 17",
	"ip6 proto 58",
	"proto 6",
	"tcp and not port PORT1",
	"host HOST1 and not port PORT1",
	"(tcp or udp) and not host HOST1",
	"host HOST1 or host HOST2 and port PORT1",
	"not (host HOST1 or udp) and ip",
	"! host HOST1 && (tcp || icmp)",
	"ip host HOST1",
	"arp host HOST1",
	"udp and (port 53 or port 5353)",
	"tcp and portrange 440-450",
}

// fillAll replaces HOST1, HOST2, V6HOST, NET1, V6NET and PORT1 in exprs
// by values taken from the packets (the addresses of the first IPv4 and
// IPv6 packets, the first port): the test picks its inputs from the
// capture, the expected results come from tcpdump.
func fillAll(exprs []string, pkts []pkt, link uint32) []string {
	v := map[string]string{"HOST1": "192.0.2.1", "HOST2": "192.0.2.2", "NET1": "192.0.2.0/24", "PORT1": "80",
		"V6HOST": "2001:db8::1", "V6NET": "2001:db8::/32"}
	got4, got6, gotPort := false, false, false
	for _, p := range pkts {
		var tp tuple
		extract(p.data, link, &tp)
		switch {
		case !got4 && tp.kind == kindIPv4 && tp.flags&fCutAddr == 0:
			v["HOST1"], v["HOST2"] = tp.src.String(), tp.dst.String()
			v["NET1"] = netip.PrefixFrom(tp.src, 24).Masked().String()
			got4 = true
		case !got6 && tp.kind == kindIPv6 && tp.flags&fCutAddr == 0:
			v["V6HOST"] = tp.src.String()
			v["V6NET"] = netip.PrefixFrom(tp.dst, 64).Masked().String()
			got6 = true
		}
		if !gotPort && tp.flags&fPorts != 0 {
			v["PORT1"] = strconv.Itoa(int(tp.dport))
			gotPort = true
		}
	}
	out := make([]string, len(exprs))
	for i, e := range exprs {
		for _, k := range []string{"HOST1", "HOST2", "NET1", "PORT1", "V6HOST", "V6NET"} {
			e = strings.ReplaceAll(e, k, v[k])
		}
		out[i] = e
	}
	return out
}
