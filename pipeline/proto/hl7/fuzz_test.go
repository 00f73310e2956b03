package hl7

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto/prototest"
)

// encodeChunks serialises chunks for the fuzzer: per chunk a flag byte
// (bit 0 direction, bit 1 gap) and a 2-byte length, then the data (none for
// a gap, whose length is the gap).
func encodeChunks(chunks []prototest.Chunk) []byte {
	var b []byte
	for _, c := range chunks {
		data := c.Data
		for len(data) > 0 || c.Gap > 0 {
			flag := byte(c.Dir) & 1
			n := len(data)
			if c.Gap > 0 {
				flag |= 2
				n = c.Gap
			}
			n = min(n, 0xffff)
			b = append(b, flag, byte(n>>8), byte(n))
			if c.Gap > 0 {
				c.Gap = 0
				continue
			}
			b = append(b, data[:n]...)
			data = data[n:]
		}
	}
	return b
}

func decodeChunks(b []byte) []prototest.Chunk {
	var out []prototest.Chunk
	for len(b) >= 3 {
		flag, n := b[0], int(b[1])<<8|int(b[2])
		b = b[3:]
		d := flow.Dir(flag & 1)
		if flag&2 != 0 {
			out = append(out, prototest.Chunk{Dir: d, Gap: n})
			continue
		}
		n = min(n, len(b))
		out = append(out, prototest.C(d, b[:n]))
		b = b[n:]
	}
	return out
}

// FuzzSession feeds arbitrary chunk sequences, seeded from the real
// captures and the crafted exchange: no panic, every record is valid JSON
// of bounded size. (That PID contents never come out is checked by the
// unit and golden tests: here the fuzzer may put anything into an MSH.)
func FuzzSession(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testenv.Pcaps(f), "hl7", "*.pcap*"))
	for _, path := range paths {
		for _, s := range prototest.Streams(f, path) {
			f.Add(encodeChunks(s.Chunks))
		}
	}
	f.Add(encodeChunks(exchange()))
	p, err := New(Config{MaxPending: 4})
	if err != nil {
		f.Fatal(err)
	}
	info := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575")
	f.Fuzz(func(t *testing.T, in []byte) {
		chunks := decodeChunks(in)
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
