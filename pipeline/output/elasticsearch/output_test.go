package elasticsearch

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
)

var testObs = &event.Observer{Hostname: "sensor-01", Name: "his-span-1", Version: "test", Namespace: "hospital_a"}

func mkFlow(i int) *event.Flow {
	t0 := time.Date(2025, 6, 1, 3, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	f := &event.Flow{Start: t0, End: t0.Add(time.Second), Final: true, Reason: event.EndTCPClose, Transport: 6, Direction: "internal", Interface: "eth1"}
	f.ID[0], f.ID[1], f.ID[2], f.ID[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	f.CommunityID = event.NewCommunityID(sha1.Sum(f.ID[:]))
	f.Source = event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: uint16(40000 + i%20000), HasPort: true, Bytes: uint64(100 + i), Packets: 3}
	f.Destination = event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 9, 0, 20}), Port: 445, HasPort: true, Bytes: 2000, Packets: 4}
	return f
}

// testAlert stands in for issue 4's alert record.
type testAlert struct {
	n      int
	noID   bool
	at     time.Time
	ruleID string
}

func (a *testAlert) Dataset() string { return AlertDataset }
func (a *testAlert) Time() time.Time { return a.at }
func (a *testAlert) AlertID() string {
	if a.noID {
		return ""
	}
	return fmt.Sprintf("alert-%06d", a.n)
}
func (a *testAlert) AppendJSON(dst []byte, o *event.Observer) []byte {
	w := event.JSON{B: dst}
	w.Begin()
	w.Time("@timestamp", a.at)
	w.Object("data_stream")
	w.String("type", "logs")
	w.String("dataset", AlertDataset)
	w.String("namespace", o.Namespace)
	w.End()
	w.Object("event")
	w.String("kind", "alert")
	w.String("dataset", AlertDataset)
	w.Int("severity", 2)
	w.End()
	w.Object("rule")
	w.String("id", a.ruleID)
	w.End()
	w.String("message", fmt.Sprintf("alert %d", a.n))
	w.Finish()
	return w.B
}

func mkAlert(i int) *testAlert {
	return &testAlert{n: i, at: time.Date(2025, 6, 1, 3, 0, 1, 0, time.UTC), ruleID: "rdp-scan"}
}

func testCfg(t testing.TB, url string) Config {
	return Config{
		Enabled: true, URLs: []string{url},
		FlushInterval: 20 * time.Millisecond, AlertFlushInterval: 10 * time.Millisecond,
		MaxBackoff: 40 * time.Millisecond, Timeout: 2 * time.Second, FlushBytes: 64 << 10,
		Spool: SpoolConfig{Dir: t.TempDir(), MaxBytes: 64 << 20, AlertBytes: 8 << 20, SegmentBytes: 64 << 10, QueueBytes: 8 << 20},
	}
}

func newOutput(t testing.TB, cfg Config) *Output {
	t.Helper()
	o, err := New(cfg, Options{Observer: testObs, CloseTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func drain(t testing.TB, o *Output, f *fakeES) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.Drain(ctx); err != nil {
		t.Fatalf("%v; server %s; stats %+v", err, f, o.Stats())
	}
}

func encode(r event.Record) string { return string(r.AppendJSON(nil, testObs)) }

func TestProductCheckRejectsLookAlike(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io := `{"name":"x","version":{"number":"2.11.0","distribution":"opensearch"}}`
		w.Write([]byte(io))
	}))
	defer srv.Close()
	c, err := NewClient(Config{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info()
	if err == nil || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Fatalf("Info against a server without X-Elastic-Product: %v", err)
	}
}

