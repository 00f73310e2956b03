package pcapstore

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvidencePackage pins an alert and writes its evidence package as a
// directory and as a tar: the packets are the alert's, every listed hash
// is right, the manifest lines verify and name the source files, and the
// audit log records both packages.
func TestEvidencePackage(t *testing.T) {
	s := importStore(t, Config{FileSize: 64 << 10}, pcapPath(t, "recorded/smb_fanout_admin_shares.pcap"))
	all, _ := export(t, s, Query{})
	alert := `{"rule":{"id":"smb-lateral"},"event":{"kind":"alert"},"message":"admin share fan-out"}`
	pin := Pin{AlertID: "smb-lateral/42", From: tsTime(all[100].ts), To: tsTime(all[900].ts), Expr: "tcp port 445", Alert: []byte(alert)}
	if err := s.Pin(pin); err != nil {
		t.Fatal(err)
	}
	want, _ := export(t, s, Query{Expr: "alert smb-lateral/42"})
	if len(want) == 0 {
		t.Fatal("alert has no packets")
	}
	dir := t.TempDir()
	for _, out := range []string{filepath.Join(dir, "case-17"), filepath.Join(dir, "case-17.tar")} {
		res, err := s.Evidence(context.Background(), EvidenceRequest{
			Query: Query{Expr: "alert smb-lateral/42", Who: "investigator", Why: "case 17"}, Out: out, Tool: "mamori test"})
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		if strings.HasSuffix(out, ".tar") {
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(f)
			f.Close()
			if sha256Hex(b) != res.SHA256 {
				t.Errorf("tar SHA-256 %s, result says %s", sha256Hex(b), res.SHA256)
			}
			tr := tar.NewReader(bytes.NewReader(b))
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if h.Typeflag == tar.TypeReg {
					data, _ := io.ReadAll(tr)
					files[strings.TrimPrefix(h.Name, "case-17/")] = data
				}
			}
		} else {
			ents, _ := os.ReadDir(out)
			for _, e := range ents {
				files[e.Name()], _ = os.ReadFile(filepath.Join(out, e.Name()))
			}
		}
		for _, name := range []string{"packets.pcap", "alert-smb-lateral_42.json", "pin-smb-lateral_42.json", "manifest.jsonl", "query.json", "README.txt", "SHA256SUMS"} {
			if files[name] == nil {
				t.Errorf("%s: no %s", out, name)
			}
		}
		samePackets(t, "evidence packets", readPcapBytes(t, files["packets.pcap"]), want)
		// SHA256SUMS lists every other file with its hash; README shows them.
		for _, line := range strings.Split(strings.TrimSpace(string(files["SHA256SUMS"])), "\n") {
			sum, name, _ := strings.Cut(line, "  ")
			if sha256Hex(files[name]) != sum {
				t.Errorf("%s: %s has SHA-256 %s, SHA256SUMS says %s", out, name, sha256Hex(files[name]), sum)
			}
			if name != "README.txt" && !strings.Contains(string(files["README.txt"]), sum+"  "+name) {
				t.Errorf("README does not list %s", name)
			}
		}
		if !strings.Contains(string(files["alert-smb-lateral_42.json"]), `"admin share fan-out"`) {
			t.Errorf("alert record: %s", files["alert-smb-lateral_42.json"])
		}
		lines := strings.Split(strings.TrimSpace(string(files["manifest.jsonl"])), "\n")
		if len(lines) != 1+len(res.Result.Files) {
			t.Errorf("%d manifest lines for %d source files", len(lines), len(res.Result.Files))
		}
		for _, l := range lines {
			if _, _, err := splitLine([]byte(l)); err != nil {
				t.Errorf("manifest line does not verify: %v", err)
			}
		}
		for _, f := range res.Result.Files {
			if !strings.Contains(string(files["manifest.jsonl"]), `"file":"`+f+`"`) {
				t.Errorf("manifest lines lack source file %s", f)
			}
		}
	}
	entries, _, _ := s.Audit()
	n := 0
	for _, e := range entries {
		if e.Op == "evidence" && e.Who == "investigator" && e.Packets == uint64(len(want)) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d evidence entries in the audit log, want 2", n)
	}
	if _, err := s.Evidence(context.Background(), EvidenceRequest{Query: Query{Expr: "alert smb-lateral/42", Who: "x"}, Out: filepath.Join(dir, "case-17")}); err == nil {
		t.Error("an existing package was overwritten")
	}
}
