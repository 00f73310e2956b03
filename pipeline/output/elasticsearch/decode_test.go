package elasticsearch

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

var recordedBodies = []string{
	"bulk_response_1a.json", "bulk_response_1b.json", "bulk_response_1c.json", "bulk_response_2.json",
	"BulkResponseExample1.yaml", "BulkResponseExample2.yaml", "BulkResponseExample3.yaml",
	"item_429_fluent-bit_1029.json", "item_400_o365beat_12.json",
}

// sameAsJSON checks the decoder against encoding/json, which BulkIndexer
// uses by default.
func sameAsJSON(t *testing.T, b []byte) {
	var want, got esutil.BulkIndexerResponse
	werr := json.Unmarshal(b, &want)
	gerr := decodeBulk(b, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("errors differ: encoding/json %v, ours %v on %q", werr, gerr, b)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("decoded differently from encoding/json:\n%+v\n%+v\non %q", want, got, b)
	}
}

func TestDecoderMatchesEncodingJSON(t *testing.T) {
	for _, name := range recordedBodies {
		b := recorded(t, name)
		sameAsJSON(t, b)
		var r esutil.BulkIndexerResponse
		p := parser{b: b}
		if err := p.response(&r); err != nil {
			t.Errorf("%s: fast path refused it: %v", name, err)
		}
	}
	sameAsJSON(t, []byte(`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201,"failure_store":"used"}}]}`))
	sameAsJSON(t, []byte(`{"errors":true,"items":[{"create":{"status":400,"error":{"type":"x","reason":"a \"quoted\" reason"}}}]}`))
	// Alike items share a map; an item with a repeated key must not change
	// the shared one.
	alike := []byte(`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201},"create":{"status":409}},{"create":{"status":201}},{"index":{"status":201}},{"create":{"status":201}}]}`)
	sameAsJSON(t, alike)
	var r esutil.BulkIndexerResponse
	if err := decodeBulk(alike, &r); err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(r.Items[0]).Pointer() != reflect.ValueOf(r.Items[1]).Pointer() {
		t.Error("alike items do not share a map")
	}
}

func FuzzDecoder(f *testing.F) {
	for _, name := range recordedBodies {
		f.Add(recorded(f, name))
	}
	f.Add([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`))
	f.Add([]byte(`{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201},"create":{"status":409}},{"create":{"status":201}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { sameAsJSON(t, b) })
}
