package elasticsearch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// recorded loads a response body from testdata/responses (MANIFEST.md says
// where each comes from). YAML files are elasticsearch-specification
// examples whose value is the JSON body.
func recorded(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".yaml") {
		var ex struct {
			Value string `yaml:"value"`
		}
		if err := yaml.Unmarshal(b, &ex); err != nil {
			t.Fatal(err)
		}
		b = []byte(ex.Value)
	}
	if !json.Valid(b) {
		t.Fatalf("%s: not JSON", name)
	}
	return b
}

// recordedItem returns item i of a recorded bulk response, as raw JSON.
func recordedItem(t testing.TB, name string, i int) json.RawMessage {
	t.Helper()
	var r struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(recorded(t, name), &r); err != nil || i >= len(r.Items) {
		t.Fatalf("%s item %d: %v", name, i, err)
	}
	return r.Items[i]
}

// reply is what the fake server does with one bulk request.
type reply struct {
	status int    // whole-request status; 0 means 200 with per-item answers
	body   []byte // whole-request body when status != 0
	delay  time.Duration
}

// itemKind is the answer to one document.
type itemKind uint8

const (
	itemCreated itemKind = iota
	itemConflict
	itemRejected // 429
	itemBadDoc   // 400 mapper_parsing_exception
)

// fakeES replays recorded Elasticsearch bodies. It keeps every document it
// accepted, answers 409 (recorded) to a create whose _id it already has,
// and can be taken down (connection refused) and brought back on the same
// address.
type fakeES struct {
	t    testing.TB
	addr string

	items map[itemKind]json.RawMessage

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	plan     func(n int) reply                  // by request number
	itemPlan func(doc []byte, try int) itemKind // by document and attempt
	docs     map[string][]byte                  // _id (ours or generated) → doc
	ids      map[string]bool
	attempts map[string]int // by body
	creates  map[string]int // created documents by index
	requests int
	gzipped  int
	bodies   int
	seen     map[string]int    // document body → 201 count
	assets   map[string][]byte // setup: path → body
	puts     int
}

