package pcapstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
)

// sharedStore is the store of the merged query captures, built once.
func queryStore(t *testing.T) (*Store, string, []pkt) {
	t.Helper()
	var files []string
	for _, rel := range queryCaptures {
		files = append(files, pcapPath(t, rel))
	}
	orig, all := mergedCapture(t, files)
	return importStore(t, Config{FileSize: 64 << 10}, orig), orig, all
}

// TestCommunityIDMatchesTshark checks "community-id ID" against Wireshark's
// own Community ID dissector: for every flow id tshark gives the packets
// of the merged captures, the query returns exactly those packets, in
// order.
func TestCommunityIDMatchesTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	s, orig, all := queryStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tshark, "--enable-protocol", "communityid", "-r", orig, "-T", "fields", "-e", "communityid").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(all) {
		t.Fatalf("tshark printed %d lines for %d packets", len(lines), len(all))
	}
	byID := map[string][]pkt{}
	var order []string
	for i, id := range lines {
		if id == "" {
			continue
		}
		if _, ok := byID[id]; !ok {
			order = append(order, id)
		}
		byID[id] = append(byID[id], all[i])
	}
	if len(order) < 100 {
		t.Fatalf("only %d flows", len(order))
	}
	// Every flow would take long (one audit line each): take every 5th.
	checked := 0
	for i := 0; i < len(order); i += 5 {
		id := order[i]
		got, _ := export(t, s, Query{Expr: "community-id " + id})
		samePackets(t, "community-id "+id, got, byID[id])
		checked++
	}
	t.Logf("%d of %d flows checked", checked, len(order))
}

// TestTimeWindowAndLimits checks --from/--to against tcpdump's result cut
// by time, and the packet and byte limits.
func TestTimeWindowAndLimits(t *testing.T) {
	tcpdump := testenv.RequireTool(t, "tcpdump")
	s, orig, all := queryStore(t)
	tcp := tcpdumpPackets(t, tcpdump, orig, tcpdumpExpr("tcp", true))
	from, to := tcp[len(tcp)/4].ts, tcp[len(tcp)/2].ts
	var want []pkt
	for _, p := range tcp {
		if p.ts >= from && p.ts <= to {
			want = append(want, p)
		}
	}
	got, res := export(t, s, Query{Expr: "tcp", From: tsTime(from), To: tsTime(to)})
	samePackets(t, "tcp in a window", got, want)
	if res.Truncated || res.First.UnixNano() != want[0].ts || res.Last.UnixNano() != want[len(want)-1].ts {
		t.Errorf("result %+v", res)
	}
	// Everything in a window: the time blocks of the index are used.
	got, _ = export(t, s, Query{From: tsTime(from), To: tsTime(from)})
	for _, p := range got {
		if p.ts != from {
			t.Fatalf("packet at %v outside the window", p)
		}
	}
	if len(got) == 0 {
		t.Error("no packet at the window's instant")
	}

	got, res = export(t, s, Query{Expr: "tcp", MaxPackets: 10})
	samePackets(t, "first 10 tcp packets", got, tcp[:10])
	if !res.Truncated || res.Packets != 10 {
		t.Errorf("limit 10: %+v", res)
	}
	limit := int64(fileHeaderLen)
	n := 0
	for _, p := range all[:50] {
		limit += recHeaderLen + int64(len(p.data))
		n++
	}
	got, res = export(t, s, Query{MaxBytes: limit + 10})
	samePackets(t, "byte limit", got, all[:n])
	if !res.Truncated || res.Bytes > limit+10 {
		t.Errorf("byte limit %d: %+v", limit+10, res)
	}
}

