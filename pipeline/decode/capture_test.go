package decode

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
)

// requireTool skips the test when a command-line tool is missing.
// TODO: use internal/testenv.RequireTool once it exists (it fails
// instead of skipping under MAMORI_TEST_STRICT=1).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// capturePaths returns every capture under testdata/pcaps. An empty list
// fails the test: a broken glob must not pass silently.
func capturePaths(t testing.TB) []string {
	t.Helper()
	var paths []string
	for _, pat := range []string{"*/*.pcap", "*/*.pcapng", "*/*.pcap.gz"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Fatal("no captures under testdata/pcaps")
	}
	slices.Sort(paths)
	return paths
}

// tsharkFields are the fields asked of tshark, in column order.
var tsharkFields = []string{
	"frame.protocols",
	"eth.src", "eth.dst", "vlan.id",
	"arp.src.proto_ipv4", "arp.dst.proto_ipv4", "arp.src.hw_mac", "arp.dst.hw_mac",
	"ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.len", "ip.id", "ip.flags.mf", "ip.frag_offset",
	"ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.plen", "ipv6.nxt",
	"ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.dstopts.nxt",
	"ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
	"tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "tcp.len",
	"udp.srcport", "udp.dstport", "udp.length",
	"icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
	"erspan.version", "erspan.spanid", "_ws.malformed",
}

// tsharkFrame is one frame as tshark dissected it: every occurrence of
// every field, in dissection order.
type tsharkFrame map[string][]string

func (f tsharkFrame) first(name string) string {
	if v := f[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (f tsharkFrame) has(name string) bool { return len(f[name]) > 0 }

func (f tsharkFrame) num(t testing.TB, name string, i int) uint64 {
	t.Helper()
	v := f[name]
	if i >= len(v) {
		t.Fatalf("tshark gave no occurrence %d of %s", i, name)
	}
	n, err := strconv.ParseUint(v[i], 0, 64)
	if err != nil {
		t.Fatalf("tshark %s = %q: %v", name, v[i], err)
	}
	return n
}

func (f tsharkFrame) protocols() []string { return strings.Split(f.first("frame.protocols"), ":") }

// runTshark dissects a capture with IP reassembly off, so that every
// fragment is shown as it is on the wire.
func runTshark(t testing.TB, tshark, path string) []tsharkFrame {
	t.Helper()
	args := []string{
		"-r", path, "-n",
		"-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"-o", "tcp.desegment_tcp_streams:FALSE",
		"-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
	}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", path, err, stderr.String())
	}
	var frames []tsharkFrame
	for line := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) != len(tsharkFields) {
			t.Fatalf("tshark line has %d columns, want %d: %q", len(cols), len(tsharkFields), line)
		}
		fr := tsharkFrame{}
		for i, c := range cols {
			if c != "" {
				fr[tsharkFields[i]] = strings.Split(c, ",")
			}
		}
		frames = append(frames, fr)
	}
	return frames
}

// ipv6Transport follows tshark's next-header fields through the
// extension headers, as the decoder does.
func ipv6Transport(t testing.TB, f tsharkFrame) uint64 {
	t.Helper()
	seen := map[string]int{}
	next := func(field string) uint64 {
		i := seen[field]
		seen[field]++
		return f.num(t, field, i)
	}
	nh := next("ipv6.nxt")
	for {
		var field string
		switch nh {
		case 0:
			field = "ipv6.hopopts.nxt"
		case 43:
			field = "ipv6.routing.nxt"
		case 60:
			field = "ipv6.dstopts.nxt"
		case 44:
			field = "ipv6.fraghdr.nxt"
		default:
			return nh
		}
		if seen[field] >= len(f[field]) {
			return nh
		}
		nh = next(field)
	}
}

// transportAfter returns the first protocol tshark dissected after the
// network layer at index net of frame.protocols, skipping IPv6 extension
// headers.
func transportAfter(protos []string, net int) string {
	for _, p := range protos[net+1:] {
		if !strings.HasPrefix(p, "ipv6.") {
			return p
		}
	}
	return ""
}

