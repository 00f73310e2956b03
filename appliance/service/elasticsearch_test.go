package service

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"mamori/internal/testenv"
)

// TestReplayShipsToElasticsearch replays a capture with the elasticsearch:
// section enabled against a server replaying a recorded bulk item (see
// pipeline/output/elasticsearch/testdata/MANIFEST.md): every NDJSON record
// also arrives as a create into its data stream.
func TestReplayShipsToElasticsearch(t *testing.T) {
	rec, err := os.ReadFile("../../pipeline/output/elasticsearch/testdata/responses/bulk_response_1b.json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Items []json.RawMessage `json:"items"`
	}
	json.Unmarshal(rec, &r)
	created := r.Items[0]
	var mu sync.Mutex
	got := map[string]int{}
	docs := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			body, _ = gzip.NewReader(req.Body)
		}
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 16<<20)
		var out bytes.Buffer
		out.WriteString(`{"took":1,"errors":false,"items":[`)
		n := 0
		for sc.Scan() {
			var meta struct {
				Create struct {
					Index string `json:"_index"`
				} `json:"create"`
			}
			json.Unmarshal(sc.Bytes(), &meta)
			sc.Scan()
			mu.Lock()
			got[meta.Create.Index]++
			docs[sc.Text()]++
			mu.Unlock()
			if n > 0 {
				out.WriteByte(',')
			}
			out.Write(created)
			n++
		}
		out.WriteString("]}")
		w.Write(out.Bytes())
	}))
	defer srv.Close()

	cfg := testConfig(t)
	cfg.Sensor.DataDir = t.TempDir()
	cfg.Elasticsearch.Enabled = true
	cfg.Elasticsearch.URLs = []string{srv.URL}
	cfg.Elasticsearch.FlushInterval = 20 * time.Millisecond
	var out, errb bytes.Buffer
	res, err := Replay(context.Background(), ReplayOptions{Config: cfg, Files: []string{testenv.Pcap(t, "recorded/rdp_scan_nmap.pcap")},
		Output: "-", Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	total := 0
	for _, n := range got {
		total += n
	}
	if uint64(total) != res.Records || got["logs-mamori.flow-default"] == 0 || got["metrics-mamori.health-default"] != 1 {
		t.Fatalf("server got %v, replay wrote %d records\n%s", got, res.Records, errb.String())
	}
	if !strings.Contains(errb.String(), "elasticsearch:") {
		t.Fatalf("no elasticsearch summary: %s", errb.String())
	}
	// Every NDJSON line arrived as a document, byte for byte (the record
	// is encoded once for both).
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		docs[l]--
	}
	for d, n := range docs {
		if n != 0 {
			t.Fatalf("document sent %+d times more than written to NDJSON: %.300s", n, d)
		}
	}
	if len(lines) != total {
		t.Fatalf("%d NDJSON lines, %d documents", len(lines), total)
	}
}
