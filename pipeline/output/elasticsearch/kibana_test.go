package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"mamori/internal/golden"
)

// The saved objects are generated here and kept in kibana/mamori.ndjson
// (go test -update rewrites it); Kibana's format nests JSON in strings.

const kibanaVersion = "8.8.0"

type savedObject struct {
	Attributes           map[string]any `json:"attributes"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	ID                   string         `json:"id"`
	References           []reference    `json:"references"`
	Type                 string         `json:"type"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
}

type reference struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func dataView(id, title, name string) savedObject {
	return savedObject{ID: id, Type: "index-pattern", TypeMigrationVersion: "8.0.0", CoreMigrationVersion: kibanaVersion,
		Attributes: map[string]any{"title": title, "name": name, "timeFieldName": "@timestamp"}, References: []reference{}}
}

type agg struct {
	id, typ, schema string
	params          map[string]any
}

func terms(id, schema, field string, size int, orderBy string) agg {
	return agg{id, "terms", schema, map[string]any{"field": field, "size": size, "order": "desc", "orderBy": orderBy,
		"otherBucket": false, "missingBucket": false}}
}

func dateHistogram(id string) agg {
	return agg{id, "date_histogram", "segment", map[string]any{"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": map[string]any{}}}
}

func visualization(id, title, visType, query string, aggs []agg, params map[string]any) savedObject {
	var as []map[string]any
	for _, a := range aggs {
		as = append(as, map[string]any{"id": a.id, "enabled": true, "type": a.typ, "schema": a.schema, "params": a.params})
	}
	if params == nil {
		params = map[string]any{}
	}
	params["type"] = visType
	search := map[string]any{
		"query":        map[string]any{"query": query, "language": "kuery"},
		"filter":       []any{},
		"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
	}
	return savedObject{ID: id, Type: "visualization", TypeMigrationVersion: "8.5.0", CoreMigrationVersion: kibanaVersion,
		Attributes: map[string]any{
			"title":                 title,
			"description":           "",
			"version":               1,
			"uiStateJSON":           "{}",
			"visState":              jsonString(map[string]any{"title": title, "type": visType, "aggs": as, "params": params}),
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(search)},
		},
		References: []reference{{ID: "mamori-logs", Name: "kibanaSavedObjectMeta.searchSourceJSON.index", Type: "index-pattern"}},
	}
}

func count(id string) agg { return agg{id, "count", "metric", map[string]any{}} }
func sum(id, field string) agg {
	return agg{id, "sum", "metric", map[string]any{"field": field}}
}
func unique(id, field string) agg {
	return agg{id, "cardinality", "metric", map[string]any{"field": field}}
}

func histogramParams() map[string]any {
	return map[string]any{"addLegend": true, "addTooltip": true, "legendPosition": "right", "mode": "stacked", "isVislibVis": true}
}

func tableParams() map[string]any {
	return map[string]any{"perPage": 10, "showPartialRows": false, "showMetricsAtAllLevels": false, "showTotal": false}
}

func buildKibana() []savedObject {
	vis := []savedObject{
		visualization("mamori-alerts-over-time", "mamori: alerts by rule over time", "histogram", "event.kind : \"alert\"",
			[]agg{count("1"), dateHistogram("2"), terms("3", "group", "rule.name", 10, "1")}, histogramParams()),
		visualization("mamori-alerts-by-rule-severity-host", "mamori: alerts by rule, severity and sensor host", "table", "event.kind : \"alert\"",
			[]agg{count("1"), terms("2", "bucket", "rule.name", 20, "1"), terms("3", "bucket", "event.severity", 5, "1"), terms("4", "bucket", "host.name", 10, "1")}, tableParams()),
		visualization("mamori-flows-over-time", "mamori: flows over time by transport", "histogram", "event.dataset : \"mamori.flow\"",
			[]agg{count("1"), dateHistogram("2"), terms("3", "group", "network.transport", 5, "1")}, histogramParams()),
		visualization("mamori-top-talkers", "mamori: top talkers (bytes)", "table", "event.dataset : \"mamori.flow\"",
			[]agg{sum("1", "network.bytes"), terms("2", "bucket", "source.ip", 20, "1"), unique("3", "destination.ip")}, tableParams()),
		visualization("mamori-external-peers", "mamori: external peers", "table", "event.dataset : \"mamori.flow\" and network.direction : \"outbound\"",
			[]agg{count("1"), terms("2", "bucket", "destination.ip", 20, "1"), unique("3", "source.ip"), sum("4", "network.bytes")}, tableParams()),
		visualization("mamori-rdp-smb-activity", "mamori: RDP and SMB activity", "histogram", "network.protocol : (\"rdp\" or \"smb\" or \"ntlm\") and not event.dataset : \"mamori.flow\"",
			[]agg{count("1"), dateHistogram("2"), terms("3", "group", "event.dataset", 5, "1")}, histogramParams()),
		visualization("mamori-rdp-smb-clients", "mamori: RDP and SMB clients and servers", "table", "network.protocol : (\"rdp\" or \"smb\")",
			[]agg{count("1"), terms("2", "bucket", "source.ip", 20, "1"), terms("3", "bucket", "destination.ip", 20, "1"), terms("4", "bucket", "network.protocol", 3, "1")}, tableParams()),
	}
	var panels []map[string]any
	var refs []reference
	for i, v := range vis {
		n := fmt.Sprint(i + 1)
		panels = append(panels, map[string]any{
			"version": kibanaVersion, "type": "visualization", "panelIndex": n, "panelRefName": "panel_" + n,
			"embeddableConfig": map[string]any{},
			"gridData":         map[string]any{"x": (i % 2) * 24, "y": (i / 2) * 15, "w": 24, "h": 15, "i": n},
		})
		refs = append(refs, reference{ID: v.ID, Name: "panel_" + n, Type: "visualization"})
	}
	dash := savedObject{ID: "mamori-overview", Type: "dashboard", TypeMigrationVersion: "8.7.0", CoreMigrationVersion: kibanaVersion,
		Attributes: map[string]any{
			"title":       "mamori overview",
			"description": "Alerts by rule, severity and sensor; flows and top talkers; external peers; RDP and SMB activity.",
			"panelsJSON":  jsonString(panels),
			"optionsJSON": jsonString(map[string]any{"useMargins": true, "syncColors": false, "hidePanelTitles": false}),
			"timeRestore": false,
			"version":     1,
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(map[string]any{
				"query": map[string]any{"query": "", "language": "kuery"}, "filter": []any{}})},
		},
		References: refs,
	}
	out := []savedObject{dataView("mamori-logs", "logs-mamori.*-*", "mamori logs"), dataView("mamori-metrics", "metrics-mamori.*-*", "mamori health")}
	out = append(out, vis...)
	return append(out, dash)
}

