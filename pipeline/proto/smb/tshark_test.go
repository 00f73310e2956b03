package smb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/internal/ntlm"
	"mamori/pipeline/proto/prototest"
)

// smbCaptures lists the SMB captures: bundled ones, then those only in
// ../shared/pcaps (no redistribution licence) when that folder exists.
func smbCaptures(t *testing.T) []string {
	var out []string
	seen := map[string]bool{}
	for _, rel := range testenv.BundledPcaps(t) {
		if strings.HasPrefix(rel, "smb/") || strings.HasPrefix(rel, "recorded/") && strings.Contains(rel, "smb") {
			out = append(out, filepath.Join(testenv.Pcaps(t), rel))
			seen[filepath.Base(rel)] = true
		}
	}
	shared := filepath.Join(testenv.ModuleRoot(t), "..", "shared", "pcaps")
	if _, err := os.Stat(filepath.Join(shared, "MANIFEST.md")); err != nil {
		t.Logf("../shared/pcaps is absent: only bundled captures are checked")
		return out
	}
	m, _ := filepath.Glob(filepath.Join(shared, "smb", "*.pcap"))
	m2, _ := filepath.Glob(filepath.Join(shared, "recorded", "*smb*.pcap"))
	for _, p := range append(m, m2...) {
		if !seen[filepath.Base(p)] {
			out = append(out, p)
		}
	}
	return out
}

// facts are the values both sides extract from a capture, as sorted
// multisets of strings.
type facts struct {
	trees, creates, statuses, ntlm, uuids, opnums, smb1 []string
}

func (f *facts) sort() {
	for _, s := range []*[]string{&f.trees, &f.creates, &f.statuses, &f.ntlm, &f.uuids, &f.opnums, &f.smb1} {
		slices.Sort(*s)
	}
	f.uuids = slices.Compact(f.uuids)
}

var tsharkFields = []string{
	"frame.number", "smb2.cmd", "smb2.flags.response", "smb2.nt_status", "smb2.tree", "smb2.filename",
	"ntlmssp.messagetype", "ntlmssp.auth.username", "ntlmssp.auth.domain", "ntlmssp.auth.hostname",
	"dcerpc.pkt_type", "dcerpc.cn_flags", "dcerpc.cn_bind_to_uuid", "dcerpc.opnum", "smb.cmd", "smb.path", "smb.flags.response", "tcp.stream",
}

// tsharkFacts runs tshark once on path. decodeAs maps a TCP port to SMB
// (NetBIOS session service) for captures rewritten to other ports.
func tsharkFacts(t *testing.T, tshark, path string, decodeAs ...int) facts {
	args := []string{"-r", path, "-n", "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t", "-o", "tcp.desegment_tcp_streams:TRUE"}
	for _, p := range decodeAs {
		args = append(args, "-d", "tcp.port=="+strconv.Itoa(p)+",nbss")
	}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var f facts
	for _, line := range strings.Split(string(out), "\n") {
		col := strings.Split(line, "\t")
		if len(col) < len(tsharkFields) {
			continue
		}
		list := func(i int) []string {
			if col[i] == "" {
				return nil
			}
			return strings.Split(col[i], ",")
		}
		cmds, resp, status, tree, names := list(1), list(2), list(3), list(4), list(5)
		for i, c := range cmds {
			isResp := i < len(resp) && resp[i] == "1"
			switch {
			case c == "3" && !isResp && i < len(tree):
				f.trees = append(f.trees, tree[i])
			case isResp && i < len(status) && (c == "1" || c == "3" || c == "5"):
				code, _ := strconv.ParseUint(strings.TrimPrefix(status[i], "0x"), 16, 32)
				if c == "1" && code == statusMoreProcessingRequired {
					continue
				}
				f.statuses = append(f.statuses, c+" "+StatusName(uint32(code)))
			}
		}
		// SET_INFO and QUERY_DIRECTORY requests name files too.
		if len(cmds) > 0 && !slices.Contains(resp, "1") && !slices.Contains(cmds, "17") {
			for _, n := range names {
				f.creates = append(f.creates, n)
			}
		}
		onSMB := len(cmds) > 0 || col[14] != ""
		if mt := list(6); onSMB && slices.Contains(mt, "0x00000003") {
			u, d, h := col[7], col[8], col[9]
			for _, p := range []*string{&u, &d, &h} {
				if *p == "NULL" {
					*p = ""
				}
			}
			f.ntlm = append(f.ntlm, u+"|"+d+"|"+h)
		}
		if onSMB {
			f.uuids = append(f.uuids, list(12)...)
			types, flags, ops := list(10), list(11), list(13)
			if len(types) > 0 && !slices.ContainsFunc(types, func(s string) bool { return s != "0" }) {
				for i, op := range ops {
					if i < len(flags) {
						fl, _ := strconv.ParseUint(strings.TrimPrefix(flags[i], "0x"), 16, 8)
						if fl&1 == 0 {
							continue
						}
					}
					f.opnums = append(f.opnums, op)
				}
			}
		}
		if col[17] == "" {
			continue // SMB1 over NetBIOS datagrams (browser mailslots)
		}
		smb1 := list(14)
		for _, c := range smb1 {
			if c != "0xff" {
				v, _ := strconv.ParseUint(strings.TrimPrefix(c, "0x"), 16, 8)
				f.smb1 = append(f.smb1, smb1Name(uint8(v)))
			}
		}
		// smb.path lists the tree tracked for the frame's TID first,
		// then the path requested: the last one.
		if p := list(15); len(p) > 0 && len(smb1) > 0 && smb1[0] == "0x75" && col[16] == "0" {
			f.trees = append(f.trees, p[len(p)-1])
		}
	}
	f.sort()
	return f
}

