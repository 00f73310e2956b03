package ntlm

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
)

// tcpPayloads returns each frame's TCP payload by 1-based frame number.
func tcpPayloads(tb testing.TB, path string) map[int][]byte {
	tb.Helper()
	frames, _, link, err := pcaptest.ReadAll(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[int][]byte)
	for i, fr := range frames {
		p := gopacket.NewPacket(fr, link, gopacket.NoCopy)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && len(tcp.Payload) > 0 {
			out[i+1] = tcp.Payload
		}
	}
	return out
}

// ntlmCaptures lists the captures with NTLMSSP: the bundled SMB ones and,
// when present, the unbundled ones in ../shared/pcaps.
func ntlmCaptures(tb testing.TB) []string {
	var out []string
	for _, rel := range testenv.BundledPcaps(tb) {
		if strings.HasPrefix(rel, "smb/") || strings.Contains(rel, "smb") {
			out = append(out, filepath.Join(testenv.Pcaps(tb), rel))
		}
	}
	return out
}

// TestCapturesAgainstTshark decodes every NTLMSSP message that lies whole
// in one TCP segment of the real captures and compares it with what tshark
// decodes from the same frame. tshark writes "NULL" for an empty string
// field; that is "" here.
func TestCapturesAgainstTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	paths := ntlmCaptures(t)
	bundled := make(map[string]bool)
	for _, p := range paths {
		bundled[filepath.Base(p)] = true
	}
	if dir := sharedDir(t); dir != "" {
		for _, sub := range []string{"smb", "recorded"} {
			m, _ := filepath.Glob(filepath.Join(dir, sub, "*.pcap"))
			for _, p := range m {
				if (strings.Contains(p, "smb") || sub == "smb") && !bundled[filepath.Base(p)] {
					paths = append(paths, p)
				}
			}
		}
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			if min := wantChecked[filepath.Base(path)]; min == 0 && !hasSignature(t, path) {
				t.Skip("no NTLMSSP signature in any segment")
			}
			n := crossCheck(t, tshark, path)
			// Captures known to hold NTLMSSP whole in one segment.
			if min := wantChecked[filepath.Base(path)]; n < min {
				t.Errorf("%d messages checked, want at least %d", n, min)
			}
		})
	}
}

// wantChecked is how many NTLMSSP messages tshark finds in some captures
// (tshark -Y ntlmssp), so the cross-check cannot pass by checking nothing.
var wantChecked = map[string]int{
	"zeek_smb2.pcap":                 3,
	"zeek_smb3_multichannel.pcap":    8,
	"sv_smb2-peter.pcap":             3,
	"zeek_smb2_100_small_files.pcap": 3,
	"smb_fanout_admin_shares.pcap":   3,
	"elcab_atexec.pcap":              3,
}

// hasSignature reports whether any TCP segment of the capture holds the
// NTLMSSP signature (a capture without one needs no tshark run).
func hasSignature(t *testing.T, path string) bool {
	for _, pl := range tcpPayloads(t, path) {
		if bytes.Contains(pl, Signature) {
			return true
		}
	}
	return false
}

func sharedDir(t *testing.T) string {
	var dir string
	t.Run("shared", func(t *testing.T) { dir = testenv.SharedPcaps(t) })
	return dir
}

func crossCheck(t *testing.T, tshark, path string) int {
	fields := []string{"frame.number", "ntlmssp.messagetype", "ntlmssp.auth.username", "ntlmssp.auth.domain",
		"ntlmssp.auth.hostname", "ntlmssp.challenge.target_name",
		"ntlmssp.challenge.target_info.nb_computer_name", "ntlmssp.challenge.target_info.dns_computer_name"}
	args := []string{"-r", path, "-n", "-Y", "ntlmssp", "-T", "fields", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	payloads := tcpPayloads(t, path)
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		col := strings.Split(line, "\t")
		for len(col) < len(fields) {
			col = append(col, "")
		}
		for i := range col {
			if col[i] == "NULL" {
				col[i] = ""
			}
		}
		frame, _ := strconv.Atoi(col[0])
		typ, _ := strconv.ParseInt(strings.TrimPrefix(col[1], "0x"), 16, 32)
		pl := payloads[frame]
		if !bytes.Contains(pl, Signature) {
			continue // the message spans segments: tshark reassembled it
		}
		m, ok := Find(pl)
		if !ok {
			// Whole messages only: a message cut by the segment's end is
			// the SMB parser's job (it reassembles).
			if _, err := Parse(pl[bytes.Index(pl, Signature):]); err == ErrBounds || err == ErrShort {
				continue
			}
			t.Errorf("frame %d: tshark decodes NTLMSSP type %d, Find does not", frame, typ)
			continue
		}
		checked++
		got := []string{strconv.Itoa(m.Type), m.User, m.Domain, m.Workstation, m.TargetName, m.ServerNetBIOSName, m.ServerDNSName}
		want := []string{strconv.Itoa(int(typ)), col[2], col[3], col[4], col[5], col[6], col[7]}
		if m.Type == TypeNegotiate {
			// tshark puts NEGOTIATE's OEM names in other fields.
			got[2], got[3] = "", ""
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("frame %d:\n got  %q\n want %q (tshark)", frame, got, want)
		}
	}
	t.Logf("%d NTLMSSP messages equal tshark's", checked)
	return checked
}
