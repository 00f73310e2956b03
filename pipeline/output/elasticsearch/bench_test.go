package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"mamori/pipeline/event"
)

// benchServer answers every bulk request with one recorded 201 item per
// document (it counts the lines; it does not parse the documents), reduced
// as Elasticsearch reduces it for the filter_path the output sends. Each
// request is handled on a locked OS thread whose CPU time is added to
// serverNs, so that the benchmark can bill mamori only for its own side.
func benchServer(b *testing.B) (srv *httptest.Server, docs, serverNs *atomic.Int64) {
	item := filterItem(b, recordedItem(b, "bulk_response_1b.json", 0))
	docs, serverNs = new(atomic.Int64), new(atomic.Int64)
	bufPool := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	respHead := []byte(`{"errors":false,"items":[`)
	var resp []byte // ",item,item,…": enough for one request of FlushBytes
	for range 8192 {
		resp = append(resp, ',')
		resp = append(resp, item...)
	}
	zpool := sync.Pool{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runtime.LockOSThread()
		t0 := threadCPU()
		defer func() {
			serverNs.Add(threadCPU() - t0)
			runtime.UnlockOSThread()
		}()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, _ := zpool.Get().(*gzip.Reader)
			if zr == nil {
				zr = new(gzip.Reader)
			}
			zr.Reset(r.Body)
			defer zpool.Put(zr)
			body = zr
		}
		buf := bufPool.Get().(*[]byte)
		defer bufPool.Put(buf)
		n := 0
		for {
			k, err := body.Read(*buf)
			n += bytes.Count((*buf)[:k], []byte{'\n'})
			if err != nil {
				break
			}
		}
		n /= 2
		if n > 8192 {
			http.Error(w, "too many items for the bench server", 500)
			return
		}
		w.Write(respHead)
		if n > 0 {
			w.Write(resp[1 : n*(len(item)+1)])
		}
		w.Write([]byte("]}"))
		docs.Add(int64(n))
	}))
	b.Cleanup(srv.Close)
	return srv, docs, serverNs
}

// filterItem keeps what filterPath asks for of one bulk response item
// ({"create":{...}}): status, failure_store and error.type/reason.
func filterItem(b *testing.B, raw json.RawMessage) []byte {
	var in map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		b.Fatal(err)
	}
	out := map[string]map[string]any{}
	for op, v := range in {
		o := map[string]any{}
		for _, p := range filterPath {
			rest, ok := strings.CutPrefix(p, "items.*.")
			if !ok {
				continue
			}
			first, sub, nested := strings.Cut(rest, ".")
			val, ok := v[first]
			if !ok {
				continue
			}
			if !nested {
				o[first] = val
				continue
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(val, &m) == nil && m[sub] != nil {
				e, _ := o[first].(map[string]json.RawMessage)
				if e == nil {
					e = map[string]json.RawMessage{}
					o[first] = e
				}
				e[sub] = m[sub]
			}
		}
		out[op] = o
	}
	j, err := json.Marshal(out)
	if err != nil || !bytes.Contains(j, []byte(`"status":201`)) {
		b.Fatalf("filtered item %s: %v", j, err)
	}
	return j
}

// threadCPU is the calling OS thread's CPU time (user and system) in ns.
func threadCPU() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
}

// processCPU is the process's CPU time (user and system) in ns.
func processCPU() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkOutputFlows measures the whole output path for flow records:
// encoding, spool (memory queue, segment files, read back), bulk requests
// with gzip, response handling and acknowledgement, into an in-process
// server. Run with -cpu 1 for the one-core figure.
//
// Metrics: docs/cpu-s is documents per CPU second of mamori's side: the
// process's CPU time (user+system, all threads, GC included) minus the CPU
// time of the server's request handlers (decompressing, counting, answering),
// which a real cluster would spend. server-% is that share. docs/s is wall
// clock and includes waiting for the last flush.
//
// burst writes every document at once, so the spool's queue grows to
// hundreds of MiB and the reader reads most documents back from the files,
// as when a replay outruns the output. keepup writes 1024 documents at a
// time and then waits until the output has read all but 8192 of them: the
// rate the output sustains while it keeps up with its input (a sensor below
// its capacity), where the spool hands documents over in memory.
func BenchmarkOutputFlows(b *testing.B) {
	b.Run("burst", func(b *testing.B) { benchOutputFlows(b, false) })
	b.Run("keepup", func(b *testing.B) { benchOutputFlows(b, true) })
}

func benchOutputFlows(b *testing.B, keepUp bool) {
	srv, docs, serverNs := benchServer(b)
	dir := b.TempDir()
	if d := os.Getenv("MAMORI_BENCH_SPOOL"); d != "" { // e.g. /dev/shm to take the disk out
		dir, _ = os.MkdirTemp(d, "spool")
		defer os.RemoveAll(dir)
	}
	cfg := Config{Enabled: true, URLs: []string{srv.URL}, FlushInterval: 50 * time.Millisecond,
		Spool: SpoolConfig{Dir: dir, MaxBytes: 8 << 30, QueueBytes: 256 << 20}}
	o, err := New(cfg, Options{Observer: testObs})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	flows := make([]*event.Flow, 4096)
	for i := range flows {
		flows[i] = mkFlow(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0, srv0 := time.Now(), processCPU(), serverNs.Load()
	for i := 0; i < b.N; i++ {
		o.Write(flows[i%len(flows)])
		if keepUp && i%1024 == 1023 {
			for o.flows.sp.Stats().Read+8192 < uint64(i) {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	wrote := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := o.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	cpu, srvCPU := processCPU()-cpu0, serverNs.Load()-srv0
	b.StopTimer()
	st := o.Stats()
	if got := docs.Load(); got != int64(b.N) || st.Flows.Spool.DroppedFull+st.Flows.Spool.DroppedQueue != 0 {
		b.Fatalf("server got %d of %d; %+v", got, b.N, st.Flows.Spool)
	}
	ours := float64(cpu-srvCPU) / 1e9
	b.ReportMetric(float64(b.N)/el.Seconds(), "docs/s")
	b.ReportMetric(float64(b.N)/ours, "docs/cpu-s")
	b.ReportMetric(100*float64(srvCPU)/float64(cpu), "server-%")
	b.Logf("N=%d: writes took %s, all acknowledged after %s, %d bulk requests, %d of %d documents read back from files; CPU %.2fs (server %.2fs)",
		b.N, wrote, el, st.Flows.Requests, st.Flows.Spool.Read-st.Flows.Spool.ReadMemory, st.Flows.Spool.Read, float64(cpu)/1e9, float64(srvCPU)/1e9)
	b.SetBytes(int64(len(encode(flows[0]))))
}