func TestKibanaObjectsGolden(t *testing.T) {
	var b bytes.Buffer
	for _, o := range buildKibana() {
		b.WriteString(jsonString(o))
		b.WriteByte('\n')
	}
	golden.Compare(t, "kibana/mamori.ndjson", b.Bytes())
}

var kqlField = regexp.MustCompile(`([a-z_@][a-z0-9_.]*)\s*:`)

// TestKibanaObjectsResolve parses the shipped NDJSON: every reference
// resolves inside the file and every field a visualisation uses is mapped.
func TestKibanaObjectsResolve(t *testing.T) {
	ids := map[string]string{}
	var objs []savedObject
	sc := bufio.NewScanner(bytes.NewReader(KibanaObjects))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o savedObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		ids[o.ID] = o.Type
		objs = append(objs, o)
	}
	if len(objs) < 8 || ids["mamori-overview"] != "dashboard" {
		t.Fatalf("%d objects", len(objs))
	}
	checkField := func(where, f string) {
		if FieldType(f) == "" {
			t.Errorf("%s uses %s, which is not mapped", where, f)
		}
	}
	for _, o := range objs {
		for _, r := range o.References {
			if ids[r.ID] != r.Type {
				t.Errorf("%s: reference %s (%s) not in the file", o.ID, r.ID, r.Type)
			}
		}
		if o.Type == "visualization" {
			var vs struct {
				Aggs []struct {
					Params struct {
						Field string `json:"field"`
					} `json:"params"`
				} `json:"aggs"`
			}
			if err := json.Unmarshal([]byte(o.Attributes["visState"].(string)), &vs); err != nil {
				t.Fatal(err)
			}
			for _, a := range vs.Aggs {
				if a.Params.Field != "" {
					checkField(o.ID, a.Params.Field)
				}
			}
			var ss struct {
				Query struct {
					Query string `json:"query"`
				} `json:"query"`
			}
			json.Unmarshal([]byte(o.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"].(string)), &ss)
			for _, m := range kqlField.FindAllStringSubmatch(ss.Query.Query, -1) {
				checkField(o.ID+" query", m[1])
			}
		}
		if o.Type == "dashboard" {
			var panels []struct {
				PanelRefName string `json:"panelRefName"`
			}
			json.Unmarshal([]byte(o.Attributes["panelsJSON"].(string)), &panels)
			names := map[string]bool{}
			for _, r := range o.References {
				names[r.Name] = true
			}
			for _, p := range panels {
				if !names[p.PanelRefName] {
					t.Errorf("panel %s has no reference", p.PanelRefName)
				}
			}
		}
	}
}

func TestImportKibana(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/saved_objects/_import" || r.URL.Query().Get("overwrite") != "true" || r.Header.Get("kbn-xsrf") == "" ||
			r.Header.Get("Authorization") != "ApiKey a2V5" {
			w.WriteHeader(400)
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(400)
			return
		}
		got, _ = io.ReadAll(f)
		n := bytes.Count(got, []byte("\n"))
		if strings.Contains(r.URL.RawQuery, "fail") {
			n = 0
		}
		fmt.Fprintf(w, `{"successCount":%d,"success":true,"warnings":[]}`, n)
	}))
	defer srv.Close()
	res, err := ImportKibana(context.Background(), srv.URL, Config{APIKey: "a2V5"}, nil)
	if err != nil || res.SuccessCount != len(buildKibana()) || !bytes.Equal(got, KibanaObjects) {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := ImportKibana(context.Background(), srv.URL, Config{}, nil); err == nil {
		t.Fatal("a refused import reported success")
	}
}
