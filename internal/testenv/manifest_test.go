package testenv

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManifest checks that every bundled capture has a MANIFEST row with a
// source, a licence and the sha256 of the file as it is, and that every row
// names a file that exists.
func TestManifest(t *testing.T) {
	dir := Pcaps(t)
	f, err := os.Open(filepath.Join(dir, "MANIFEST.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 5 {
			t.Errorf("short MANIFEST row: %s", line)
			continue
		}
		file := strings.Trim(strings.TrimSpace(cells[0]), "`")
		source, licence := strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])
		sum := strings.Trim(strings.TrimSpace(cells[3]), "`")
		if source == "" || licence == "" || len(sum) != 64 {
			t.Errorf("%s: MANIFEST row needs source, licence and sha256", file)
		}
		rows[file] = sum
	}
	if len(rows) < 40 {
		t.Fatalf("only %d MANIFEST rows", len(rows))
	}
	for _, rel := range BundledPcaps(t) {
		want, ok := rows[filepath.ToSlash(rel)]
		if !ok {
			t.Errorf("%s: no MANIFEST row", rel)
			continue
		}
		delete(rows, filepath.ToSlash(rel))
		h := sha256.New()
		g, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(h, g)
		g.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s: sha256 %s, MANIFEST says %s", rel, got, want)
		}
	}
	for file := range rows {
		t.Errorf("MANIFEST row for missing file %s", file)
	}
}
