package prototest

import (
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto"
)

// BenchSessions measures p alone on the reassembled flows of the captures
// at paths (relative to testdata/pcaps or absolute) that it matches: Match,
// NewSession, every Payload and Gap, End and, when encode is true, every
// record's JSON as the NDJSON output would write it. Bytes per op are the
// payload bytes of those flows.
func BenchSessions(b *testing.B, p proto.Parser, paths []string, encode bool) {
	var streams []Stream
	var bytes int64
	for _, path := range paths {
		for _, st := range Streams(b, resolve(b, path)) {
			if len(st.Chunks) == 0 || len(st.Chunks[0].Data) == 0 || !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
				continue
			}
			streams = append(streams, st)
			for _, c := range st.Chunks {
				bytes += int64(len(c.Data))
			}
		}
	}
	if len(streams) == 0 {
		b.Fatalf("%s matched no flow of %q", p.Name(), paths)
	}
	var buf []byte
	emit := func(event.Record) {}
	if encode {
		emit = func(r event.Record) { buf = r.AppendJSON(buf[:0], &Observer) }
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		for _, st := range streams {
			if encode && !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
				b.Fatal("no match")
			}
			RunStream(p, st, emit)
		}
	}
}

// RunStream runs one reassembled stream through a new session of p as the
// dispatcher would (Payload and Gap in order, stopping at a malformed
// chunk, then End at Epoch) and returns the ended session, for a test to
// recycle or inspect. Match is the caller's business.
func RunStream(p proto.Parser, st Stream, emit proto.Emit) proto.Session {
	s := p.NewSession(st.Info, emit)
	for _, c := range st.Chunks {
		if c.Gap > 0 {
			s.Gap(c.Dir, c.Gap)
		} else if s.Payload(c.Dir, c.At, c.Data) != nil {
			break
		}
	}
	s.End(Epoch, event.EndShutdown)
	return s
}