// TestExportHashAndAudit checks that the result's SHA-256 is that of the
// bytes written and that each export is in the audit log.
func TestExportHashAndAudit(t *testing.T) {
	s := importStore(t, Config{}, pcapPath(t, "smb/sv_20171220_smb_psexec_add_user.pcap"))
	var buf bytes.Buffer
	res, err := s.Export(context.Background(), Query{Expr: "port 445", Who: "dr-sato", Why: "case 2024-17", Output: "case.pcap"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256Hex(buf.Bytes()); sum != res.SHA256 || int64(buf.Len()) != res.Bytes || res.Format != "pcap" {
		t.Errorf("result %+v, written %d bytes with SHA-256 %s", res, buf.Len(), sum)
	}
	if _, err := s.Export(context.Background(), Query{Expr: "alert nope", Who: "dr-sato"}, &buf); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown alert: %v, want ErrNotFound", err)
	}
	entries, problems, err := s.Audit()
	if err != nil || len(problems) > 0 || len(entries) != 2 {
		t.Fatalf("audit: %d entries, %v, %v", len(entries), problems, err)
	}
	e := entries[0]
	if e.Who != "dr-sato" || e.Why != "case 2024-17" || e.Query != "port 445" || e.Packets != res.Packets || e.SHA256 != res.SHA256 || e.Output != "case.pcap" || len(e.Files) != 1 {
		t.Errorf("audit entry %+v for result %+v", e, res)
	}
	if entries[1].Error == "" || entries[1].Packets != 0 {
		t.Errorf("the failed export's audit entry %+v", entries[1])
	}
}

// TestMixedLinkTypes stores Ethernet and raw IP packets and checks that a
// result spanning both is pcapng that tshark reads, with every packet.
func TestMixedLinkTypes(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	src := pcapPath(t, "dns/zeek_dns-edns-ecs.pcap")
	frames, infos, _, err := pcaptest.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	var rawInfos []gopacket.CaptureInfo
	for i, f := range frames {
		raw = append(raw, pcaptest.ToRaw(f))
		ci := infos[i]
		ci.Timestamp = ci.Timestamp.Add(time.Hour)
		rawInfos = append(rawInfos, ci)
	}
	rawPath := filepath.Join(t.TempDir(), "raw.pcap")
	if err := pcaptest.WritePcap(rawPath, layers.LinkTypeRaw, raw, rawInfos); err != nil {
		t.Fatal(err)
	}
	s := importStore(t, Config{}, src, rawPath)
	var buf bytes.Buffer
	res, err := s.Export(context.Background(), Query{}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "pcapng" || len(res.Files) < 2 {
		t.Fatalf("result %+v, want pcapng from several files", res)
	}
	out := filepath.Join(t.TempDir(), "mixed.pcapng")
	os.WriteFile(out, buf.Bytes(), 0o600)
	b, err := exec.Command(tshark, "-r", out, "-T", "fields", "-e", "frame.time_epoch", "-e", "dns.id").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if uint64(len(lines)) != res.Packets || res.Packets != 2*uint64(len(frames)) {
		t.Errorf("tshark read %d packets of %d (capture has %d per link type)", len(lines), res.Packets, len(frames))
	}
}

// TestSyntaxErrors checks that bad expressions are refused with the
// position of the problem.
func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		pos  int
		msg  string
	}{
		{"host 10.0.0.1 and port htp", 23, `"htp" is not a port number`},
		{"host", 4, "expected a value"},
		{"host example.org", 5, "host names are not resolved"},
		{"tcp host 10.0.0.1", 4, "does not qualify host"},
		{"(tcp or udp", 0, `unclosed "("`},
		{"tcp)", 3, `unbalanced ")"`},
		{"tcp udp", 4, `expected "and" or "or"`},
		{"host 10.0.0.1 &", 14, `did you mean "&&"`},
		{"net 10.0.0.1/8", 4, "host bits set"},
		{"community-id 1:abc", 13, "not a Community ID"},
		{"port 99999", 5, "not a port number"},
		{"ip host ::1", 8, "IPv6 address"},
		{"not", 3, "at the end of the query"},
		{"alert", 5, "expected an alert id"},
		{"tcp and and udp", 8, "expected a primitive"},
		{"ip proto x", 9, "protocol number"},
		{"host 1.2.3.4 and \x01", 17, "unexpected character"},
	} {
		_, err := ParseExpr(tc.expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a *SyntaxError", tc.expr, err)
			continue
		}
		if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%q: column %d %q, want column %d %q", tc.expr, se.Pos+1, se.Msg, tc.pos+1, tc.msg)
		}
		if d := se.Detail(); !strings.HasSuffix(d, "\n  "+strings.Repeat(" ", tc.pos)+"^") {
			t.Errorf("%q: detail has no caret under column %d:\n%s", tc.expr, tc.pos+1, d)
		}
	}
	deep := strings.Repeat("(", 200) + "tcp" + strings.Repeat(")", 200)
	if _, err := ParseExpr(deep); err == nil {
		t.Error("200 nested parentheses accepted")
	}
}

// TestParseRoundTrip checks precedence and qualifier inheritance through
// the parsed tree.
func TestParseRoundTrip(t *testing.T) {
	for expr, want := range map[string]string{
		"host 10.0.0.1 or host 10.0.0.2 and port 80": "((host 10.0.0.1 or host 10.0.0.2) and port 80)",
		"not tcp and udp":               "(not tcp and udp)",
		"src host 10.0.0.1 or 10.0.0.2": "(src host 10.0.0.1 or src host 10.0.0.2)",
		"tcp dst port 80 or 443":        "(tcp dst port 80 or tcp dst port 443)",
		"src or dst net 10.1":           "net 10.1.0.0/16",
		"10.0.0.1":                      "host 10.0.0.1",
		"dst 10.0.0.1":                  "dst host 10.0.0.1",
		"ip6 proto 58":                  "ip6 proto 58",
		"portrange 6000-6010":           "portrange 6000-6010",
		"port domain":                   "port 53",
	} {
		e, err := ParseExpr(expr)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		if got := e.root.String(); got != want {
			t.Errorf("%q parsed as %s, want %s", expr, got, want)
		}
	}
}