// compareWithTshark checks one decoded frame against tshark's view of it.
// Tolerances, each forced by what tshark shows rather than by a choice of
// ours:
//   - fields tshark takes from headers quoted inside ICMP errors (second
//     ip.src, the quoted tcp/udp ports) are ignored: only the first
//     occurrence of each field describes the frame itself, and ICMP
//     packets have no ports;
//   - tcp.ack_raw is compared only when tshark shows it.
func compareWithTshark(t testing.TB, frame int, p *Packet, f tsharkFrame) {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("frame %d: %s (tshark protocols %s)", frame, fmt.Sprintf(format, args...), f.first("frame.protocols"))
	}
	eqAddr := func(what string, got netip.Addr, want string) {
		t.Helper()
		if got.String() != want {
			errorf("%s = %v, tshark %s", what, got, want)
		}
	}
	eqNum := func(what string, got uint64, field string, i int) {
		t.Helper()
		if want := f.num(t, field, i); got != want {
			errorf("%s = %d, tshark %s = %d", what, got, field, want)
		}
	}

	if f.has("eth.src") && p.Net != NetARP {
		if got := fmt.Sprintf("%x", p.SrcMAC[:]); got != strings.ReplaceAll(f.first("eth.src"), ":", "") {
			errorf("SrcMAC %s, tshark %s", got, f.first("eth.src"))
		}
		if got := fmt.Sprintf("%x", p.DstMAC[:]); got != strings.ReplaceAll(f.first("eth.dst"), ":", "") {
			errorf("DstMAC %s, tshark %s", got, f.first("eth.dst"))
		}
	}
	vlans := f["vlan.id"]
	if len(vlans) > 0 {
		eqNum("VLAN", uint64(p.VLAN), "vlan.id", 0)
	} else if p.VLAN != 0 {
		errorf("VLAN = %d, tshark shows no tag", p.VLAN)
	}
	if len(vlans) > 1 {
		eqNum("InnerVLAN", uint64(p.InnerVLAN), "vlan.id", 1)
	} else if p.InnerVLAN != 0 {
		errorf("InnerVLAN = %d, tshark shows no second tag", p.InnerVLAN)
	}

	protos := f.protocols()
	net := slices.IndexFunc(protos, func(s string) bool { return s == "ip" || s == "ipv6" || s == "arp" })
	wantNet := NetOther
	if net >= 0 {
		wantNet = map[string]Net{"ip": NetIPv4, "ipv6": NetIPv6, "arp": NetARP}[protos[net]]
	}
	if p.Net != wantNet {
		errorf("Net = %d, want %d", p.Net, wantNet)
		return
	}

	switch p.Net {
	case NetARP:
		eqAddr("Src", p.Src, f.first("arp.src.proto_ipv4"))
		eqAddr("Dst", p.Dst, f.first("arp.dst.proto_ipv4"))
		if got := fmt.Sprintf("%x", p.SrcMAC[:]); got != strings.ReplaceAll(f.first("arp.src.hw_mac"), ":", "") {
			errorf("SrcMAC %s, tshark ARP sender %s", got, f.first("arp.src.hw_mac"))
		}
		return
	case NetOther:
		return
	case NetIPv4:
		eqAddr("Src", p.Src, f.first("ip.src"))
		eqAddr("Dst", p.Dst, f.first("ip.dst"))
		eqNum("Proto", uint64(p.Proto), "ip.proto", 0)
		eqNum("TTL", uint64(p.TTL), "ip.ttl", 0)
		eqNum("IPLen", uint64(p.IPLen), "ip.len", 0)
		eqNum("FragID", uint64(p.FragID), "ip.id", 0)
		eqNum("FragOffset/8", uint64(p.FragOffset/8), "ip.frag_offset", 0)
		mf := f.num(t, "ip.flags.mf", 0) == 1
		if p.FragMore != mf || p.Fragment != (mf || p.FragOffset > 0) {
			errorf("FragMore = %v Fragment = %v, tshark MF %v", p.FragMore, p.Fragment, mf)
		}
	case NetIPv6:
		eqAddr("Src", p.Src, f.first("ipv6.src"))
		eqAddr("Dst", p.Dst, f.first("ipv6.dst"))
		eqNum("TTL", uint64(p.TTL), "ipv6.hlim", 0)
		eqNum("IPLen-40", uint64(p.IPLen-40), "ipv6.plen", 0)
		if got, want := uint64(p.Proto), ipv6Transport(t, f); got != want {
			errorf("Proto = %d, tshark next headers end at %d", got, want)
		}
		if p.Fragment != f.has("ipv6.fraghdr.offset") {
			errorf("Fragment = %v, tshark fragment header %v", p.Fragment, f.has("ipv6.fraghdr.offset"))
		}
		if p.Fragment {
			eqNum("FragOffset/8", uint64(p.FragOffset/8), "ipv6.fraghdr.offset", 0)
			eqNum("FragID", uint64(p.FragID), "ipv6.fraghdr.ident", 0)
			if more := f.first("ipv6.fraghdr.more") == "1"; p.FragMore != more {
				errorf("FragMore = %v, tshark %v", p.FragMore, more)
			}
		}
	}

	switch transportAfter(protos, net) {
	case "tcp":
		eqNum("SrcPort", uint64(p.SrcPort), "tcp.srcport", 0)
		eqNum("DstPort", uint64(p.DstPort), "tcp.dstport", 0)
		if want := f.num(t, "tcp.flags", 0) & 0xff; uint64(p.TCPFlags) != want {
			errorf("TCPFlags = %#x, tshark %#x", p.TCPFlags, want)
		}
		eqNum("Seq", uint64(p.Seq), "tcp.seq_raw", 0)
		if f.has("tcp.ack_raw") {
			eqNum("Ack", uint64(p.Ack), "tcp.ack_raw", 0)
		}
		eqNum("Window", uint64(p.Window), "tcp.window_size_value", 0)
		eqNum("PayloadLen", uint64(p.PayloadLen), "tcp.len", 0)
	case "udp":
		eqNum("SrcPort", uint64(p.SrcPort), "udp.srcport", 0)
		eqNum("DstPort", uint64(p.DstPort), "udp.dstport", 0)
		eqNum("PayloadLen+8", uint64(p.PayloadLen+8), "udp.length", 0)
	case "icmp":
		eqNum("ICMPType", uint64(p.ICMPType), "icmp.type", 0)
		eqNum("ICMPCode", uint64(p.ICMPCode), "icmp.code", 0)
		if p.SrcPort != 0 || p.DstPort != 0 {
			errorf("ICMP with ports %d/%d", p.SrcPort, p.DstPort)
		}
	case "icmpv6":
		eqNum("ICMPType", uint64(p.ICMPType), "icmpv6.type", 0)
		eqNum("ICMPCode", uint64(p.ICMPCode), "icmpv6.code", 0)
		if p.SrcPort != 0 || p.DstPort != 0 {
			errorf("ICMPv6 with ports %d/%d", p.SrcPort, p.DstPort)
		}
	default:
		if p.SrcPort != 0 || p.DstPort != 0 || p.TCPFlags != 0 {
			errorf("ports %d/%d flags %#x on a frame tshark shows no TCP/UDP in", p.SrcPort, p.DstPort, p.TCPFlags)
		}
	}
}

