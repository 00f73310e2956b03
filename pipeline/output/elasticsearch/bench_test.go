package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mamori/pipeline/event"
)

// benchServer answers every bulk request with one recorded 201 item per
// document (it counts the lines; it does not parse the documents).
func benchServer(b *testing.B) (*httptest.Server, *atomic.Int64) {
	item := recordedItem(b, "bulk_response_1b.json", 0)
	var docs atomic.Int64
	bufPool := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	respHead := []byte(`{"took":1,"errors":false,"items":[`)
	var resp []byte // ",item,item,…": enough for one request of FlushBytes
	for range 8192 {
		resp = append(resp, ',')
		resp = append(resp, item...)
	}
	zpool := sync.Pool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	return srv, &docs
}

// BenchmarkOutputFlows measures the whole output path for flow records:
// encoding, spool (memory queue, segment files, read back), bulk requests
// with gzip, response handling and acknowledgement, into an in-process
// server. Run with -cpu 1 for the one-core figure (the server shares it).
func BenchmarkOutputFlows(b *testing.B) {
	srv, docs := benchServer(b)
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
	start := time.Now()
	for i := 0; i < b.N; i++ {
		o.Write(flows[i%len(flows)])
	}
	wrote := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := o.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	st := o.Stats()
	if got := docs.Load(); got != int64(b.N) || st.Flows.Spool.DroppedFull+st.Flows.Spool.DroppedQueue != 0 {
		b.Fatalf("server got %d of %d; %+v", got, b.N, st.Flows.Spool)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "docs/s")
	b.Logf("N=%d: writes took %s, all acknowledged after %s, %d bulk requests", b.N, wrote, el, st.Flows.Requests)
	b.SetBytes(int64(len(encode(flows[0]))))
}