// handleSetup answers the setup APIs in the shapes their documentation
// gives (GET wraps the stored object; a missing one is 404).
func (f *fakeES) handleSetup(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	var kind string
	switch {
	case strings.HasPrefix(p, "/_ilm/policy/"):
		kind = "ilm"
	case strings.HasPrefix(p, "/_component_template/"):
		kind = "component"
	case strings.HasPrefix(p, "/_index_template/"):
		kind = "index"
	case strings.HasPrefix(p, "/_data_stream/"):
		io.WriteString(w, `{"data_streams":[{"name":"logs-mamori.flow-default","template":"logs-mamori"}]}`)
		return true
	default:
		return false
	}
	name := p[strings.LastIndex(p, "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.assets == nil {
		f.assets = map[string][]byte{}
	}
	switch r.Method {
	case http.MethodPut:
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			rd, _ = gzip.NewReader(r.Body)
		}
		b, _ := io.ReadAll(rd)
		if !json.Valid(b) {
			w.WriteHeader(400)
			return true
		}
		f.assets[p] = b
		f.puts++
		io.WriteString(w, `{"acknowledged":true}`)
	case http.MethodGet:
		b, ok := f.assets[p]
		if !ok {
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"not found"}],"type":"resource_not_found_exception","reason":"not found"},"status":404}`)
			return true
		}
		switch kind {
		case "ilm":
			var pol struct {
				Policy json.RawMessage `json:"policy"`
			}
			json.Unmarshal(b, &pol)
			fmt.Fprintf(w, `{%q:{"version":1,"modified_date":"2025-06-01T00:00:00.000Z","policy":%s}}`, name, pol.Policy)
		case "component":
			fmt.Fprintf(w, `{"component_templates":[{"name":%q,"component_template":%s}]}`, name, b)
		case "index":
			fmt.Fprintf(w, `{"index_templates":[{"name":%q,"index_template":%s}]}`, name, b)
		}
	}
	return true
}

func newFakeES(t testing.TB) *fakeES {
	f := &fakeES{t: t, docs: map[string][]byte{}, ids: map[string]bool{}, attempts: map[string]int{}, creates: map[string]int{}, seen: map[string]int{}}
	f.items = map[itemKind]json.RawMessage{
		itemCreated:  recordedItem(t, "bulk_response_1b.json", 0),
		itemConflict: recordedItem(t, "bulk_response_1a.json", 1),
		itemRejected: recordedItem(t, "item_429_fluent-bit_1029.json", 0),
		itemBadDoc:   recordedItem(t, "item_400_o365beat_12.json", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.down)
	return f
}

func (f *fakeES) URL() string { return "http://" + f.addr }

func (f *fakeES) serve(ln net.Listener) {
	f.ln = ln
	f.srv = &http.Server{Handler: http.HandlerFunc(f.handle), ReadHeaderTimeout: 5 * time.Second}
	go f.srv.Serve(ln)
}

// down closes the listener and every connection: clients get connection
// refused until up.
func (f *fakeES) down() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (f *fakeES) up() {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("listening again on %s: %v", f.addr, err)
	}
	f.mu.Lock()
	f.serve(ln)
	f.mu.Unlock()
}

func (f *fakeES) setPlan(p func(n int) reply) {
	f.mu.Lock()
	f.plan = p
	f.mu.Unlock()
}

func (f *fakeES) setItemPlan(p func(doc []byte, try int) itemKind) {
	f.mu.Lock()
	f.itemPlan = p
	f.mu.Unlock()
}

func (f *fakeES) handle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/" {
		io.WriteString(w, `{"name":"fake","cluster_name":"replay","version":{"number":"8.19.7","build_flavor":"default"},"tagline":"You Know, for Search"}`)
		return
	}
	if f.handleSetup(w, r) {
		return
	}
	if r.URL.Path != "/_bulk" || r.Method != http.MethodPost {
		http.Error(w, `{"error":"unexpected request"}`, http.StatusBadRequest)
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		return
	}
	body := io.Reader(r.Body)
	f.mu.Lock()
	f.requests++
	n := f.requests
	plan, itemPlan := f.plan, f.itemPlan
	if r.Header.Get("Content-Encoding") == "gzip" {
		f.gzipped++
	}
	f.mu.Unlock()
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			f.t.Errorf("gzip: %v", err)
			return
		}
		body = zr
	}
	if fp := r.URL.Query().Get("filter_path"); !strings.Contains(fp, "items.*.status") {
		f.t.Errorf("filter_path %q drops items.*.status", fp)
	}
	// Read the whole request first, as Elasticsearch does: a client that
	// gives up meanwhile leaves a truncated body, which is not indexed.
	raw, err := io.ReadAll(body)
	if err != nil {
		return
	}
	rep := reply{}
	if plan != nil {
		rep = plan(n)
	}
	if rep.delay > 0 {
		time.Sleep(rep.delay)
	}
	if rep.status != 0 {
		w.WriteHeader(rep.status)
		w.Write(rep.body)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out bytes.Buffer
	out.WriteString(`{"took":30,"errors":true,"items":[`)
	first := true
	for sc.Scan() {
		var meta struct {
			Create *struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"create"`
		}
		if err := json.Unmarshal(sc.Bytes(), &meta); err != nil || meta.Create == nil || meta.Create.Index == "" {
			f.t.Errorf("action line %q: want create with _index", sc.Bytes())
			return
		}
		if !sc.Scan() {
			f.t.Error("action without document")
			return
		}
		doc := bytes.Clone(sc.Bytes())
		if !json.Valid(doc) {
			f.t.Errorf("invalid document %q", doc)
		}
		f.mu.Lock()
		key := string(doc)
		f.attempts[key]++
		kind := itemCreated
		if itemPlan != nil {
			kind = itemPlan(doc, f.attempts[key])
		}
		if kind == itemCreated && meta.Create.ID != "" && f.ids[meta.Create.Index+"/"+meta.Create.ID] {
			kind = itemConflict
		}
		if kind == itemCreated {
			if meta.Create.ID != "" {
				f.ids[meta.Create.Index+"/"+meta.Create.ID] = true
			}
			f.creates[meta.Create.Index]++
			f.seen[key]++
			f.bodies++
		}
		f.mu.Unlock()
		if !first {
			out.WriteByte(',')
		}
		first = false
		out.Write(f.items[kind])
	}
	out.WriteString("]}")
	w.Write(out.Bytes())
}

// created returns how many times each document body was created.
func (f *fakeES) created() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.seen))
	for k, v := range f.seen {
		out[k] = v
	}
	return out
}

func (f *fakeES) count(index string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates[index]
}

func (f *fakeES) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("requests=%d gzipped=%d created=%d by index %v", f.requests, f.gzipped, f.bodies, f.creates)
}
