package elasticsearch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mamori/internal/golden"
)

func TestAssetGoldens(t *testing.T) {
	as := Assets()
	if len(as) != 6 {
		t.Fatalf("%d assets", len(as))
	}
	for _, a := range as {
		golden.Compare(t, filepath.Join("testdata", "golden", a.Kind+"_"+a.Name+".json"), a.Body)
		var v map[string]any
		if err := json.Unmarshal(a.Body, &v); err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if findDigest(v) != a.Digest {
			t.Errorf("%s: _meta.digest missing", a.Name)
		}
	}
}

func TestILMKeepsAtLeast400Days(t *testing.T) {
	var p struct {
		Policy struct {
			Phases map[string]struct {
				MinAge  string         `json:"min_age"`
				Actions map[string]any `json:"actions"`
			} `json:"phases"`
		} `json:"policy"`
	}
	json.Unmarshal(Assets()[0].Body, &p)
	del, ok := p.Policy.Phases["delete"]
	if !ok || del.Actions["delete"] == nil {
		t.Fatal("no delete phase")
	}
	d, err := time.ParseDuration(strings.TrimSuffix(del.MinAge, "d") + "h")
	if err != nil || d/24 < 400 {
		t.Fatalf("delete min_age %q: want ≥ 400d", del.MinAge)
	}
	if _, ok := p.Policy.Phases["hot"].Actions["rollover"]; !ok {
		t.Fatal("no rollover")
	}
	for _, ph := range []string{"warm", "cold"} {
		if _, ok := p.Policy.Phases[ph]; !ok {
			t.Fatalf("no %s phase", ph)
		}
	}
}

func TestIndexTemplatesOutrankBuiltins(t *testing.T) {
	for _, a := range Assets() {
		if a.Kind != "index_template" {
			continue
		}
		var it struct {
			Priority   int            `json:"priority"`
			DataStream map[string]any `json:"data_stream"`
			Patterns   []string       `json:"index_patterns"`
			ComposedOf []string       `json:"composed_of"`
		}
		json.Unmarshal(a.Body, &it)
		if it.Priority <= 500 || it.DataStream == nil || len(it.Patterns) != 1 || strings.Contains(a.Name, "@") {
			t.Errorf("%s: %+v", a.Name, it)
		}
		if !containsStr(it.ComposedOf, "mamori-settings") || !containsStr(it.ComposedOf, "mamori-mappings") {
			t.Errorf("%s: composed of %v", a.Name, it.ComposedOf)
		}
	}
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

type ecsField struct {
	Type  string `json:"type"`
	Array bool   `json:"array"`
}

func loadECS(t *testing.T) map[string]ecsField {
	b, err := os.ReadFile("testdata/ecs_flat_9.4.0.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]ecsField
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 2000 {
		t.Fatalf("ECS list has %d fields", len(m))
	}
	return m
}

// nonECS are the fields mamori maps that ECS does not define.
var nonECS = map[string]bool{
	"flow.id": true, "flow.final": true, "flow.vlan": true, // Packetbeat's network_traffic fields
	"tls.client.ja4": true, // written by the TLS parser beside ECS's ja3 (JA4 is not in ECS 9.4)
}

func TestMappingTypesAreECS(t *testing.T) {
	ecs := loadECS(t)
	for _, f := range Fields {
		e, ok := ecs[f.Name]
		switch {
		case ok && e.Type != f.Type:
			t.Errorf("%s: mapped %s, ECS 9.4.0 says %s", f.Name, f.Type, e.Type)
		case !ok && !strings.HasPrefix(f.Name, "mamori.") && !nonECS[f.Name]:
			t.Errorf("%s: not an ECS field; custom fields go under mamori.*", f.Name)
		}
	}
}

// leaves calls fn with each leaf of a JSON document and its dotted path;
// array elements share their array's path.
func leaves(prefix string, v any, fn func(path string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			leaves(p, c, fn)
		}
	case []any:
		for _, c := range x {
			leaves(prefix, c, fn)
		}
	default:
		fn(prefix, v)
	}
}

// valueFits reports whether a JSON value can be indexed as typ.
func valueFits(typ string, v any) bool {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "match_only_text":
		_, ok := v.(string)
		return ok
	case "ip":
		s, ok := v.(string)
		_, err := netip.ParseAddr(s)
		return ok && err == nil
	case "date":
		s, ok := v.(string)
		_, err := time.Parse(time.RFC3339Nano, s)
		return ok && err == nil
	case "long":
		n, ok := v.(json.Number)
		_, err := n.Int64()
		return ok && err == nil
	case "float":
		n, ok := v.(json.Number)
		_, err := n.Float64()
		return ok && err == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	}
	return false
}

