//go:build ignore

// esout_fakees is the bulk endpoint bench/esout.sh ships to: a stand-in
// for an Elasticsearch cluster that accepts every document. It is not an
// Elasticsearch look-alike: it sends the product header the client checks,
// answers GET / with a fixed info body, and answers every _bulk request
// with one {"create":{"status":201}} item per action line, which is what a
// cluster returns for mamori's filter_path when every document is created.
// It decompresses gzip bodies and counts lines; it does not parse
// documents. On SIGTERM or SIGINT it prints the documents, requests and
// request bytes (as sent, and decompressed) it received.
//
//	go run bench/esout_fakees.go -addr-file /tmp/addr   (listens on 127.0.0.1:0)
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

const info = `{"name":"esout-fakees","cluster_name":"bench","version":{"number":"8.19.7","build_flavor":"default"},"tagline":"You Know, for Search"}`

const item = `{"create":{"status":201}}`

var docs, requests, wireBytes, plainBytes atomic.Int64

func bulk(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	cr := &countReader{r: r.Body}
	body = cr
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(cr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	buf := bufs.Get().(*[]byte)
	defer bufs.Put(buf)
	lines, plain := 0, 0
	for {
		n, err := body.Read(*buf)
		lines += bytes.Count((*buf)[:n], []byte{'\n'})
		plain += n
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if lines%2 != 0 {
		http.Error(w, "odd number of bulk lines", http.StatusBadRequest)
		return
	}
	n := lines / 2
	docs.Add(int64(n))
	requests.Add(1)
	wireBytes.Add(cr.n)
	plainBytes.Add(int64(plain))
	w.Header().Set("Content-Type", "application/json")
	var out bytes.Buffer
	out.Grow(32 + n*(len(item)+1))
	out.WriteString(`{"errors":false,"items":[`)
	for i := range n {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(item)
	}
	out.WriteString("]}")
	w.Write(out.Bytes())
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func main() {
	addrFile := flag.String("addr-file", "", "write the listening address (host:port) here")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_bulk"):
			bulk(w, r)
		case r.URL.Path == "/":
			io.WriteString(w, info)
		default:
			http.Error(w, `{"error":"not part of this bench server"}`, http.StatusNotFound)
		}
	})
	go http.Serve(ln, h)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	fmt.Printf("docs %d requests %d wire_bytes %d plain_bytes %d\n", docs.Load(), requests.Load(), wireBytes.Load(), plainBytes.Load())
}