// capture is a capture file read into memory.
type capture struct {
	name   string
	link   layers.LinkType
	frames [][]byte
	infos  []gopacket.CaptureInfo
}

func readCapture(t testing.TB, path string) capture {
	t.Helper()
	frames, infos, link, err := pcaptest.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	return capture{filepath.Base(path), link, frames, infos}
}

// tsharkFrames runs tshark once over frames of one link type, written to
// a temporary pcap: starting tshark costs more than dissecting a
// capture, so captures are concatenated rather than dissected one by one.
func tsharkFrames(t testing.TB, tshark string, link layers.LinkType, frames [][]byte, infos []gopacket.CaptureInfo) []tsharkFrame {
	t.Helper()
	path := filepath.Join(t.TempDir(), "frames.pcap")
	if err := pcaptest.WritePcap(path, link, frames, infos); err != nil {
		t.Fatal(err)
	}
	out := runTshark(t, tshark, path)
	if len(out) != len(frames) {
		t.Fatalf("tshark shows %d frames, wrote %d", len(out), len(frames))
	}
	return out
}

// TestCapturesMatchTshark decodes every frame of every capture under
// testdata/pcaps and compares it with tshark's dissection of the same
// frame.
func TestCapturesMatchTshark(t *testing.T) {
	t.Parallel()
	tshark := requireTool(t, "tshark")
	byLink := map[layers.LinkType][]capture{}
	for _, path := range capturePaths(t) {
		c := readCapture(t, path)
		byLink[c.link] = append(byLink[c.link], c)
	}
	for link, caps := range byLink {
		var frames [][]byte
		var infos []gopacket.CaptureInfo
		for _, c := range caps {
			frames, infos = append(frames, c.frames...), append(infos, c.infos...)
		}
		want := tsharkFrames(t, tshark, link, frames, infos)
		for _, c := range caps {
			views := want[:len(c.frames)]
			want = want[len(c.frames):]
			t.Run(c.name, func(t *testing.T) {
				d := New()
				var p Packet
				for i, fr := range c.frames {
					if err := d.Decode(fr, link, &p); err != nil {
						t.Errorf("frame %d: %v (tshark protocols %s, malformed %v)", i+1, err, views[i].first("frame.protocols"), views[i].has("_ws.malformed"))
						continue
					}
					compareWithTshark(t, i+1, &p, views[i])
					if t.Failed() {
						break // one broken rule tends to fail every frame
					}
				}
				if d.Counters.Decoded != uint64(len(c.frames)) || d.Counters.Unexpected != 0 {
					t.Errorf("counters %+v after %d frames", d.Counters, len(c.frames))
				}
			})
		}
	}
}