// TestGoldenFieldsAreMapped checks that every field of every record in the
// pipeline's golden NDJSON (and of alerts and dead letters) has an explicit
// mapping of a type its values fit.
func TestGoldenFieldsAreMapped(t *testing.T) {
	files, _ := filepath.Glob("../../../appliance/service/testdata/golden/*.ndjson")
	alerts, _ := filepath.Glob("../../../appliance/service/testdata/golden/alerts/*.ndjson")
	files = append(files, alerts...)
	if len(files) == 0 {
		t.Fatal("no golden NDJSON found")
	}
	var docs [][]byte
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if len(strings.TrimSpace(sc.Text())) == 0 {
				continue
			}
			docs = append(docs, append([]byte(nil), sc.Bytes()...))
		}
		f.Close()
	}
	docs = append(docs, []byte(encode(mkAlert(1))))
	seen, missing := map[string]bool{}, map[string]bool{}
	for i, d := range docs {
		dec := json.NewDecoder(strings.NewReader(string(d)))
		dec.UseNumber()
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		metrics := strings.HasPrefix(fmt.Sprint(v["data_stream"].(map[string]any)["type"]), "metrics")
		leaves("", v, func(path string, val any) {
			typ := FieldType(path)
			if typ == "" && metrics && strings.HasPrefix(path, "mamori.") {
				typ = "long" // the health template's mamori_counters dynamic template
			}
			if typ == "" {
				if !missing[path] {
					t.Errorf("%s: no explicit mapping (value %v); add it to Fields in mapping.go", path, val)
				}
				missing[path] = true
				return
			}
			if !valueFits(typ, val) {
				t.Errorf("%s: value %v does not fit type %s", path, val, typ)
			}
			seen[path] = true
		})
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d distinct fields checked in %d documents", len(names), len(docs))
}

func TestSetupIsIdempotent(t *testing.T) {
	f := newFakeES(t)
	c, err := NewClient(Config{URLs: []string{f.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, res, err := Setup(ctx, c, false)
	if err != nil || v != "8.19.7" || len(res) != 6 {
		t.Fatalf("%s %v %v", v, res, err)
	}
	for _, r := range res {
		if r.Action != "installed" {
			t.Fatalf("%s: %s", r.Asset.Name, r.Action)
		}
	}
	_, res, err = Setup(ctx, c, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != "unchanged" {
			t.Fatalf("second run: %s %s", r.Asset.Name, r.Action)
		}
	}
	if f.puts != 6 {
		t.Fatalf("%d PUTs, want 6", f.puts)
	}
	// Someone edits the policy: setup puts it back.
	f.mu.Lock()
	f.assets["/_ilm/policy/"+PolicyName] = []byte(`{"policy":{"_meta":{"managed_by":"mamori","digest":"old"},"phases":{}}}`)
	f.mu.Unlock()
	_, res, _ = Setup(ctx, c, false)
	if res[0].Action != "updated" || res[1].Action != "unchanged" {
		t.Fatalf("after edit: %v %v", res[0].Action, res[1].Action)
	}
	_, checks, streams, err := Check(ctx, c)
	if err != nil || len(checks) != 6 || len(streams) != 1 {
		t.Fatalf("%v %v %v", checks, streams, err)
	}
	for _, ch := range checks {
		if ch.State != "current" {
			t.Fatalf("%s %s", ch.Asset.Name, ch.State)
		}
	}
}
