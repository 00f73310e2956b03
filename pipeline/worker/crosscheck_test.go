package worker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/sensor"
)

// conv is one direction-independent 5-tuple as tshark prints it. a is the
// lexically smaller "addr:port" so both tools' rows meet on the same key.
type conv struct {
	proto string // tcp or udp
	a, b  string // "addr:port"
}

// counts are frames and bytes a→b and b→a.
type counts struct {
	framesAB, bytesAB, framesBA, bytesBA uint64
}

func newConv(proto, x, y string) (conv, bool) {
	if x <= y {
		return conv{proto, x, y}, false
	}
	return conv{proto, y, x}, true
}

func (c *counts) add(swapped bool, frames, bytes uint64) {
	if swapped {
		c.framesBA += frames
		c.bytesBA += bytes
	} else {
		c.framesAB += frames
		c.bytesAB += bytes
	}
}

func hostPort(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// replayRecords runs the packet path over one capture and collects copies
// of the flow records.
func replayRecords(t *testing.T, path string) ([]event.Flow, Counters) {
	t.Helper()
	src, err := sensor.OpenFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var flows []event.Flow
	w, err := New(Config{DeterministicIDs: true}, src, func(r event.Record) error {
		if f, ok := r.(*event.Flow); ok {
			flows = append(flows, *f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background(), func(err error) { t.Errorf("reported: %v", err) }, nil); err != nil {
		t.Fatal(err)
	}
	return flows, w.Counters()
}

// ourConversations sums our final flow records per 5-tuple (tshark has one
// row per address/port pair; we may have several flows for one, split by
// VLAN, by timeouts or by port reuse).
func ourConversations(flows []event.Flow) map[conv]*counts {
	out := map[conv]*counts{}
	for _, f := range flows {
		if !f.Final || (f.Transport != 6 && f.Transport != 17) {
			continue
		}
		proto := event.TransportName(f.Transport)
		k, swapped := newConv(proto, hostPort(f.Source.IP, f.Source.Port), hostPort(f.Destination.IP, f.Destination.Port))
		c := out[k]
		if c == nil {
			c = &counts{}
			out[k] = c
		}
		c.add(swapped, f.Source.Packets, f.Source.Bytes)
		c.add(!swapped, f.Destination.Packets, f.Destination.Bytes)
	}
	return out
}

var convLine = regexp.MustCompile(`^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)`)

// tsharkConversations parses `tshark -q -z conv,tcp -z conv,udp`. Its byte
// columns are rounded for display ("79 kB"), so they are kept as text and
// compared with formatSize of our exact counts; frames are exact.
func tsharkConversations(out []byte) (map[conv]*counts, map[conv][2]string) {
	frames, sizes := map[conv]*counts{}, map[conv][2]string{}
	proto := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			proto = "tcp"
		case strings.HasPrefix(line, "UDP Conversations"):
			proto = "udp"
		}
		m := convLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		k, swapped := newConv(proto, splitHP(m[1]), splitHP(m[2]))
		// tshark's "<-" columns count frames towards the left address (B→A
		// for its row), "->" frames from the left address (A→B).
		toLeft, _ := strconv.ParseUint(m[3], 10, 64)
		fromLeft, _ := strconv.ParseUint(m[5], 10, 64)
		c := frames[k]
		if c == nil {
			c = &counts{}
			frames[k] = c
		}
		c.add(swapped, fromLeft, 0)
		c.add(!swapped, toLeft, 0)
		s := sizes[k]
		if swapped {
			s = [2]string{m[4], m[6]}
		} else {
			s = [2]string{m[6], m[4]}
		}
		if _, dup := sizes[k]; dup {
			s = [2]string{"", ""} // several rows (streams) for one tuple: sizes are not summable as text
		}
		sizes[k] = s
	}
	return frames, sizes
}

// tsharkFrames exports every frame's length and addresses with IP
// reassembly off and sums exact bytes per 5-tuple. Non-first fragments carry
// no ports: they are counted to the tuple of their datagram's first fragment
// (same addresses and IP ID), as tshark itself dissected it. It also
// returns tshark's Community ID of every tuple.
func tsharkFrames(out []byte) (map[conv]*counts, map[conv]string, int) {
	type datagram struct{ src, dst, id string }
	firstFrag := map[datagram]struct {
		k       conv
		swapped bool
	}{}
	sums, ids := map[conv]*counts{}, map[conv]string{}
	nonFirst := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 18 { // the conversation tables that follow the frames
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		src, dst := f[3], f[4]
		if src == "" {
			src, dst = f[5], f[6]
		}
		if src == "" || f[16] != "" || f[17] != "" {
			continue // not IP, or an ICMP message (its quoted header is not its flow)
		}
		fragID, offset := f[11], f[12]
		if f[13] != "" {
			fragID, offset = f[13], f[14]
		}
		var k conv
		var swapped bool
		switch {
		case f[7] != "":
			k, swapped = newConv("tcp", joinHP(src, f[7]), joinHP(dst, f[8]))
		case f[9] != "":
			k, swapped = newConv("udp", joinHP(src, f[9]), joinHP(dst, f[10]))
		case offset != "" && offset != "0":
			ff, ok := firstFrag[datagram{src, dst, fragID}]
			if !ok {
				continue
			}
			k, swapped = ff.k, ff.swapped
			nonFirst++
		default:
			continue
		}
		if offset == "0" && fragID != "" {
			firstFrag[datagram{src, dst, fragID}] = struct {
				k       conv
				swapped bool
			}{k, swapped}
		}
		c := sums[k]
		if c == nil {
			c = &counts{}
			sums[k] = c
		}
		c.add(swapped, 1, n)
		if f[15] != "" && (f[7] != "" || f[9] != "") {
			ids[k] = f[15] // a non-first fragment's ID has no ports: not the flow's
		}
	}
	return sums, ids, nonFirst
}

// splitHP normalises tshark's "addr:port" (IPv6 without brackets).
func splitHP(s string) string {
	i := strings.LastIndexByte(s, ':')
	return joinHP(s[:i], s[i+1:])
}

// runTshark exports every frame's fields and then prints the TCP and UDP
// conversation tables, with IP reassembly off, in one run (tshark takes
// seconds to start).
func runTshark(tshark, path string) ([]byte, error) {
	cmd := exec.Command(tshark, "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"--enable-protocol", "communityid", "-T", "fields", "-E", "occurrence=f", "-E", "separator=|",
		"-e", "frame.len", "-e", "ip.proto", "-e", "ipv6.nxt", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport",
		"-e", "ip.id", "-e", "ip.frag_offset", "-e", "ipv6.fraghdr.ident", "-e", "ipv6.fraghdr.offset", "-e", "communityid",
		"-e", "icmp.type", "-e", "icmpv6.type", "-z", "conv,tcp", "-z", "conv,udp")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark on %s: %w", path, err)
	}
	return out, nil
}

func joinHP(addr, port string) string {
	p, _ := strconv.ParseUint(port, 10, 16)
	return hostPort(netip.MustParseAddr(addr), uint16(p))
}

// formatSize renders bytes the way tshark's conversation table does
// (Wireshark's format_size with SI prefixes: switch unit at 10,000 of the
// smaller one, truncate).
func formatSize(n uint64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 10000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	return fmt.Sprintf("%d %s", n, units[i])
}

// TestAgainstTshark checks, for every bundled capture, that our per-flow
// frames and bytes in both directions equal tshark's conversation table and
// its per-frame lengths, and that our community_id equals tshark's.
//
// Tolerances, all explained:
//   - tshark reassembles IP fragments by default; both tshark runs here turn
//     that off so that every frame is seen once. Its conversation table then
//     counts only first fragments (later ones carry no ports); we count every
//     fragment to its flow, so table frames = our frames - non-first fragments.
//   - ICMP messages that quote a TCP/UDP header are not part of that flow for
//     us (they are ICMP flows); the per-frame sums leave them out too.
//   - Table bytes are compared at tshark's display precision (formatSize);
//     exact bytes come from the per-frame export.
func TestAgainstTshark(t *testing.T) {
	crossCheck(t, testenv.Pcaps(t), testenv.BundledPcaps(t))
}

// TestAgainstTsharkShared runs the same comparison on the captures of
// ../shared/pcaps that are not bundled (no redistribution licence): the
// mixed lab captures used by bench/offline.sh, scans and PsExec variants.
func TestAgainstTsharkShared(t *testing.T) {
	dir := testenv.SharedPcaps(t)
	var files []string
	for _, glob := range []string{"mixed/*.pcap", "other/*", "smb/elcab_*.pcap", "beacon/*"} {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		for _, p := range m {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d shared captures found", len(files))
	}
	crossCheck(t, dir, files)
}

func crossCheck(t *testing.T, dir string, files []string) {
	tshark := testenv.RequireTool(t, "tshark")
	// tshark spends most of its seconds starting up, not computing: run it
	// for every capture through a small pool ahead of the subtests.
	type result struct {
		out []byte
		err error
	}
	results := make([]chan result, len(files))
	sem := make(chan struct{}, 8)
	for i, rel := range files {
		results[i] = make(chan result, 1)
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := runTshark(tshark, filepath.Join(dir, rel))
			results[i] <- result{out, err}
		}()
	}
	var compared, ran atomic.Int32
	for i, rel := range files {
		path := filepath.Join(dir, rel)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			ran.Add(1)
			flows, _ := replayRecords(t, path)
			ours := ourConversations(flows)
			r := <-results[i]
			if r.err != nil {
				t.Fatal(r.err)
			}
			out := r.out
			table, sizes := tsharkConversations(out)
			exact, ids, nonFirst := tsharkFrames(out)

			for k, want := range exact {
				got := ours[k]
				if got == nil {
					t.Errorf("%s %s <-> %s: tshark has %+v, we have no flow", k.proto, k.a, k.b, *want)
					continue
				}
				if *got != *want {
					t.Errorf("%s %s <-> %s: we count %+v, tshark frames sum to %+v", k.proto, k.a, k.b, *got, *want)
				}
			}
			for k, got := range ours {
				if exact[k] == nil {
					t.Errorf("%s %s <-> %s: we have %+v, tshark has no such conversation", k.proto, k.a, k.b, *got)
				}
			}
			var tableFrames, ourFrames uint64
			for k, want := range table {
				tableFrames += want.framesAB + want.framesBA
				got := ours[k]
				if got == nil {
					t.Errorf("%s %s <-> %s: in tshark's table, not ours", k.proto, k.a, k.b)
					continue
				}
				if s := sizes[k]; s[0] != "" && nonFirst == 0 && (formatSize(got.bytesAB) != s[0] || formatSize(got.bytesBA) != s[1]) {
					t.Errorf("%s %s <-> %s: bytes %s/%s, tshark's table shows %s/%s", k.proto, k.a, k.b, formatSize(got.bytesAB), formatSize(got.bytesBA), s[0], s[1])
				}
				if nonFirst == 0 && (got.framesAB != want.framesAB || got.framesBA != want.framesBA) {
					t.Errorf("%s %s <-> %s: frames %d/%d, tshark's table %d/%d", k.proto, k.a, k.b, got.framesAB, got.framesBA, want.framesAB, want.framesBA)
				}
			}
			for _, c := range ours {
				ourFrames += c.framesAB + c.framesBA
			}
			if tableFrames+uint64(nonFirst) != ourFrames {
				t.Errorf("frames: tshark's table %d + %d non-first fragments != our %d", tableFrames, nonFirst, ourFrames)
			}
			// Community ID: every flow's must equal tshark's for its frames.
			for _, f := range flows {
				if f.Transport != 6 && f.Transport != 17 {
					continue
				}
				k, _ := newConv(event.TransportName(f.Transport), hostPort(f.Source.IP, f.Source.Port), hostPort(f.Destination.IP, f.Destination.Port))
				if want, ok := ids[k]; ok && want != f.CommunityID.String() {
					t.Errorf("%s %s <-> %s: community_id %s, tshark %s", k.proto, k.a, k.b, f.CommunityID, want)
				}
			}
			if len(exact) > 0 {
				compared.Add(1)
			}
		})
	}
	t.Cleanup(func() {
		if compared.Load() < ran.Load()/2 {
			t.Errorf("only %d of %d captures had TCP/UDP conversations to compare", compared.Load(), ran.Load())
		}
	})
}