func TestShipsEveryRecordToItsDataStream(t *testing.T) {
	f := newFakeES(t)
	o := newOutput(t, testCfg(t, f.URL()))
	var want []string
	for i := range 2000 {
		r := mkFlow(i)
		want = append(want, encode(r))
		o.Write(r)
	}
	for i := range 20 {
		a := mkAlert(i)
		want = append(want, encode(a))
		o.Write(a)
	}
	m := &event.Metric{At: time.Date(2025, 6, 1, 4, 0, 0, 0, time.UTC), Action: "health", Groups: []event.MetricGroup{o.Health()}}
	want = append(want, encode(m))
	o.Write(m)
	drain(t, o, f)
	got := f.created()
	for _, w := range want {
		if got[w] != 1 {
			t.Fatalf("document created %d times: %.200s", got[w], w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("server has %d documents, sent %d", len(got), len(want))
	}
	for idx, n := range map[string]int{"logs-mamori.flow-hospital_a": 2000, "logs-mamori.alert-hospital_a": 20, "metrics-mamori.health-hospital_a": 1} {
		if f.count(idx) != n {
			t.Errorf("%s: %d documents, want %d (%s)", idx, f.count(idx), n, f)
		}
	}
	if f.gzipped == 0 {
		t.Error("no request was gzip-compressed")
	}
	st := o.Stats()
	if st.Flows.Acked != 2001 || st.Alerts.Acked != 20 || st.Flows.Spool.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// WriteJSON (a record encoded once for NDJSON and Elasticsearch) ships the
// same documents, with the same alert _id, as Write.
func TestWriteJSONSameAsWrite(t *testing.T) {
	f := newFakeES(t)
	o := newOutput(t, testCfg(t, f.URL()))
	if o.Observer() != testObs {
		t.Fatal("Observer")
	}
	var want []string
	for i := range 500 {
		var r event.Record = mkFlow(i)
		if i%50 == 0 {
			r = mkAlert(i)
		}
		want = append(want, encode(r))
		if err := o.WriteJSON(r, r.AppendJSON(nil, testObs)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			o.Write(r) // the same alert again: the same _id, a 409
		}
	}
	drain(t, o, f)
	got := f.created()
	for _, w := range want {
		if got[w] != 1 {
			t.Fatalf("document created %d times: %.200s", got[w], w)
		}
	}
	if st := o.Stats(); len(got) != len(want) || st.Flows.Acked != 490 || st.Alerts.Acked != 10 || st.Alerts.Duplicates != 10 {
		t.Fatalf("server has %d documents, sent %d; stats %+v", len(got), len(want), st)
	}
}

func TestPerItemPolicy(t *testing.T) {
	f := newFakeES(t)
	// Documents with "port":445 and an odd flow number are refused (400)
	// for good; every fifth document is rejected (429) on its first two tries.
	f.setItemPlan(func(doc []byte, try int) itemKind {
		s := string(doc)
		switch {
		case strings.Contains(s, `"id":"00000007`):
			return itemBadDoc
		case strings.Contains(s, `"message":"alert 3"`) && try == 1:
			return itemConflict
		case len(s)%5 == 0 && try <= 2:
			return itemRejected
		}
		return itemCreated
	})
	o := newOutput(t, testCfg(t, f.URL()))
	for i := range 300 {
		o.Write(mkFlow(i))
	}
	for i := range 5 {
		o.Write(mkAlert(i))
	}
	drain(t, o, f)
	st := o.Stats()
	if st.Flows.DeadLettered != 1 || st.Flows.Retried == 0 || st.Alerts.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := f.count("logs-mamori.flow-hospital_a"); n != 299 {
		t.Fatalf("%d flows created, want 299", n)
	}
	if n := f.count("logs-mamori.alert-hospital_a"); n != 4 {
		t.Fatalf("%d alerts created, want 4 (alert 3 answered 409: already there)", n)
	}
	if n := f.count("logs-mamori.deadletter-hospital_a"); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
	var dl struct {
		Timestamp string `json:"@timestamp"`
		Event     struct {
			Kind, Original string
		}
		Error struct {
			Type, Message, Code string
		}
		Mamori struct {
			Deadletter struct {
				Index  string
				Status int
			}
		}
	}
	for body := range f.created() {
		if strings.Contains(body, DeadLetterDataset) {
			if err := json.Unmarshal([]byte(body), &dl); err != nil {
				t.Fatal(err)
			}
		}
	}
	bad := encode(mkFlow(7))
	if dl.Event.Original != bad || dl.Error.Type != "mapper_parsing_exception" || dl.Error.Code != "400" ||
		dl.Mamori.Deadletter.Index != "logs-mamori.flow-hospital_a" || dl.Timestamp != "2025-06-01T03:00:01.007000000Z" || dl.Event.Kind != "pipeline_error" ||
		!strings.Contains(dl.Error.Message, "is not an IP string literal") {
		t.Fatalf("dead letter %+v", dl)
	}
}

func TestWholeRequestFailures(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{429, "request_429_go-elasticsearch_573.json"},
		{500, "request_500_elasticsearch_25398.json"},
		{503, "request_503_opendistro-sample-code_160.json"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newFakeES(t)
			body := recorded(t, tc.body)
			f.setPlan(func(n int) reply {
				if n <= 30 {
					return reply{status: tc.status, body: body}
				}
				return reply{}
			})
			o := newOutput(t, testCfg(t, f.URL()))
			for i := range 500 {
				o.Write(mkFlow(i))
			}
			o.Write(mkAlert(1))
			drain(t, o, f)
			got := f.created()
			for i := range 500 {
				if got[encode(mkFlow(i))] != 1 {
					t.Fatalf("flow %d created %d times", i, got[encode(mkFlow(i))])
				}
			}
			if f.count("logs-mamori.alert-hospital_a") != 1 {
				t.Fatal("alert lost")
			}
			if st := o.Stats(); st.Flows.RequestFails+st.Alerts.RequestFails == 0 {
				t.Fatalf("no request failure counted: %+v", st)
			}
		})
	}
}

func TestConnectionRefusedThenUp(t *testing.T) {
	f := newFakeES(t)
	f.down()
	o := newOutput(t, testCfg(t, f.URL()))
	for i := range 300 {
		o.Write(mkFlow(i))
	}
	o.Write(mkAlert(9))
	time.Sleep(300 * time.Millisecond)
	if st := o.Stats(); st.Flows.RequestFails == 0 || st.Flows.Acked != 0 {
		t.Fatalf("while down: %+v", st)
	}
	f.up()
	drain(t, o, f)
	if f.count("logs-mamori.flow-hospital_a") != 300 || f.count("logs-mamori.alert-hospital_a") != 1 {
		t.Fatalf("after recovery: %s", f)
	}
}

func TestSlowResponses(t *testing.T) {
	f := newFakeES(t)
	f.setPlan(func(n int) reply {
		if n <= 2 {
			return reply{delay: 1500 * time.Millisecond} // past the client's timeout: processed, answer lost
		}
		return reply{delay: 20 * time.Millisecond}
	})
	cfg := testCfg(t, f.URL())
	cfg.Timeout = 500 * time.Millisecond
	o := newOutput(t, cfg)
	for i := range 200 {
		o.Write(mkFlow(i))
	}
	for i := range 10 {
		o.Write(mkAlert(i))
	}
	drain(t, o, f)
	got := f.created()
	for i := range 200 {
		if got[encode(mkFlow(i))] < 1 {
			t.Fatalf("flow %d lost", i)
		}
	}
	// Alerts carry their _id: a re-send after a lost answer is a 409.
	for i := range 10 {
		if n := got[encode(mkAlert(i))]; n != 1 {
			t.Fatalf("alert %d created %d times", i, n)
		}
	}
}

func TestAlertWithoutIDGetsContentID(t *testing.T) {
	f := newFakeES(t)
	o := newOutput(t, testCfg(t, f.URL()))
	a := mkAlert(1)
	a.noID = true
	o.Write(a)
	o.Write(a) // the same alert raised twice: one document
	drain(t, o, f)
	if f.count("logs-mamori.alert-hospital_a") != 1 || o.Stats().Alerts.Duplicates != 1 {
		t.Fatalf("%s %+v", f, o.Stats().Alerts)
	}
}

func TestDataStreamNames(t *testing.T) {
	for _, tc := range []struct{ typ, ds, ns, want string }{
		{"logs", "mamori.flow", "", "logs-mamori.flow-default"},
		{"logs", "mamori.rdp", "hospital_a", "logs-mamori.rdp-hospital_a"},
		{"metrics", "mamori.health", "site2", "metrics-mamori.health-site2"},
	} {
		got, err := DataStream(tc.typ, tc.ds, tc.ns)
		if err != nil || got != tc.want {
			t.Errorf("DataStream(%q,%q,%q) = %q, %v", tc.typ, tc.ds, tc.ns, got, err)
		}
	}
	for _, bad := range [][3]string{{"logs", "mamori-flow", "x"}, {"logs", "Mamori.flow", "x"}, {"traces", "a", "b"}, {"logs", "a", "b c"}, {"logs", "", "x"}, {"logs", strings.Repeat("a", 101), "x"}} {
		if _, err := DataStream(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("DataStream%q accepted", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		typ    string
		want   outcome
	}{
		{201, "", outAck}, {200, "", outAck},
		{409, "version_conflict_engine_exception", outDuplicate},
		{429, "es_rejected_execution_exception", outRetry},
		{429, "circuit_breaking_exception", outRetry},
		{503, "unavailable_shards_exception", outRetry},
		{400, "document_parsing_exception", outDead},
		{400, "mapper_parsing_exception", outDead},
		{404, "index_not_found_exception", outDead},
		{400, "illegal_argument_exception", outDead},
	} {
		if got := classify(tc.status, tc.typ); got != tc.want {
			t.Errorf("classify(%d, %s) = %d, want %d", tc.status, tc.typ, got, tc.want)
		}
	}
}

func TestRecordedBodiesParseAsBulkResponses(t *testing.T) {
	// Every recorded bulk body decodes into what BulkIndexer reads; the
	// statuses are the ones the tests rely on.
	for name, want := range map[string][]int{
		"bulk_response_1a.json": {201, 409}, "bulk_response_1b.json": {201, 404},
		"bulk_response_1c.json": {200, 200}, "bulk_response_2.json": {201, 409, 404, 200},
		"BulkResponseExample1.yaml": {201, 404, 201, 200}, "BulkResponseExample2.yaml": {404, 404, 201},
		"BulkResponseExample3.yaml": {0, 0}, "item_429_fluent-bit_1029.json": {429}, "item_400_o365beat_12.json": {400},
	} {
		var r struct {
			Items []map[string]struct {
				Status int `json:"status"`
				Error  struct {
					Type string `json:"type"`
				} `json:"error"`
			} `json:"items"`
		}
		if err := json.Unmarshal(recorded(t, name), &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r.Items) != len(want) {
			t.Fatalf("%s: %d items", name, len(r.Items))
		}
		for i, it := range r.Items {
			for _, v := range it {
				if v.Status != want[i] {
					t.Errorf("%s item %d: status %d, want %d", name, i, v.Status, want[i])
				}
			}
		}
	}
}
