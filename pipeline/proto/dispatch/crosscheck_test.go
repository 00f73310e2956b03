package dispatch_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto/prototest"
)

// TestReassemblyAgainstTshark compares every TCP stream's reassembled bytes,
// per direction, with tshark's "follow,tcp,raw" on real captures. Streams
// where either side saw a gap are compared only up to it: tshark skips
// missing bytes silently, we report them.
func TestReassemblyAgainstTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	for _, rel := range []string{
		"smb/zeek_smb2.pcap",
		"smb/sv_20171220_smb_psexec_add_user.pcap",
		"smb/sv_smb2-peter.pcap",
		"rdp/zeek_rdp-to-ssl.pcap",
		"rdp/sv_RDP-003.pcap",
		"beacon/ndpi_emotet.pcap",
		"http",
	} {
		paths := []string{rel}
		if !strings.Contains(rel, ".") {
			paths = nil
			for _, p := range testenv.BundledPcaps(t) {
				if strings.HasPrefix(p, rel+"/") {
					paths = append(paths, p)
				}
			}
		}
		for _, path := range paths {
			t.Run(path[strings.LastIndex(path, "/")+1:], func(t *testing.T) {
				t.Parallel()
				compareWithTshark(t, tshark, path)
			})
		}
	}
}

type endpoints struct{ a, b netip.AddrPort }

func compareWithTshark(t *testing.T, tshark, path string) {
	ours := map[endpoints][2][]byte{} // by (client, server): client bytes, server bytes
	gapAt := map[endpoints][2]int{}
	for _, s := range prototest.WholeStreams(t, path) {
		if s.UDP {
			continue
		}
		k := endpoints{s.Info.Conn.Source, s.Info.Conn.Destination}
		var data [2][]byte
		g := [2]int{-1, -1}
		for _, c := range s.Chunks {
			if c.Gap > 0 && g[c.Dir] < 0 {
				g[c.Dir] = len(data[c.Dir])
			}
			data[c.Dir] = append(data[c.Dir], c.Data...)
		}
		ours[k], gapAt[k] = data, g
	}
	full := testenv.Pcap(t, path)
	out, err := exec.Command(tshark, "-r", full, "-T", "fields", "-e", "tcp.stream", "-Y", "tcp.len > 0").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	seen := map[string]bool{}
	args := []string{"-r", full, "-q"}
	for _, s := range strings.Fields(string(out)) {
		if !seen[s] && len(seen) < 64 {
			seen[s] = true
			args = append(args, "-z", "follow,tcp,raw,"+s)
		}
	}
	if len(seen) == 0 {
		t.Skip("no TCP payload in this capture")
	}
	out, err = exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark follow: %v", err)
	}
	streams := parseFollow(t, out)
	if len(streams) != len(seen) {
		t.Fatalf("parsed %d tshark streams, asked for %d", len(streams), len(seen))
	}
	compared := 0
	for _, ts := range streams {
		k := endpoints{ts.node[0], ts.node[1]}
		data, ok := ours[k]
		gaps := gapAt[k]
		flip := false
		if !ok {
			k = endpoints{ts.node[1], ts.node[0]}
			data, ok = ours[k]
			gaps = gapAt[k]
			flip = true
		}
		if !ok {
			t.Errorf("tshark stream %v <-> %v has payload; we delivered none", ts.node[0], ts.node[1])
			continue
		}
		for node := 0; node < 2; node++ {
			dir := flow.Dir(node)
			if flip {
				dir = 1 - dir
			}
			got, want := data[dir], ts.data[node]
			if g := gaps[dir]; g >= 0 {
				got, want = got[:g], want[:min(g, len(want))]
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%v <-> %v node %d: we have %d bytes, tshark %d; first difference at %s",
					ts.node[0], ts.node[1], node, len(got), len(want), firstDiff(got, want))
			}
		}
		compared++
	}
	t.Logf("%d TCP streams equal tshark's", compared)
}

type followed struct {
	node [2]netip.AddrPort
	data [2][]byte
}

func parseFollow(t *testing.T, out []byte) []followed {
	var res []followed
	var cur *followed
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Follow:"):
			res = append(res, followed{})
			cur = &res[len(res)-1]
		case cur == nil || strings.HasPrefix(line, "====") || strings.HasPrefix(line, "Filter:"):
		case strings.HasPrefix(line, "Node 0: "), strings.HasPrefix(line, "Node 1: "):
			n, _ := strconv.Atoi(line[5:6])
			ap, err := netip.ParseAddrPort(strings.TrimSpace(line[8:]))
			if err != nil {
				t.Fatalf("tshark node line %q: %v", line, err)
			}
			cur.node[n] = ap
		default:
			n := 0
			if strings.HasPrefix(line, "\t") {
				n = 1
			}
			b, err := hex.DecodeString(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("tshark data line %q: %v", line, err)
			}
			cur.data[n] = append(cur.data[n], b...)
		}
	}
	return res
}

func firstDiff(a, b []byte) string {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return strconv.Itoa(i)
		}
	}
	return fmt.Sprint(min(len(a), len(b)))
}
