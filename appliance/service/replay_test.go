package service

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mamori/appliance/config"
	"mamori/internal/golden"
	"mamori/internal/testenv"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sensor.Hostname = "golden-sensor"
	cfg.Sensor.Name = "his-span-1"
	return cfg
}

func replay(t *testing.T, files ...string) (stdout, stderr string, res ReplayResult, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	res, err = Replay(context.Background(), ReplayOptions{Config: testConfig(t), Files: files, Output: "-", Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), res, err
}

// TestGolden replays real captures and compares the whole NDJSON output
// (flows and the summary metric) with golden files; `go test -update`
// rewrites them. The captures cover TCP scans and sessions, IPv6 with
// fragments, IPv4 fragments, VLAN tags, ICMP/ICMPv6, ARP, SCTP, pcapng and
// a gzip-compressed pcap.
func TestGolden(t *testing.T) {
	for _, rel := range []string{
		"recorded/rdp_scan_nmap.pcap",
		"recorded/benign_smb_rdp.pcap",
		"dns/zeek_ipv6-fragmented-dns.pcap",
		"dns/zeek_dns-edns-ecs.pcap",
		"rdp/ndpi_rdp_over_tls.pcap",
		"communityid/combined.pcap.gz",
		"beacon/zeek_merlinc2.pcapng",
	} {
		t.Run(rel, func(t *testing.T) {
			out, stderr, _, err := replay(t, testenv.Pcap(t, rel))
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			checkECS(t, out)
			stem := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(rel), ".gz"), filepath.Ext(strings.TrimSuffix(rel, ".gz")))
			golden.Compare(t, filepath.Join("testdata", "golden", stem+".ndjson"), []byte(out))
		})
	}
}

// checkECS checks that every line is a JSON object with the fields the
// issues ask every record to carry, that the last is the metric, and that
// every protocol record points at a flow of the same output (flow.id and
// network.community_id), so an analyst can pivot from one to the other.
func checkECS(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("only %d lines", len(lines))
	}
	flows := map[string]string{} // flow.id -> community_id
	type ref struct {
		line    int
		id, cid string
	}
	var refs []ref
	for i, line := range lines {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, line)
		}
		want := []string{"@timestamp", "event.kind", "event.dataset", "ecs.version", "observer.hostname", "observer.type", "data_stream.dataset"}
		switch {
		case i == len(lines)-1:
			want = append(want, "mamori.capture.packets", "mamori.flow.records")
			if get(doc, "event.kind") != "metric" {
				t.Fatalf("last line is not the metric record: %s", line)
			}
		case get(doc, "event.dataset") == "mamori.flow":
			want = append(want, "event.category", "event.type", "event.action", "event.start", "event.end", "event.duration",
				"source.ip", "source.bytes", "source.packets", "destination.ip", "destination.bytes", "destination.packets",
				"network.transport", "network.type", "network.iana_number", "network.community_id", "network.bytes", "network.packets",
				"flow.id", "flow.final", "observer.ingress.interface.name", "mamori.flow.conn_state")
			if get(doc, "event.kind") != "event" || get(doc, "event.action") != "network_flow" {
				t.Fatalf("line %d is not a flow: %s", i+1, line)
			}
			flows[get(doc, "flow.id").(string)] = get(doc, "network.community_id").(string)
		case get(doc, "event.kind") == "event":
			want = append(want, "event.category", "event.type", "event.action", "source.ip", "destination.ip",
				"network.transport", "network.protocol", "network.community_id", "flow.id", "observer.ingress.interface.name")
			if id, ok := get(doc, "flow.id").(string); ok {
				cid, _ := get(doc, "network.community_id").(string)
				refs = append(refs, ref{i + 1, id, cid})
			}
		case get(doc, "event.kind") == "alert":
			want = append(want, "rule.id", "event.severity", "message")
		default:
			t.Fatalf("line %d: unexpected event.kind %v: %s", i+1, get(doc, "event.kind"), line)
		}
		for _, f := range want {
			if get(doc, f) == nil {
				t.Errorf("line %d has no %s: %s", i+1, f, line)
			}
		}
	}
	for _, r := range refs {
		cid, ok := flows[r.id]
		switch {
		case !ok:
			t.Errorf("line %d: protocol record's flow.id %s matches no flow record", r.line, r.id)
		case cid != r.cid:
			t.Errorf("line %d: community_id %s, its flow's is %s", r.line, r.cid, cid)
		}
	}
}

