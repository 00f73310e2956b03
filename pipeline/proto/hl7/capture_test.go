package hl7

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/proto/prototest"
)

// captures lists the HL7 captures: the bundled ones and, where present,
// those of ../shared/pcaps/hl7 that are not bundled.
func captures(t *testing.T) []string {
	t.Helper()
	bundled, _ := filepath.Glob(filepath.Join(testenv.Pcaps(t), "hl7", "*.pcap*"))
	if len(bundled) == 0 {
		t.Fatal("no bundled HL7 captures under testdata/pcaps/hl7")
	}
	paths := slices.Clone(bundled)
	shared := filepath.Join(testenv.SharedPcaps(t), "hl7")
	extra, _ := filepath.Glob(filepath.Join(shared, "*.pcap*"))
	for _, e := range extra {
		if !slices.ContainsFunc(bundled, func(b string) bool { return filepath.Base(b) == filepath.Base(e) }) {
			paths = append(paths, e)
		}
	}
	if len(extra) == 0 {
		t.Logf("%s absent or empty: only bundled captures", shared)
	}
	return paths
}

func stem(path string) string {
	b := filepath.Base(path)
	return b[:strings.IndexByte(b, '.')]
}

// patientData is what the captures' PID and OBX segments hold: it must
// never appear in a record.
var patientData = []string{"PATIENT", "MOUSE", "MICKEY", "MINNIE", "SAMPLE^NAME", "DEMO^USER", "000123", "000125", "135769", "Penicillin", "Lake Buena", "6.1", "19700101", "19281118", "ohtoodles"}

func TestGolden(t *testing.T) {
	for _, path := range captures(t) {
		t.Run(stem(path), func(t *testing.T) {
			recs, c := prototest.Replay(t, path, newParser(t, Config{}))
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			if len(c.Malformed) > 0 || c.Panics > 0 {
				t.Errorf("malformed %v, panics %d", c.Malformed, c.Panics)
			}
			nd := string(prototest.NDJSON(recs))
			for _, leak := range patientData {
				if strings.Contains(nd, leak) {
					t.Errorf("records leak %q", leak)
				}
			}
			prototest.Golden(t, stem(path), recs)
		})
	}
}

func TestRealStreamsRobust(t *testing.T) {
	p := newParser(t, Config{})
	for _, path := range captures(t) {
		for _, s := range prototest.Streams(t, path) {
			prototest.CheckRobust(t, anyMatch{p}, s.Info, s.UDP, s.Chunks...)
		}
	}
}

// TestNonStandardPort moves the MLLP servers (2575, 6661) to other ports:
// the same exchanges must be found by content.
func TestNonStandardPort(t *testing.T) {
	for _, path := range captures(t) {
		t.Run(stem(path), func(t *testing.T) {
			moved := map[uint16]uint16{2575: 40001, 6661: 40002}
			out := prototest.RewritePortMap(t, path, moved)
			p := newParser(t, Config{})
			want, got := prototest.Records(t, path, p), prototest.Records(t, out, p)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d records on moved ports, %d on the originals", len(got), len(want))
			}
			for i := range want {
				w, g := doc(t, want[i]), doc(t, got[i])
				if str(get(w, "mamori")) != str(get(g, "mamori")) || str(get(w, "event")) != str(get(g, "event")) {
					t.Errorf("record %d differs:\n%s\nvs\n%s", i, str(get(g, "mamori")), str(get(w, "mamori")))
				}
				port := uint16(get(w, "destination.port").(float64))
				if gp := uint16(get(g, "destination.port").(float64)); gp != moved[port] {
					t.Errorf("record %d on port %d, want %d", i, gp, moved[port])
				}
			}
		})
	}
}

// TestTshark compares every message with what tshark's HL7 dissector
// extracts: tshark frames the MLLP messages (reassembling across TCP
// segments) and names the message type and trigger; the test splits
// tshark's raw message text into segments and fields itself, the simplest
// possible way, to check the MSH fields, the MSA code and control ID, the
// segment count and the message size.
//
// tshark writes the raw text with CR shown as the two characters `\r`; it
// needs hl7.display_raw to fill hl7.raw, and -d for both ports (its HL7
// dissector has no default port).
func TestTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	for _, path := range captures(t) {
		t.Run(stem(path), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(tshark, "-n", "-r", path, "-o", "hl7.display_raw:TRUE",
				"-d", "tcp.port==2575,hl7", "-d", "tcp.port==6661,hl7", "-Y", "hl7",
				"-T", "fields", "-E", "separator=/t",
				"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "hl7.message.type", "-e", "hl7.event.type", "-e", "hl7.raw").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			// Every message the records hold, by sender port and control ID.
			mine := map[string]map[string]any{}
			for _, r := range prototest.Records(t, path, newParser(t, Config{})) {
				d := doc(t, r)
				for _, k := range []string{"message", "ack"} {
					m, ok := get(d, "mamori.hl7."+k).(map[string]any)
					if !ok {
						continue
					}
					port := get(d, "source.port")
					if m["sender"] == "server" {
						port = get(d, "destination.port")
					}
					mine[str(port)+"/"+str(m["control_id"])] = m
				}
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(mine) || len(lines) == 0 {
				t.Fatalf("tshark shows %d messages, the records %d", len(lines), len(mine))
			}
			for _, line := range lines {
				f := strings.Split(line, "\t")
				if len(f) != 5 {
					t.Fatalf("tshark line %q", line)
				}
				raw := strings.ReplaceAll(f[4], `\r`, "\r")
				var segs [][]string
				for _, s := range strings.Split(raw, "\r") {
					if s != "" {
						segs = append(segs, strings.Split(s, "|"))
					}
				}
				msh := segs[0]
				field := func(n int) string { // MSH-n
					if n-1 < len(msh) {
						return msh[n-1]
					}
					return ""
				}
				m := mine[str(mustInt(t, f[0]))+"/"+str(field(10))]
				if m == nil {
					t.Errorf("no record for tshark's message %s from port %s", field(10), f[0])
					continue
				}
				comp := func(s string, i int) string {
					if c := strings.Split(s, "^"); i < len(c) {
						return c[i]
					}
					return ""
				}
				want := map[string]any{
					"type": f[2], "trigger": f[3],
					"sending_application": field(3), "sending_facility": field(4),
					"receiving_application": field(5), "receiving_facility": field(6),
					"time": field(7), "processing_id": field(11), "version": comp(field(12), 0),
					"segments": len(segs), "bytes": len(raw),
				}
				if cs := field(18); cs != "" {
					want["charset"] = strings.Split(cs, "~")
				}
				if f[3] == "" { // tshark leaves an absent trigger empty
					delete(want, "trigger")
				}
				for _, s := range segs[1:] {
					if s[0] == "MSA" {
						want["ack_code"], want["acknowledged_control_id"] = s[1], s[2]
						break
					}
				}
				for k, v := range want {
					if str(m[k]) != str(v) {
						t.Errorf("message %s %s = %s, tshark %s", field(10), k, str(m[k]), str(v))
					}
				}
			}
		})
	}
}

func mustInt(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
