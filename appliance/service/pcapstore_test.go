package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mamori/appliance/config"
	"mamori/internal/testenv"
	"mamori/sensor/pcapstore"
)

// TestReplayIntoPcapStore replays a capture with --pcap-store and checks
// the store against the flow records: for every flow, the store's
// "community-id" query returns as many packets as the record counts, so
// an analyst goes from a record to its packets. The store's counters come
// out as a metric record.
func TestReplayIntoPcapStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	var out, errb bytes.Buffer
	cfg := testConfig(t)
	res, err := Replay(context.Background(), ReplayOptions{Config: cfg,
		Files:  []string{testenv.Pcap(t, "recorded/benign_smb_rdp.pcap"), testenv.Pcap(t, "recorded/rdp_scan_nmap.pcap")},
		Output: "-", Stdout: &out, Stderr: &errb, PcapStore: dir})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	total := res.Counters.Packets
	if !strings.Contains(errb.String(), fmt.Sprintf("pcap store %s: %d packets stored", dir, total)) {
		t.Errorf("summary: %s", errb.String())
	}
	perFlow := map[string]uint64{}
	metric := false
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Event struct {
				Action string `json:"action"`
			} `json:"event"`
			Network struct {
				CommunityID string `json:"community_id"`
				Packets     uint64 `json:"packets"`
			} `json:"network"`
			Flow *struct {
				Final bool `json:"final"`
			} `json:"flow"`
			Mamori struct {
				PcapStore map[string]uint64 `json:"pcap_store"`
			} `json:"mamori"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Event.Action == "network_flow" && r.Flow != nil && r.Flow.Final && r.Network.CommunityID != "" {
			perFlow[r.Network.CommunityID] += r.Network.Packets
		}
		if r.Event.Action == "pcap_store" {
			metric = r.Mamori.PcapStore["packets"] == total && r.Mamori.PcapStore["files_closed"] >= 1
		}
	}
	if !metric {
		t.Error("no pcap_store metric record with the stored packets")
	}
	if len(perFlow) < 10 {
		t.Fatalf("only %d flows", len(perFlow))
	}
	s, err := OpenPcapStore(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range perFlow {
		res, err := s.Export(context.Background(), PcapQuery{Expr: "community-id " + id, Who: "test"}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Packets != want {
			t.Errorf("community-id %s: %d packets stored, the flow records count %d", id, res.Packets, want)
		}
	}
	if r, err := s.Verify(context.Background(), nil); err != nil || !r.OK() {
		t.Errorf("verify: %v %v", err, r.Problems)
	}
}

// TestPcapStoreDefaultsDocumented uncomments the pcap_store section of
// default.yaml and checks that it states the package's defaults and that
// a bad value is refused with its line.
func TestPcapStoreDefaultsDocumented(t *testing.T) {
	var section []string
	in := false
	for _, line := range strings.Split(string(config.Default()), "\n") {
		if line == "# pcap_store:" {
			in = true
		}
		if !in || !strings.HasPrefix(line, "#") {
			in = in && strings.HasPrefix(line, "#")
			continue
		}
		l := strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ")
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		section = append(section, l)
	}
	if len(section) < 10 {
		t.Fatalf("default.yaml: pcap_store section has %d keys", len(section)-1)
	}
	path := filepath.Join(t.TempDir(), "mamori.yaml")
	os.WriteFile(path, []byte(strings.Join(section, "\n")+"\n"), 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := pcapstore.DefaultConfig(); !reflect.DeepEqual(c.PcapStore, want) {
		t.Errorf("default.yaml pcap_store:\n%+v\ncode's defaults:\n%+v", c.PcapStore, want)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"bad size":  {"pcap_store:\n  max_bytes: 10 parsecs\n", "mamori.yaml:2:"},
		"too large": {"pcap_store:\n  file_size: 3GiB\n", "mamori.yaml:2: pcap_store.file_size: must be at most 2GiB"},
	} {
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
