package all

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/prototest"
)

// BenchmarkMixed measures every parser together on the reassembled flows
// of ../shared/pcaps/mixed (the captures bench/offline.sh times), as the
// dispatcher runs them: Match in registry order, the session of the first
// parser that takes the flow (recycled after End), every record encoded as
// NDJSON. It is the
// protocol layer's share of the all-parsers replay without decode, flow
// table and reassembly. Sub-benchmarks time each parser on the flows it
// takes.
func BenchmarkMixed(b *testing.B) {
	dir := filepath.Join(testenv.SharedPcaps(b), "mixed")
	paths, err := filepath.Glob(filepath.Join(dir, "*.pcap"))
	if err != nil || len(paths) == 0 {
		b.Skipf("no captures in %s", dir)
	}
	ps, err := Parsers(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	var streams []prototest.Stream
	for _, p := range paths {
		streams = append(streams, prototest.Streams(b, p)...)
	}
	// taken[i] is the parser that takes streams[i], -1 for none.
	taken := make([]int, len(streams))
	for i, st := range streams {
		taken[i] = -1
		if len(st.Chunks) == 0 || st.Chunks[0].Gap > 0 {
			continue
		}
		for j, p := range ps {
			if p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
				taken[i] = j
				break
			}
		}
	}
	var buf []byte
	emit := func(r event.Record) { buf = r.AppendJSON(buf[:0], &prototest.Observer) }
	run := func(b *testing.B, only int) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			for i, st := range streams {
				if only >= 0 && taken[i] != only {
					continue
				}
				if len(st.Chunks) == 0 || st.Chunks[0].Gap > 0 {
					continue
				}
				var s proto.Session
				for _, p := range ps {
					if p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
						s = prototest.RunStream(p, st, emit)
						break
					}
				}
				if s == nil {
					continue
				}
				if r, ok := s.(proto.Recycler); ok {
					r.Recycle() // as the dispatcher does
				}
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("all", func(b *testing.B) { run(b, -1) })
	for j, p := range ps {
		n := 0
		for _, t := range taken {
			if t == j {
				n++
			}
		}
		if n > 0 {
			b.Run(p.Name(), func(b *testing.B) { run(b, j) })
		}
	}
}

// cpuTime is the process's user and system CPU time: on a shared machine
// (run with GOMAXPROCS=1) it varies much less than ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
