package pcapstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
	"mamori/sensor"
)

// testClock is a settable wall clock for retention, pins and logs.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// importStore imports captures into a new store under t.TempDir() and
// returns it opened for reading.
func importStore(t testing.TB, cfg Config, files ...string) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	w, err := OpenWriter(cfg, Options{Lossless: true, Report: func(err error) { t.Logf("report: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), w, files); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Dropped+st.Lost+st.WriteErrors != 0 {
		t.Fatalf("import lost packets: %+v", st)
	}
	s, err := Open(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func export(t testing.TB, s *Store, q Query) ([]pkt, Result) {
	t.Helper()
	var buf bytes.Buffer
	if q.Who == "" {
		q.Who = "test"
	}
	res, err := s.Export(context.Background(), q, &buf)
	if err != nil {
		t.Fatalf("export %q: %v", q.Expr, err)
	}
	return readPcapBytes(t, buf.Bytes()), res
}

// queryCaptures are the bundled captures the query tests import: TCP
// scans and sessions, SMB, IPv6 with fragments, mDNS, ICMP and ICMPv6,
// ARP, SCTP, VLAN tags, a capture out of time order, pcapng.
var queryCaptures = []string{
	"recorded/benign_smb_rdp.pcap",
	"recorded/rdp_scan_nmap.pcap",
	"dns/zeek_ipv6-fragmented-dns.pcap",
	"dns/zeek_dns_mdns.pcap",
	"communityid/combined.pcap.gz",
	"communityid/sctp.pcap",
	"communityid/icmp.pcap",
	"communityid/arp.pcap",
	"rdp/ndpi_rdp_over_tls.pcap",
	"rdp/zeek_rdpeudp-handshake-success.pcap",
	"smb/mmt_37.WannaCry.pcap",
	"beacon/zeek_merlinc2.pcapng",
	"other/slips_test7-malicious.pcap",
}

// mergedCapture writes the packets of captures, merged in time order as
// an import merges them, to one pcap file: the original tcpdump reads.
func mergedCapture(t testing.TB, files []string) (string, []pkt) {
	t.Helper()
	src, err := sensor.OpenFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var frames [][]byte
	var infos []gopacket.CaptureInfo
	var pkts []pkt
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if l := src.LinkType(ci.InterfaceIndex); l != layers.LinkTypeEthernet {
			t.Fatalf("link type %v: the merged capture is Ethernet only", l)
		}
		d := bytes.Clone(data)
		frames = append(frames, d)
		infos = append(infos, ci)
		pkts = append(pkts, pkt{ts: ci.Timestamp.UnixNano(), orig: ci.Length, data: d})
	}
	path := filepath.Join(t.TempDir(), "merged.pcap")
	if err := pcaptest.WritePcap(path, layers.LinkTypeEthernet, frames, infos); err != nil {
		t.Fatal(err)
	}
	return path, pkts
}

// TestQueryMatchesTcpdump imports real captures into a store of small files
// and checks that, for many expressions, the packets a query returns are
// byte for byte, in order, the packets tcpdump -r ORIGINAL -w - EXPR
// returns (ORIGINAL: the captures merged in time order, as imported).
func TestQueryMatchesTcpdump(t *testing.T) {
	tcpdump := testenv.RequireTool(t, "tcpdump")
	var files []string
	for _, rel := range queryCaptures {
		files = append(files, pcapPath(t, rel))
	}
	orig, all := mergedCapture(t, files)
	s := importStore(t, Config{FileSize: 64 << 10}, orig)
	if fs, _ := s.Files(); len(fs) < 20 {
		t.Fatalf("only %d store files: the test wants many", len(fs))
	}
	vlan := hasVLAN(all, linkEthernet)
	if !vlan {
		t.Fatal("no VLAN-tagged packets: the captures changed")
	}
	exprs := fillAll(filterExprs, all, linkEthernet)
	for _, expr := range exprs {
		got, res := export(t, s, Query{Expr: expr})
		want := tcpdumpPackets(t, tcpdump, orig, tcpdumpExpr(expr, vlan))
		samePackets(t, expr, got, want)
		t.Logf("%-60s %6d packets (%d candidates)", expr, len(got), res.Candidates)
		if int(res.Packets) != len(got) {
			t.Errorf("%s: result says %d packets, file holds %d", expr, res.Packets, len(got))
		}
	}
}
