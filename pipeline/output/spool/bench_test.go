package spool

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchDoc is a flow record as mamori writes it (about 1.1 KB).
var benchDoc = []byte(`{"@timestamp":"2017-07-14T02:42:00.454536000Z","ecs":{"version":"8.17.0"},"data_stream":{"type":"logs","dataset":"mamori.flow","namespace":"default"},"event":{"kind":"event","category":["network"],"type":["connection","end"],"action":"network_flow","dataset":"mamori.flow","module":"mamori","start":"2017-07-14T02:42:00.000000000Z","end":"2017-07-14T02:42:00.454536000Z","duration":454536000,"reason":"tcp_close"},"source":{"ip":"128.232.110.120","port":34855,"mac":"00-60-97-94-82-DF","bytes":900,"packets":6},"destination":{"ip":"66.35.250.204","port":80,"mac":"00-0A-42-CF-6B-FD","bytes":2135,"packets":6},"network":{"transport":"tcp","type":"ipv4","iana_number":"6","community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","bytes":3035,"packets":12,"direction":"external"},"flow":{"id":"461580d27610d02d41aa50ee","final":true},"related":{"ip":["128.232.110.120","66.35.250.204"]},"observer":{"type":"sensor","vendor":"mamori","product":"mamori","version":"0.1.0-dev","name":"his-span-1","hostname":"golden-sensor","ingress":{"interface":{"name":"combined.pcap.gz"}}},"host":{"name":"golden-sensor"},"mamori":{"flow":{"conn_state":"SF","history":"ShADadfF"}}}`)

func benchConfig(b *testing.B) Config {
	dir, err := os.MkdirTemp("", "spoolbench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return Config{Dir: dir, MaxBytes: 64 << 30, QueueBytes: 256 << 20, SegmentBytes: 64 << 20, MaxInFlight: 1 << 20, SyncInterval: time.Second}
}

// processCPU is the process's CPU time (user and system) in ns.
func processCPU() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU adds MB per CPU second (user+system, all threads) since cpu0:
// with other work on the machine, wall-clock MB/s says little.
func reportCPU(b *testing.B, cpu0 int64) {
	b.ReportMetric(float64(b.N)*float64(len(benchDoc))/1e6/(float64(processCPU()-cpu0)/1e9), "MB/cpu-s")
}

// BenchmarkWrite measures Put plus the writer goroutine until every
// document is in a segment file (page cache; fsync once a second).
func BenchmarkWrite(b *testing.B) {
	s, err := Open(benchConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		for !s.Put(benchDoc, false) {
			time.Sleep(time.Millisecond) // queue full: let the writer catch up
		}
	}
	for s.Stats().Written < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	reportCPU(b, cpu0)
	b.StopTimer()
	if st := s.Stats(); st.DroppedFull+st.WriteErrors+st.LostOnWrite != 0 {
		b.Fatalf("%+v", st)
	}
}

// BenchmarkDrain measures Read plus Ack of documents already on disk,
// segment deletion included.
func BenchmarkDrain(b *testing.B) {
	cfg := benchConfig(b)
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		for !s.Put(benchDoc, false) {
			time.Sleep(time.Millisecond)
		}
	}
	s.Close()
	s, err = Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	ctx := context.Background()
	var es []Entry
	for n := 0; n < b.N; {
		es = readAck(b, s, ctx, es, 4096)
		n += len(es)
	}
	reportCPU(b, cpu0)
	b.StopTimer()
	if !s.Empty() {
		b.Fatal("not empty")
	}
}

// BenchmarkPassThrough measures Put, the writer, Read, Ack and Release with
// a reader that keeps up (1024 documents at a time): the writer hands the
// documents over in memory after writing them.
func BenchmarkPassThrough(b *testing.B) {
	s, err := Open(benchConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	ctx := context.Background()
	var es []Entry
	for n := 0; n < b.N; {
		k := min(1024, b.N-n)
		for range k {
			if !s.Put(benchDoc, false) {
				b.Fatal("refused")
			}
		}
		for got := 0; got < k; {
			es = readAck(b, s, ctx, es, k-got)
			got += len(es)
		}
		n += k
	}
	reportCPU(b, cpu0)
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(100*float64(st.ReadMemory)/float64(st.Read), "%memory")
}

// readAck reads up to n documents (reusing es), checks each is a
// benchDoc, and acknowledges and releases them, as an output would.
func readAck(b *testing.B, s *Spool, ctx context.Context, es []Entry, n int) []Entry {
	es, err := s.Read(ctx, es[:0], n, 4<<20)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range es {
		if len(e.Data) != len(benchDoc) {
			b.Fatal("bad document")
		}
		s.Ack(e.Pos)
		s.Release(e)
	}
	return es
}

var _ = strings.Repeat
