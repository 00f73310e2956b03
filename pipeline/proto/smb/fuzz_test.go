package smb

import (
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto/prototest"
)

// encodeChunks packs chunks as [dir][len hi][len lo][data] for the fuzzer;
// decodeChunks reverses it, ignoring a truncated tail. A dir byte of 2 or 3
// is a gap of len bytes.
func encodeChunks(chunks []prototest.Chunk, limit int) []byte {
	var b []byte
	for _, c := range chunks {
		if c.Gap > 0 {
			n := min(c.Gap, 0xffff)
			b = append(b, byte(2+c.Dir), byte(n>>8), byte(n))
			continue
		}
		d := c.Data
		for len(d) > 0 && len(b) < limit {
			n := min(len(d), 0xffff)
			b = append(b, byte(c.Dir), byte(n>>8), byte(n))
			b = append(b, d[:n]...)
			d = d[n:]
		}
		if len(b) >= limit {
			break
		}
	}
	return b
}

func decodeChunks(b []byte) []prototest.Chunk {
	var out []prototest.Chunk
	for len(b) >= 3 {
		d, n := b[0], int(b[1])<<8|int(b[2])
		b = b[3:]
		if d&2 != 0 {
			out = append(out, prototest.Chunk{Dir: flow.Dir(d & 1), Gap: n})
			continue
		}
		n = min(n, len(b))
		out = append(out, prototest.Chunk{Dir: flow.Dir(d & 1), Data: b[:n]})
		b = b[n:]
	}
	return out
}

// FuzzSession feeds arbitrary chunk sequences to an SMB session. It must
// never panic, and the session must stay within its limits. Seeds: the
// reassembled streams of the bundled SMB captures (their first 64 KiB)
// and the crafted conversations of the unit tests.
func FuzzSession(f *testing.F) {
	for _, rel := range testenv.BundledPcaps(f) {
		if !strings.HasPrefix(rel, "smb/") {
			continue
		}
		for _, st := range prototest.Streams(f, rel) {
			f.Add(encodeChunks(st.Chunks, 64<<10))
		}
	}
	f.Add(encodeChunks(logon("nurse1", statusSuccess), 1<<20))
	f.Add(encodeChunks(append(logon("x", 0xC000006D), prototest.C(cli, transform(sid, 10))), 1<<20))
	cfg := Config{MaxMessage: 4096, MaxPipeData: 1024, MaxPending: 8, MaxFiles: 8, MaxTrees: 4, MaxSessions: 4, MaxPipes: 2, MaxRecords: 1000, MaxCompound: 8}
	p := newParser(f, cfg)
	info := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:445")
	f.Fuzz(func(t *testing.T, b []byte) {
		var recs []event.Record
		s := p.NewSession(info, func(r event.Record) { recs = append(recs, r) }).(*session)
		at := prototest.Epoch
		for _, c := range decodeChunks(b) {
			if c.Gap > 0 {
				s.Gap(c.Dir, c.Gap)
				continue
			}
			if err := s.Payload(c.Dir, at, c.Data); err != nil {
				break
			}
			checkBounds(t, s)
		}
		s.End(at, event.EndShutdown)
		for _, r := range recs {
			r.AppendJSON(nil, &prototest.Observer)
		}
	})
}

// checkBounds fails when a session holds more than its Config allows.
func checkBounds(t testing.TB, s *session) {
	t.Helper()
	cfg := s.cfg
	for d := range s.dirs {
		if n := len(s.dirs[d].buf); n > cfg.MaxMessage {
			t.Fatalf("dir %d buffers %d bytes > MaxMessage %d", d, n, cfg.MaxMessage)
		}
	}
	if len(s.pending) > cfg.MaxPending {
		t.Fatalf("%d pending > %d", len(s.pending), cfg.MaxPending)
	}
	if len(s.order) > 2*cfg.MaxPending+1 {
		t.Fatalf("eviction queue %d", len(s.order))
	}
	if len(s.files) > cfg.MaxFiles || len(s.trees) > cfg.MaxTrees || len(s.sessions) > cfg.MaxSessions {
		t.Fatalf("tables: %d files, %d trees, %d sessions", len(s.files), len(s.trees), len(s.sessions))
	}
	if s.pipes > cfg.MaxPipes {
		t.Fatalf("%d pipes > %d", s.pipes, cfg.MaxPipes)
	}
	if s.smb1 != nil && (len(s.smb1.pending) > cfg.MaxPending || len(s.smb1.files) > cfg.MaxFiles) {
		t.Fatalf("smb1 tables: %d pending, %d files", len(s.smb1.pending), len(s.smb1.files))
	}
	if s.nrec > cfg.MaxRecords {
		t.Fatalf("%d records > %d", s.nrec, cfg.MaxRecords)
	}
}

// TestRobustRealStreams runs CheckRobust (decode twice, every-prefix
// truncation, 1- and 7-byte resegmentation) on every reassembled stream of
// the smaller bundled SMB captures.
func TestRobustRealStreams(t *testing.T) {
	p := newParser(t, Config{})
	n := 0
	for _, rel := range []string{"smb/sv_20171220_smb_at_schedule.pcap", "smb/sv_20171220_smb_net_user.pcap",
		"smb/zeek_smb2.pcap", "smb/mmt_37.WannaCry.pcap", "smb/sv_20171220_smb_psexec_add_user.pcap"} {
		for _, st := range prototest.Streams(t, rel) {
			size := 0
			for _, c := range st.Chunks {
				size += len(c.Data)
			}
			if size > 256<<10 {
				continue
			}
			prototest.CheckRobust(t, anyMatch{p}, st.Info, false, st.Chunks...)
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d streams checked", n)
	}
}
