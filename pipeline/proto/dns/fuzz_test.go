package dns

import (
	"encoding/json"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// FuzzSession feeds arbitrary chunk sequences (see decodeChunks) to a UDP
// or TCP session on port 53, seeded from the real captures' flows. Nothing
// may panic, the pending table stays within MaxPending and every record is
// valid JSON.
func FuzzSession(f *testing.F) {
	for _, c := range bundled {
		for _, st := range prototest.Streams(f, testenv.Pcap(f, c)) {
			f.Add(prototest.EncodeChunks(st.Chunks, 1<<10), st.UDP)
		}
	}
	f.Add(prototest.EncodeChunks([]prototest.Chunk{C(query(1, "a.example", tA)), S(answerA(1, "a.example", 0, [4]byte{1, 2, 3, 4}))}, 1<<10), true)
	p := mustNew(f, Config{MaxPending: 8, MaxMessage: 1024})
	f.Fuzz(func(t *testing.T, data []byte, udp bool) {
		info := tcpInfo()
		if udp {
			info = udpInfo()
		}
		var recs []*Record
		s := p.NewSession(info, func(r event.Record) { recs = append(recs, r.(*Record)) }).(*Session)
		for _, c := range prototest.DecodeChunks(data) {
			if c.Gap > 0 {
				s.Gap(c.Dir, c.Gap)
				continue
			}
			checkValidate(t, c.Data)
			if s.Payload(c.Dir, prototest.Epoch, c.Data) != nil {
				break
			}
			if len(s.pending) > 8 {
				t.Fatalf("%d pending", len(s.pending))
			}
		}
		s.End(prototest.Epoch, event.EndShutdown)
		for _, r := range recs {
			if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			checkLegacy(t, r)
		}
	})
}
