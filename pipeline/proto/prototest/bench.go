package prototest

import (
	"slices"
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

// CheckRecycle runs every stream that fresh matches twice over through
// fresh's sessions, and the same through reused's, recycling each of
// reused's sessions after End (as the dispatcher does), and fails unless
// both give the same records, at least min of them. Records are rendered
// only after all streams ran, so one that shares memory with a recycled
// session (overwritten by later flows) shows as a difference.
func CheckRecycle(tb testing.TB, fresh, reused proto.Parser, streams []Stream, min int) {
	tb.Helper()
	run := func(p proto.Parser, recycle bool) []string {
		var recs []event.Record
		emit := func(r event.Record) { recs = append(recs, r) }
		for range 2 {
			for _, st := range streams {
				if len(st.Chunks) == 0 || st.Chunks[0].Gap > 0 || !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
					continue
				}
				s := RunStream(p, st, emit)
				if recycle {
					s.(proto.Recycler).Recycle()
				}
			}
		}
		out := make([]string, len(recs))
		for i, r := range recs {
			out[i] = string(r.AppendJSON(nil, &Observer))
		}
		return out
	}
	a, b := run(fresh, false), run(reused, true)
	if len(a) < min || !slices.Equal(a, b) {
		tb.Fatalf("%d records fresh, %d recycled, equal %v (want at least %d, equal)", len(a), len(b), slices.Equal(a, b), min)
	}
}