func get(doc map[string]any, dotted string) any {
	var cur any = doc
	for _, part := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// TestBadInput replays good captures together with broken ones: each
// problem is reported with its file (and packet index where there is one),
// the good captures are still replayed completely, and the error says some
// input could not be read only when one could not be read at all.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := testenv.Pcap(t, "recorded/benign_smb_rdp.pcap")
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Record i's header offset in a classic little-endian pcap.
	recordAt := func(i int) int {
		off := 24
		for range i {
			off += 16 + int(binary.LittleEndian.Uint32(raw[off+8:]))
		}
		return off
	}
	truncated := write("truncated.pcap", raw[:recordAt(100)+20]) // cut inside record 101
	corrupt := append([]byte(nil), raw...)                       // record 51 claims 2 GB
	binary.LittleEndian.PutUint32(corrupt[recordAt(50)+8:], 0x7fffffff)
	corruptPath := write("corrupt.pcap", corrupt)
	unknownLink := append([]byte(nil), raw...)
	binary.LittleEndian.PutUint32(unknownLink[20:], 147) // LINKTYPE_USER0
	unknownPath := write("user0.pcap", unknownLink)
	text := write("notes.txt", []byte("this is not a capture\n"))

	for _, tc := range []struct {
		name       string
		files      []string
		wantErr    bool     // some input could not be read at all
		wantInLog  []string // problems named on stderr
		minPackets uint64
	}{
		{"truncated file: packets before the cut are kept", []string{truncated}, false, []string{"truncated.pcap: packet 101"}, 100},
		{"corrupt record length", []string{corruptPath}, false, []string{"corrupt.pcap: packet 51"}, 50},
		{"unknown link type", []string{unknownPath}, true, []string{"user0.pcap: packet 1: unsupported link type 147"}, 0},
		{"not a capture file", []string{text}, true, []string{"notes.txt"}, 0},
		{"missing file", []string{filepath.Join(dir, "missing.pcap")}, true, []string{"missing.pcap"}, 0},
		{"bad files among good ones", []string{text, truncated, good, corruptPath}, true, []string{"notes.txt", "truncated.pcap: packet 101", "corrupt.pcap: packet 51"}, 326 + 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, res, err := replay(t, tc.files...)
			if gotErr := errors.Is(err, ErrInputsUnreadable); gotErr != tc.wantErr || (err != nil && !gotErr) {
				t.Errorf("error %v, want unreadable=%v", err, tc.wantErr)
			}
			if err != nil {
				stderr += err.Error() // the command line prints the returned error too
			}
			for _, s := range tc.wantInLog {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not name %q:\n%s", s, stderr)
				}
			}
			if res.Counters.Packets < tc.minPackets {
				t.Errorf("replayed %d packets, want at least %d", res.Counters.Packets, tc.minPackets)
			}
			if tc.minPackets > 0 {
				checkECS(t, out)
			}
		})
	}
}

// TestOutputFailure checks that a full disk is reported, never silent.
func TestOutputFailure(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	var errb bytes.Buffer
	_, err := Replay(context.Background(), ReplayOptions{Config: testConfig(t), Files: []string{testenv.Pcap(t, "recorded/smb_mass_rename.pcap")},
		Output: "/dev/full", Stdout: &bytes.Buffer{}, Stderr: &errb})
	if err == nil || errors.Is(err, ErrInputsUnreadable) || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "records lost") {
		t.Fatalf("got %v, want a 'records lost: … no space left on device' error", err)
	}
}

// TestDefaultOutput checks that without -o the records go to a new file
// under the data directory and the summary says where.
func TestDefaultOutput(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sensor.DataDir = t.TempDir()
	var errb bytes.Buffer
	res, err := Replay(context.Background(), ReplayOptions{Config: cfg, Files: []string{testenv.Pcap(t, "recorded/rdp_scan_nmap.pcap")}, Stdout: &bytes.Buffer{}, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Output, filepath.Join(cfg.Sensor.DataDir, "replay", "rdp_scan_nmap-")) || !strings.Contains(errb.String(), res.Output) {
		t.Fatalf("output %s, summary:\n%s", res.Output, errb.String())
	}
	b, err := os.ReadFile(res.Output)
	if err != nil || bytes.Count(b, []byte("\n")) != int(res.Records) {
		t.Fatalf("%s: %v, %d lines for %d records", res.Output, err, bytes.Count(b, []byte("\n")), res.Records)
	}
	for _, s := range []string{"packets/s", "Gbit/s", "decode errors", "flows:", "832 packets"} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, errb.String())
		}
	}
}
