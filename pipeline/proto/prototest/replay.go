package prototest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/dispatch"
	"mamori/pipeline/worker"
	"mamori/sensor"
)

// resolve turns a path relative to testdata/pcaps into an absolute one.
func resolve(tb testing.TB, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return testenv.Pcap(tb, path)
}

// Records replays the capture at path (absolute, or relative to
// testdata/pcaps) through the real packet path — decode, flow table, TCP
// reassembly and dispatch — with only the given parsers, and returns the
// protocol records they emitted, in order. Flow IDs are deterministic.
func Records(tb testing.TB, path string, parsers ...proto.Parser) []event.Record {
	tb.Helper()
	recs, _ := Replay(tb, path, parsers...)
	return recs
}

// Replay is Records plus the protocol layer's counters (malformed messages
// by reason, gaps, sessions).
func Replay(tb testing.TB, path string, parsers ...proto.Parser) ([]event.Record, Counters) {
	tb.Helper()
	src, err := sensor.OpenFiles([]string{resolve(tb, path)})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var recs []event.Record
	out := func(r event.Record) error {
		switch r.(type) {
		case *event.Flow, *event.Metric:
		default:
			recs = append(recs, r)
		}
		return nil
	}
	w, err := worker.New(worker.Config{Flow: flow.DefaultConfig(), DeterministicIDs: true, Parsers: parsers}, src, out)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Run(context.Background(), func(err error) { tb.Logf("replay %s: %v", path, err) }, nil); err != nil {
		tb.Fatal(err)
	}
	c, _ := w.ProtoCounters()
	return recs, c
}

// Counters are the protocol layer's counters of a replay.
type Counters = dispatch.Counters

// Stream is one flow of a capture as its parser would see it.
type Stream struct {
	Info   *flow.Info
	UDP    bool
	Chunks []Chunk
}

// Streams replays the capture at path and returns every TCP and UDP flow
// with payload as the reassembled chunks a parser would receive (at most
// the default 64 KiB per direction): seeds for fuzz targets and input for
// CheckRobust.
func Streams(tb testing.TB, path string) []Stream {
	tb.Helper()
	rec := &recorder{limit: 64 << 10}
	Records(tb, path, rec)
	return rec.streams
}

// WholeStreams is Streams without the 64 KiB limit: every byte of every
// flow.
func WholeStreams(tb testing.TB, path string) []Stream {
	tb.Helper()
	rec := &recorder{}
	Records(tb, path, rec)
	return rec.streams
}

// recorder is a parser that takes every flow and records its chunks.
type recorder struct {
	streams []Stream
	limit   int
}

func (r *recorder) StreamLimit() int { return r.limit }

func (r *recorder) Name() string                            { return "recorder" }
func (r *recorder) Match(*flow.Info, flow.Dir, []byte) bool { return true }
func (r *recorder) NewSession(f *flow.Info, _ proto.Emit) proto.Session {
	in := *f
	r.streams = append(r.streams, Stream{Info: &in, UDP: f.Key.Proto == 17})
	return &recSession{r: r, i: len(r.streams) - 1}
}

// recSession appends to its stream by index: the slice may grow.
type recSession struct {
	r *recorder
	i int
}

func (s *recSession) st() *Stream { return &s.r.streams[s.i] }
func (s *recSession) Payload(d flow.Dir, ts time.Time, b []byte) error {
	st := s.st()
	st.Chunks = append(st.Chunks, Chunk{Dir: d, Data: append([]byte(nil), b...), At: ts})
	return nil
}
func (s *recSession) Gap(d flow.Dir, n int) {
	st := s.st()
	st.Chunks = append(st.Chunks, Chunk{Dir: d, Gap: n})
}
func (s *recSession) End(time.Time, event.EndReason) {}
