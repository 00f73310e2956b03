package decode

import (
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
)

func loadCapture(tb testing.TB, name string) ([][]byte, layers.LinkType) {
	tb.Helper()
	frames, _, link, err := pcaptest.ReadAll(filepath.Join("..", "..", "testdata", "pcaps", name))
	if err != nil {
		tb.Fatal(err)
	}
	return frames, link
}

// BenchmarkDecode decodes the frames of real captures, preloaded in
// memory, one frame per op: ns/op is the cost of one packet.
func BenchmarkDecode(b *testing.B) {
	smb2, link := loadCapture(b, "smb/zeek_smb2.pcap")
	mixed, _ := loadCapture(b, "communityid/combined.pcap.gz")
	var erspan3 [][]byte
	for _, f := range smb2 {
		erspan3 = append(erspan3, pcaptest.ToERSPAN3(f, 1, true))
	}
	for _, bc := range []struct {
		name   string
		frames [][]byte
	}{
		{"zeek_smb2", smb2},
		{"communityid_combined", mixed},
		{"zeek_smb2_in_erspan3", erspan3},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := New()
			var p Packet
			total := 0
			for _, f := range bc.frames {
				total += len(f)
			}
			b.SetBytes(int64(total / len(bc.frames)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = d.Decode(bc.frames[i], link, &p)
				if i++; i == len(bc.frames) {
					i = 0
				}
			}
		})
	}
}

// TestDecodeDoesNotAllocate fails when Decode allocates on any real
// frame, reframed real frame or crafted case (errors included).
func TestDecodeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	type set struct {
		name   string
		link   layers.LinkType
		frames [][]byte
	}
	var sets []set
	for _, path := range capturePaths(t) {
		frames, _, link, err := pcaptest.ReadAll(path)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, set{filepath.Base(path), link, frames})
		if filepath.Base(path) == "combined.pcap.gz" {
			for _, rf := range reframings {
				var out [][]byte
				for _, f := range frames {
					if r := rf.frame(f); r != nil {
						out = append(out, r)
					}
				}
				sets = append(sets, set{"combined." + rf.name, rf.link, out})
			}
		}
	}
	for _, tc := range append(validCases(), errorCases()...) {
		sets = append(sets, set{tc.name, linkOr(tc.link), [][]byte{tc.data}})
	}
	d := New()
	var p Packet
	for _, s := range sets {
		decodeAll := func() {
			for _, f := range s.frames {
				_ = d.Decode(f, s.link, &p)
			}
		}
		if n := testing.AllocsPerRun(1, decodeAll); n == 0 {
			continue
		}
		for i, f := range s.frames {
			if n := testing.AllocsPerRun(1, func() { _ = d.Decode(f, s.link, &p) }); n != 0 {
				t.Errorf("%s frame %d: %v allocations", s.name, i+1, n)
				break
			}
		}
	}
}