// netView is the part of a Packet that must not depend on how the frame
// was carried: network and transport fields and the payload.
type netView struct {
	Net                Net
	Src, Dst           netip.Addr
	Proto, TTL         uint8
	IPLen              int
	Fragment, FragMore bool
	FragID             uint32
	FragOffset         uint16
	SrcPort, DstPort   uint16
	TCPFlags           uint8
	Seq, Ack           uint32
	Window             uint16
	ICMPType, ICMPCode uint8
	PayloadLen         int
	Payload            string
}

func viewOf(p *Packet) netView {
	return netView{
		Net: p.Net, Src: p.Src, Dst: p.Dst, Proto: p.Proto, TTL: p.TTL, IPLen: p.IPLen,
		Fragment: p.Fragment, FragMore: p.FragMore, FragID: p.FragID, FragOffset: p.FragOffset,
		SrcPort: p.SrcPort, DstPort: p.DstPort, TCPFlags: p.TCPFlags, Seq: p.Seq, Ack: p.Ack,
		Window: p.Window, ICMPType: p.ICMPType, ICMPCode: p.ICMPCode,
		PayloadLen: p.PayloadLen, Payload: string(p.Payload),
	}
}

// reframeCaptures cover TCP, UDP, ICMP, ARP, SCTP, IPv6 with extension
// headers, IPv4 and IPv6 fragments, single VLAN tags and QinQ.
var reframeCaptures = []string{
	"rdp/ndpi_rdp_over_tls.pcap",              // 802.1Q
	"tls/ndpi_ja3_lots_of_cipher_suites.pcap", // QinQ
	"communityid/combined.pcap.gz",            // IPv4, IPv6, TCP, ICMPv6, ARP, SCTP
	"communityid/icmp.pcap",                   // ICMP error quoting UDP
	"dns/zeek_ipv6-fragmented-dns.pcap",       // IPv6 fragments
	"dns/zeek_dns-edns-ecs.pcap",              // IPv4 fragments
	"smb/sv_smb2-peter.pcap",                  // IPv6 hop-by-hop (MLD)
	"http/zeek_http_get.pcap",                 // TCP
}

// reframing is one way of carrying a real Ethernet frame.
type reframing struct {
	name  string
	link  layers.LinkType
	frame func(orig []byte) []byte
	// check tests the link-level fields against the original decoding.
	check func(t testing.TB, got, orig *Packet)
}

func sameVLANs(t testing.TB, got, orig *Packet) {
	t.Helper()
	if got.VLAN != orig.VLAN || got.InnerVLAN != orig.InnerVLAN {
		t.Errorf("VLANs %d/%d, original %d/%d", got.VLAN, got.InnerVLAN, orig.VLAN, orig.InnerVLAN)
	}
}

func mirrored(encap Encap, session uint16) func(testing.TB, *Packet, *Packet) {
	return func(t testing.TB, got, orig *Packet) {
		t.Helper()
		if got.Encap != encap || got.ERSPANSession != session {
			t.Errorf("Encap %b session %d, want %b %d", got.Encap, got.ERSPANSession, encap, session)
		}
		if !got.HasMAC || got.SrcMAC != orig.SrcMAC || got.DstMAC != orig.DstMAC || got.EtherType != orig.EtherType {
			t.Errorf("inner link %v %x %x %#x, original %x %x %#x", got.HasMAC, got.SrcMAC, got.DstMAC, got.EtherType, orig.SrcMAC, orig.DstMAC, orig.EtherType)
		}
		sameVLANs(t, got, orig)
	}
}

