package dicom

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/proto/prototest"
)

// FuzzSession feeds arbitrary chunk sequences, seeded from the real
// captures' streams and the crafted association: no panic, and every
// record is valid JSON of bounded size.
func FuzzSession(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(testenv.Pcaps(f), "dicom", "*.pcap*"))
	for _, path := range paths {
		for _, s := range prototest.Streams(f, path) {
			f.Add(prototest.EncodeFuzzInput(s.Chunks))
		}
	}
	f.Add(prototest.EncodeFuzzInput(fullAssociation()))
	p, err := New(Config{MaxFailureRecords: 4})
	if err != nil {
		f.Fatal(err)
	}
	info := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:104")
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
			if len(b) > 256<<10 {
				t.Fatalf("record of %d bytes", len(b))
			}
		}
	})
}
