package decode

import (
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mamori/internal/pcaptest"
)

// TestFastPathAgrees decodes every frame of every capture in testdata
// twice, with the fast path and with the gopacket layers only, and
// requires the same error, Packet and counters. It also requires that the
// fast path took a good share of the frames, so that it cannot pass by
// never running.
func TestFastPathAgrees(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "pcaps")
	fast, slow := New(), New()
	slow.gopacketOnly = true
	frames, files, took := 0, 0, 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng") || strings.HasSuffix(path, ".pcap.gz")) {
			return err
		}
		all, _, link, err := pcaptest.ReadAll(path)
		if err != nil {
			return nil // the corrupt-input fixtures: not frames to compare
		}
		files++
		for i, f := range all {
			var pf, ps Packet
			ef := fast.Decode(f, link, &pf)
			es := slow.Decode(f, link, &ps)
			if ef != es || !reflect.DeepEqual(pf, ps) {
				t.Fatalf("%s frame %d: fast path %v %+v\ngopacket layers %v %+v", path, i, ef, pf, es, ps)
			}
			frames++
			var scratch Packet
			if decodeFast(f, &scratch) && link == 1 {
				took++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fast.Counters != slow.Counters {
		t.Errorf("counters differ:\nfast %+v\nslow %+v", fast.Counters, slow.Counters)
	}
	// Most frames of these captures are untagged IPv4 TCP/UDP.
	if took < frames/2 {
		t.Errorf("the fast path took only %d of %d frames", took, frames)
	}
	t.Logf("%d frames of %d captures agree; the fast path took %d", frames, files, took)
}
