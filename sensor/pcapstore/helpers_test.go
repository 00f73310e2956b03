package pcapstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
)

// pkt is a packet record compared across tools: time, lengths and bytes.
type pkt struct {
	ts   int64
	orig int
	data []byte
}

func (p pkt) String() string {
	return fmt.Sprintf("%s len %d/%d", tsTime(p.ts).Format(time.RFC3339Nano), len(p.data), p.orig)
}

// readPackets reads every packet of a capture (pcap, pcapng, .gz).
func readPackets(t testing.TB, path string) ([]pkt, uint32) {
	t.Helper()
	frames, infos, link, err := pcaptest.ReadAll(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	out := make([]pkt, len(frames))
	for i := range frames {
		out[i] = pkt{ts: infos[i].Timestamp.UnixNano(), orig: infos[i].Length, data: frames[i]}
	}
	return out, uint32(link)
}

// readPcapBytes parses a pcap or pcapng result held in memory.
func readPcapBytes(t testing.TB, b []byte) []pkt {
	t.Helper()
	path := filepath.Join(t.TempDir(), "result.pcap")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	p, _ := readPackets(t, path)
	return p
}

// plainCapture returns a path tcpdump can read: gzip captures are
// decompressed into the test's temporary directory.
func plainCapture(t testing.TB, path string) string {
	t.Helper()
	if !strings.HasSuffix(path, ".gz") {
		return path
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".gz"))
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(o, gz); err != nil {
		t.Fatal(err)
	}
	o.Close()
	return out
}

// tcpdumpExpr is the tcpdump expression that selects what the store's expr
// selects: the store looks through one VLAN tag, tcpdump needs "vlan".
// The raw EtherType test keeps libpcap's "vlan" offset shift out of the
// first half.
func tcpdumpExpr(expr string, vlan bool) string {
	if !vlan {
		return expr
	}
	if expr == "" {
		return ""
	}
	return fmt.Sprintf("(ether[12:2] != 0x8100 and (%s)) or (vlan and (%s))", expr, expr)
}

// tcpdumpPackets runs tcpdump -r path -w - expr and returns the packets it
// wrote.
func tcpdumpPackets(t testing.TB, tcpdump, path, expr string) []pkt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-r", plainCapture(t, path), "-w", "-"}
	if expr != "" {
		args = append(args, expr)
	}
	cmd := exec.CommandContext(ctx, tcpdump, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tcpdump %q: %v\n%s", expr, err, errb.String())
	}
	return readPcapBytes(t, out.Bytes())
}

// hasVLAN reports whether a capture has VLAN-tagged Ethernet frames.
func hasVLAN(pkts []pkt, link uint32) bool {
	if link != linkEthernet {
		return false
	}
	for _, p := range pkts {
		if len(p.data) >= 14 && p.data[12] == 0x81 && p.data[13] == 0x00 {
			return true
		}
	}
	return false
}

func samePackets(t testing.TB, what string, got, want []pkt) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d packets, tcpdump %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.ts != w.ts || g.orig != w.orig || !bytes.Equal(g.data, w.data) {
			t.Errorf("%s: packet %d differs: got %v, want %v", what, i+1, g, w)
			return
		}
	}
}

func pcapPath(t testing.TB, rel string) string {
	return testenv.Pcap(t, rel)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