// ourFacts extracts the same values from our records.
func ourFacts(recs []event.Record) facts {
	var f facts
	for _, r := range recs {
		switch r := r.(type) {
		case *ntlm.Record:
			f.ntlm = append(f.ntlm, r.User+"|"+r.Domain+"|"+r.Workstation)
		case *Record:
			switch r.Action {
			case "smb2_tree_connect", "smb1_tree_connect_andx":
				f.trees = append(f.trees, r.Share)
			case "smb2_create":
				if r.FileName != "" {
					f.creates = append(f.creates, r.FileName)
				}
			case "smb1_summary":
				for _, c := range r.Counts {
					for range c.Count {
						f.smb1 = append(f.smb1, c.Command)
					}
				}
			case "smb2_negotiate":
				if r.Version == "1" { // SMB1 NEGOTIATE answered in SMB2
					f.smb1 = append(f.smb1, "negotiate")
				}
			case "dcerpc_bind":
				f.uuids = append(f.uuids, r.RPC.UUIDs...)
				if len(r.RPC.UUIDs) == 0 && r.RPC.UUID != "" {
					f.uuids = append(f.uuids, r.RPC.UUID)
				}
			case "dcerpc_call":
				f.opnums = append(f.opnums, strconv.Itoa(int(r.RPC.Opnum)))
			}
			if r.HasStatus && r.Version != "1" {
				switch r.Action {
				case "smb2_session_setup":
					f.statuses = append(f.statuses, "1 "+r.Status)
				case "smb2_tree_connect":
					f.statuses = append(f.statuses, "3 "+r.Status)
				case "smb2_create":
					f.statuses = append(f.statuses, "5 "+r.Status)
				}
			}
		}
	}
	f.sort()
	return f
}

// TestAgainstTshark replays every SMB capture through the real dispatcher
// and checks that what we extract equals what tshark extracts from the
// same file: tree connect paths (smb2.tree, smb.path), CREATE file names
// (smb2.filename), SESSION_SETUP/TREE_CONNECT/CREATE statuses
// (smb2.nt_status), NTLM user/domain/workstation (ntlmssp.auth.*), bound
// interfaces (dcerpc.cn_bind_to_uuid), request opnums (dcerpc.opnum) and
// SMB1 commands (smb.cmd).
func TestAgainstTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	for _, path := range smbCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			p, _ := New(Config{})
			ours := ourFacts(prototest.Records(t, path, p))
			theirs := tsharkFacts(t, tshark, path)
			compareFacts(t, ours, theirs, knownDiffs[filepath.Base(path)])
		})
	}
}

// knownDiff is an exact, explained difference between tshark and us.
type knownDiff struct {
	onlyOurs, onlyTshark []string
	why                  string
}

// knownDiffs lists, per capture and category, where tshark and we differ.
var knownDiffs = map[string]map[string]knownDiff{
	"tmnids_eternalblue-success-unpatched-win7.pcap": {"smb1": {
		onlyOurs: []string{"transaction2_secondary"},
		why: "frame 19 (seq 5697, 2920 bytes) arrives after the ACK for it; tshark calls it a spurious " +
			"retransmission and does not dissect it, so the Trans2 Secondary it starts (ending in frame 20, " +
			"'NBSS Continuation') is missing from tshark's output; our reassembly delivers it in order",
	}},
}

func compareFacts(t *testing.T, ours, theirs facts, known map[string]knownDiff) {
	t.Helper()
	for _, c := range []struct {
		name     string
		our, ths []string
	}{
		{"trees", ours.trees, theirs.trees},
		{"creates", ours.creates, theirs.creates},
		{"statuses", ours.statuses, theirs.statuses},
		{"ntlm", ours.ntlm, theirs.ntlm},
		{"uuids", ours.uuids, theirs.uuids},
		{"opnums", ours.opnums, theirs.opnums},
		{"smb1", ours.smb1, theirs.smb1},
	} {
		onlyOurs, onlyTheirs := diff(c.our, c.ths)
		if k, ok := known[c.name]; ok {
			if !slices.Equal(onlyOurs, k.onlyOurs) || !slices.Equal(onlyTheirs, k.onlyTshark) {
				t.Errorf("%s: known difference changed: only ours %v, only tshark %v; expected %v, %v (%s)",
					c.name, onlyOurs, onlyTheirs, k.onlyOurs, k.onlyTshark, k.why)
			} else {
				t.Logf("%s: known difference: %s", c.name, k.why)
			}
			continue
		}
		if !slices.Equal(c.our, c.ths) {
			t.Errorf("%s differ: %d ours, %d tshark's\n only ours:   %s\n only tshark: %s", c.name, len(c.our), len(c.ths), short(onlyOurs), short(onlyTheirs))
		} else if len(c.our) > 0 {
			t.Logf("%s: %d values equal tshark's", c.name, len(c.our))
		}
	}
}

func short(v []string) string {
	s := fmt.Sprint(v)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// diff returns the multiset differences of two sorted lists.
func diff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}
