package hl7

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/proto/prototest"
)

// FuzzSession feeds arbitrary chunk sequences, seeded from the real
// captures and the crafted exchange: no panic, every record is valid JSON
// of bounded size. (That PID contents never come out is checked by the
// unit and golden tests: here the fuzzer may put anything into an MSH.)
func FuzzSession(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testenv.Pcaps(f), "hl7", "*.pcap*"))
	for _, path := range paths {
		for _, s := range prototest.Streams(f, path) {
			f.Add(prototest.EncodeFuzzInput(s.Chunks))
		}
	}
	f.Add(prototest.EncodeFuzzInput(exchange()))
	p, err := New(Config{MaxPending: 4})
	if err != nil {
		f.Fatal(err)
	}
	info := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575")
	f.Fuzz(func(t *testing.T, in []byte) {
		chunks := prototest.DecodeFuzzInput(in)
		if len(chunks) > 0 && chunks[0].Gap == 0 {
			p.Match(info, chunks[0].Dir, chunks[0].Data)
		}
		recs, _ := prototest.Feed(anyMatch{p}, info, chunks...)
		for _, r := range recs {
			b := r.AppendJSON(nil, &prototest.Observer)
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			// Kept segments are bounded: a record holds at most two
			// messages of three kept segments each, escaped (x4).
			if len(b) > 2*3*4*DefaultConfig().MaxSegmentBytes+8192 {
				t.Fatalf("record of %d bytes", len(b))
			}
		}
	})
}
