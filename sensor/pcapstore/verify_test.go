package pcapstore

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func verify(t testing.TB, s *Store) *VerifyReport {
	t.Helper()
	r, err := s.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// closedFiles returns the store's closed packet files, oldest first.
func closedFiles(t testing.TB, s *Store) []FileInfo {
	t.Helper()
	fs, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	var out []FileInfo
	for _, f := range fs {
		if !f.Open {
			out = append(out, f)
		}
	}
	return out
}

func wantProblem(t testing.TB, r *VerifyReport, file, msg string) {
	t.Helper()
	if r.OK() {
		t.Fatalf("verify passed; want a problem with %s", file)
	}
	for _, p := range r.Problems {
		if p.File == file && strings.Contains(p.Msg, msg) {
			return
		}
	}
	t.Errorf("no problem naming %s (%q) among %v", file, msg, r.Problems)
}

// TestVerifyDetectsTampering alters, removes and adds files and manifest
// lines, and checks that verify fails and names the file each time.
func TestVerifyDetectsTampering(t *testing.T) {
	cfg := Config{FileSize: 64 << 10}
	setup := func(t *testing.T) (*Store, []FileInfo) {
		s := importStore(t, Config{FileSize: cfg.FileSize, Dir: t.TempDir()}, pcapPath(t, "recorded/benign_smb_rdp.pcap"))
		export(t, s, Query{Expr: "tcp port 445", Who: "analyst"})
		if r := verify(t, s); !r.OK() || r.Files < 3 || r.Audit != 1 {
			t.Fatalf("fresh store: ok %v, %d files, %d audit lines: %v", r.OK(), r.Files, r.Audit, r.Problems)
		}
		return s, closedFiles(t, s)
	}
	t.Run("packet byte flipped", func(t *testing.T) {
		s, files := setup(t)
		f := files[1]
		b, _ := os.ReadFile(s.path(f.Name))
		b[len(b)/2] ^= 0x01
		os.WriteFile(s.path(f.Name), b, 0o640)
		wantProblem(t, verify(t, s), f.Name, "SHA-256")
	})
	t.Run("packet file cut", func(t *testing.T) {
		s, files := setup(t)
		f := files[0]
		os.Truncate(s.path(f.Name), f.Size-100)
		wantProblem(t, verify(t, s), f.Name, "size")
	})
	t.Run("packet file removed", func(t *testing.T) {
		s, files := setup(t)
		os.Remove(s.path(files[2].Name))
		wantProblem(t, verify(t, s), files[2].Name, "missing")
	})
	t.Run("foreign packet file", func(t *testing.T) {
		s, files := setup(t)
		b, _ := os.ReadFile(s.path(files[0].Name))
		name := "9999999999-20200101T000000Z.pcap"
		os.WriteFile(s.path(name), b, 0o640)
		wantProblem(t, verify(t, s), name, "not in the manifest")
	})
	t.Run("index altered", func(t *testing.T) {
		s, files := setup(t)
		iname := idxName(files[0].Name)
		b, _ := os.ReadFile(s.path(iname))
		b[len(b)-1] ^= 0xff
		os.WriteFile(s.path(iname), b, 0o640)
		wantProblem(t, verify(t, s), iname, "index was altered")
	})
	t.Run("manifest hash edited", func(t *testing.T) {
		s, files := setup(t)
		// Make the manifest agree with a forged file: the line's own hash
		// no longer matches.
		b, _ := os.ReadFile(s.path(manifestName))
		lines := bytes.Split(b, []byte("\n"))
		for i, l := range lines {
			if bytes.Contains(l, []byte(files[1].Name)) {
				j := bytes.Index(l, []byte(`"sha256":"`)) + 10
				l[j] ^= 0x01
				lines[i] = l
			}
		}
		os.WriteFile(s.path(manifestName), bytes.Join(lines, []byte("\n")), 0o640)
		r := verify(t, s)
		wantProblem(t, r, files[1].Name, "line altered")
	})
	t.Run("manifest line removed", func(t *testing.T) {
		s, files := setup(t)
		b, _ := os.ReadFile(s.path(manifestName))
		lines := bytes.SplitAfter(b, []byte("\n"))
		var kept [][]byte
		for _, l := range lines {
			if !bytes.Contains(l, []byte(files[1].Name)) {
				kept = append(kept, l)
			}
		}
		os.WriteFile(s.path(manifestName), bytes.Join(kept, nil), 0o640)
		r := verify(t, s)
		wantProblem(t, r, files[2].Name, "chain broken")
		wantProblem(t, r, files[1].Name, "not in the manifest")
	})
	t.Run("audit line altered", func(t *testing.T) {
		s, _ := setup(t)
		b, _ := os.ReadFile(s.path(auditName))
		b = bytes.Replace(b, []byte(`"who":"analyst"`), []byte(`"who":"someone"`), 1)
		os.WriteFile(s.path(auditName), b, 0o640)
		wantProblem(t, verify(t, s), auditName, "line altered")
	})
}