var reframings = []reframing{
	{"sll", layers.LinkTypeLinuxSLL, pcaptest.ToSLL, func(t testing.TB, got, orig *Packet) {
		t.Helper()
		if got.HasMAC || got.SrcMAC != orig.SrcMAC {
			t.Errorf("SLL HasMAC %v SrcMAC %x, want false %x", got.HasMAC, got.SrcMAC, orig.SrcMAC)
		}
		sameVLANs(t, got, orig)
	}},
	{"sll2", layers.LinkTypeLinuxSLL2, func(f []byte) []byte { return pcaptest.ToSLL2(f, 3) }, func(t testing.TB, got, orig *Packet) {
		t.Helper()
		if got.HasMAC || got.SrcMAC != orig.SrcMAC {
			t.Errorf("SLL2 HasMAC %v SrcMAC %x, want false %x", got.HasMAC, got.SrcMAC, orig.SrcMAC)
		}
		sameVLANs(t, got, orig)
	}},
	{"raw", layers.LinkTypeRaw, pcaptest.ToRaw, func(t testing.TB, got, _ *Packet) {
		t.Helper()
		if got.HasMAC || got.VLAN != 0 || got.EtherType != 0 {
			t.Errorf("raw IP with link fields %+v", got)
		}
	}},
	{"vlan", layers.LinkTypeEthernet, func(f []byte) []byte { return pcaptest.AddVLAN(f, 100) }, func(t testing.TB, got, orig *Packet) {
		t.Helper()
		if got.VLAN != 100 || got.InnerVLAN != orig.VLAN {
			t.Errorf("VLANs %d/%d, want 100/%d", got.VLAN, got.InnerVLAN, orig.VLAN)
		}
	}},
	{"qinq", layers.LinkTypeEthernet, func(f []byte) []byte { return pcaptest.AddQinQ(f, 300, 400) }, func(t testing.TB, got, _ *Packet) {
		t.Helper()
		if got.VLAN != 300 || got.InnerVLAN != 400 {
			t.Errorf("VLANs %d/%d, want 300/400", got.VLAN, got.InnerVLAN)
		}
	}},
	{"erspan2", layers.LinkTypeEthernet, func(f []byte) []byte { return pcaptest.ToERSPAN2(f, 77) }, mirrored(EncapGRE|EncapERSPAN2, 77)},
	{"erspan3", layers.LinkTypeEthernet, func(f []byte) []byte { return pcaptest.ToERSPAN3(f, 78, false) }, mirrored(EncapGRE|EncapERSPAN3, 78)},
	{"erspan3-subheader", layers.LinkTypeEthernet, func(f []byte) []byte { return pcaptest.ToERSPAN3(f, 79, true) }, mirrored(EncapGRE|EncapERSPAN3, 79)},
}

// TestReframedCapturesDecodeAlike carries real frames in every link and
// tunnel the decoder supports, through a pcap file and back, and checks
// that the network and transport fields do not change.
func TestReframedCapturesDecodeAlike(t *testing.T) {
	dir := t.TempDir()
	for _, name := range reframeCaptures {
		t.Run(name, func(t *testing.T) {
			frames, infos, link, err := pcaptest.ReadAll(filepath.Join("..", "..", "testdata", "pcaps", name))
			if err != nil {
				t.Fatal(err)
			}
			if link != layers.LinkTypeEthernet {
				t.Fatalf("link type %v, want Ethernet", link)
			}
			d := New()
			orig := make([]Packet, len(frames))
			for i, fr := range frames {
				if err := d.Decode(fr, link, &orig[i]); err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
			}
			for _, rf := range reframings {
				t.Run(rf.name, func(t *testing.T) {
					var out [][]byte
					var outInfos []gopacket.CaptureInfo
					var idx []int
					for i, fr := range frames {
						if r := rf.frame(fr); r != nil {
							out, outInfos, idx = append(out, r), append(outInfos, infos[i]), append(idx, i)
						}
					}
					if len(out) == 0 {
						t.Fatal("no frame could be reframed")
					}
					path := filepath.Join(dir, strings.NewReplacer("/", "_", ".gz", "").Replace(name)+"."+rf.name+".pcap")
					if err := pcaptest.WritePcap(path, rf.link, out, outInfos); err != nil {
						t.Fatal(err)
					}
					back, _, backLink, err := pcaptest.ReadAll(path)
					if err != nil {
						t.Fatal(err)
					}
					if backLink != rf.link || len(back) != len(out) {
						t.Fatalf("read back %d frames of link %v, wrote %d of %v", len(back), backLink, len(out), rf.link)
					}
					var p Packet
					for j, fr := range back {
						o := &orig[idx[j]]
						if err := d.Decode(fr, backLink, &p); err != nil {
							t.Errorf("frame %d: %v", idx[j]+1, err)
							continue
						}
						if got, want := viewOf(&p), viewOf(o); got != want {
							t.Errorf("frame %d:\n got %+v\nwant %+v", idx[j]+1, got, want)
						}
						rf.check(t, &p, o)
						if t.Failed() {
							return
						}
					}
				})
			}
		})
	}
}

