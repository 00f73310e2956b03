package smb

import (
	"path/filepath"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// goldenCap bounds a golden file: the first records of a capture show
// every kind of record; the tshark cross-check covers all of them.
const goldenCap = 150

// TestGolden replays each bundled SMB capture through the real packet path
// and compares the records (at most goldenCap) with its golden file.
func TestGolden(t *testing.T) {
	for _, rel := range testenv.BundledPcaps(t) {
		if !strings.HasPrefix(rel, "smb/") && !(strings.HasPrefix(rel, "recorded/") && strings.Contains(rel, "smb")) {
			continue
		}
		t.Run(filepath.Base(rel), func(t *testing.T) {
			t.Parallel()
			p, _ := New(Config{})
			recs := prototest.Records(t, rel, p)
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			if len(recs) > goldenCap {
				recs = recs[:goldenCap]
			}
			prototest.Golden(t, strings.TrimSuffix(filepath.Base(rel), ".pcap"), recs)
		})
	}
}

// withoutConn drops the flow identity (ports change the community id and
// flow id) so records of a rewritten capture compare with the original's.
func withoutConn(recs []event.Record) []byte {
	for _, r := range recs {
		if b, ok := r.(interface{ BaseRecord() *event.Base }); ok {
			b.BaseRecord().Conn = event.Conn{}
		}
	}
	return prototest.NDJSON(recs)
}

// TestNonStandardPorts moves real captures' SMB to port 139 (NetBIOS
// session service), to 4450 and to 8080, and shows the same records come
// out: the parser recognises SMB by content. tshark, told with -d that
// the port is NetBIOS session service, agrees with the records.
func TestNonStandardPorts(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	for _, tc := range []struct {
		capture string
		to      uint16
	}{
		{"smb/zeek_smb2.pcap", 139},
		{"smb/sv_20171220_smb_psexec_add_user.pcap", 4450},
		{"recorded/smb_fanout_admin_shares.pcap", 8080},
	} {
		t.Run(filepath.Base(tc.capture), func(t *testing.T) {
			t.Parallel()
			p, _ := New(Config{})
			want := prototest.Records(t, tc.capture, p)
			moved := prototest.RewritePorts(t, testenv.Pcap(t, tc.capture), 445, tc.to)
			got := prototest.Records(t, moved, p)
			if len(got) != len(want) {
				t.Fatalf("port %d: %d records, want %d", tc.to, len(got), len(want))
			}
			for _, r := range got {
				if r.(interface{ BaseRecord() *event.Base }).BaseRecord().Destination.Port() == 445 {
					t.Fatalf("record still on port 445")
				}
			}
			theirs := tsharkFacts(t, tshark, moved, int(tc.to))
			compareFacts(t, ourFacts(got), theirs, nil)
			if a, b := withoutConn(got), withoutConn(want); string(a) != string(b) {
				t.Fatalf("port %d: records differ from port 445's", tc.to)
			}
		})
	}
}