// TestERSPAN3MatchesTshark mirrors real frames in ERSPAN type III, with
// and without the platform-specific subheader, and checks that tshark
// finds the same inner frame the decoder does: the framing is what
// Wireshark expects, not merely what our own decoder reads back.
func TestERSPAN3MatchesTshark(t *testing.T) {
	t.Parallel()
	tshark := requireTool(t, "tshark")
	const session = 0x2a5
	var orig, mirrored [][]byte
	var infos []gopacket.CaptureInfo
	for _, name := range []string{"communityid/combined.pcap.gz", "rdp/ndpi_rdp_over_tls.pcap", "dns/zeek_ipv6-fragmented-dns.pcap"} {
		c := readCapture(t, filepath.Join("..", "..", "testdata", "pcaps", name))
		for i, fr := range c.frames {
			orig = append(orig, fr)
			mirrored = append(mirrored, pcaptest.ToERSPAN3(fr, session, false), pcaptest.ToERSPAN3(fr, session, true))
			infos = append(infos, c.infos[i])
		}
	}
	origView := tsharkFrames(t, tshark, layers.LinkTypeEthernet, orig, infos)
	want := tsharkFrames(t, tshark, layers.LinkTypeEthernet, mirrored, nil)
	d := New()
	var p Packet
	for i, fr := range mirrored {
		f := want[i]
		if err := d.Decode(fr, layers.LinkTypeEthernet, &p); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		// A frame tshark already found malformed (an SCTP padding note in
		// combined.pcap) stays so when mirrored.
		malformed := f.has("_ws.malformed") && !origView[i/2].has("_ws.malformed")
		if malformed || f.first("erspan.version") != "2" || f.num(t, "erspan.spanid", 0) != session {
			t.Fatalf("frame %d: tshark sees ERSPAN version %q span %q malformed %v", i+1, f.first("erspan.version"), f.first("erspan.spanid"), f.has("_ws.malformed"))
		}
		if got := fmt.Sprintf("%x", p.SrcMAC[:]); len(f["eth.src"]) < 2 || got != strings.ReplaceAll(f["eth.src"][1], ":", "") {
			t.Errorf("frame %d: inner SrcMAC %s, tshark eth.src %v", i+1, got, f["eth.src"])
		}
		switch p.Net {
		case NetIPv4:
			if srcs := f["ip.src"]; len(srcs) < 2 || srcs[1] != p.Src.String() || f["ip.dst"][1] != p.Dst.String() {
				t.Errorf("frame %d: inner %v → %v, tshark ip.src %v ip.dst %v", i+1, p.Src, p.Dst, srcs, f["ip.dst"])
			}
		case NetIPv6:
			if f.first("ipv6.src") != p.Src.String() || f.first("ipv6.dst") != p.Dst.String() {
				t.Errorf("frame %d: inner %v → %v, tshark ipv6.src %v ipv6.dst %v", i+1, p.Src, p.Dst, f["ipv6.src"], f["ipv6.dst"])
			}
		}
		switch {
		case p.Proto == 6 && f.has("tcp.srcport"):
			if f.num(t, "tcp.srcport", 0) != uint64(p.SrcPort) || f.num(t, "tcp.dstport", 0) != uint64(p.DstPort) {
				t.Errorf("frame %d: ports %d/%d, tshark tcp %v/%v", i+1, p.SrcPort, p.DstPort, f["tcp.srcport"], f["tcp.dstport"])
			}
		case p.Proto == 17 && f.has("udp.srcport"):
			if f.num(t, "udp.srcport", 0) != uint64(p.SrcPort) || f.num(t, "udp.dstport", 0) != uint64(p.DstPort) {
				t.Errorf("frame %d: ports %d/%d, tshark udp %v/%v", i+1, p.SrcPort, p.DstPort, f["udp.srcport"], f["udp.dstport"])
			}
		}
	}
}
