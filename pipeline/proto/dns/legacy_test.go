package dns

// The record body as it was written member by member through the JSON
// writer: the reference appendBody must equal byte for byte.

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// TestLegacyReal compares the two forms on every record of the bundled
// captures and, where present, of ../shared/pcaps/mixed.
func TestLegacyReal(t *testing.T) {
	paths := slices.Clone(bundled)
	if dir := sharedMixed(t); dir != "" {
		m, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
		paths = append(paths, m...)
	}
	n := 0
	for _, c := range paths {
		if !filepath.IsAbs(c) {
			c = testenv.Pcap(t, c)
		}
		for _, r := range recs(t, prototest.Records(t, c, mustNew(t, Config{}))) {
			checkLegacy(t, r)
			// Without the session's cached split too.
			r2 := *r
			r2.split, r2.domain = false, domainSplit{}
			checkLegacy(t, &r2)
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d records", n)
	}
}

// sharedMixed is ../shared/pcaps/mixed, or "" where absent.
func sharedMixed(tb testing.TB) string {
	dir := filepath.Join(testenv.ModuleRoot(tb), "..", "shared", "pcaps", "mixed")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

func legacyJSON(r *Record) []byte {
	return event.AppendProto(nil, &prototest.Observer, Dataset, &r.Base, r.legacyBody)
}

// checkLegacy fails when a record's JSON differs from the legacy form.
func checkLegacy(t *testing.T, r *Record) {
	t.Helper()
	if got, want := r.AppendJSON(nil, &prototest.Observer), legacyJSON(r); !bytes.Equal(got, want) {
		t.Fatalf("fast body differs from the legacy one:\n got %s\nwant %s", got, want)
	}
}

func (r *Record) legacyBody(w *event.JSON) {
	w.Object("dns")
	w.UintString("id", uint64(r.ID))
	w.String("op_code", OpcodeName(r.Opcode))
	var flags [7]string
	if r.HasResponse {
		w.String("type", "answer")
		w.Strings("header_flags", headerFlags(flags[:0], r.RespFlags, r.DO)...)
		w.String("response_code", RcodeName(r.Rcode))
	} else {
		w.String("type", "query")
		w.Strings("header_flags", headerFlags(flags[:0], r.QueryFlags, r.DO)...)
	}
	if r.QuestionCount > 0 {
		w.Object("question")
		w.String("name", r.Name)
		w.String("type", TypeName(r.QType))
		w.String("class", ClassName(r.QClass))
		d := r.domain
		if !r.split {
			d.reg, d.sub, d.tld = splitDomain(r.Name)
		}
		if d.reg != "" {
			w.String("registered_domain", d.reg)
			w.StringIf("subdomain", d.sub)
			w.String("top_level_domain", d.tld)
		}
		w.End()
	}
	if len(r.Answers) > 0 {
		w.Array("answers")
		var ipBuf [8]string
		ips := ipBuf[:0]
		for i := range r.Answers {
			a := &r.Answers[i]
			w.Item()
			w.String("name", a.Name)
			w.String("type", TypeName(a.Type))
			w.String("class", ClassName(a.Class))
			w.Int("ttl", int64(a.TTL))
			w.StringIf("data", a.Data)
			w.End()
			if a.IP.IsValid() {
				ips = append(ips, a.Data)
			}
		}
		w.EndArray()
		if len(ips) > 0 {
			w.Strings("resolved_ip", ips...)
		}
	}
	w.End()

	w.Object("mamori")
	w.Object("dns")
	w.String("variant", r.Variant)
	if r.HasResponse {
		w.Uint("answers_count", uint64(r.AnswerCount))
		w.Uint("authorities_count", uint64(r.AuthCount))
		w.Uint("additionals_count", uint64(r.AddCount))
	}
	if r.AnswersDropped > 0 {
		w.Uint("answers_dropped", uint64(r.AnswersDropped))
	}
	if r.QuestionCount > 1 {
		w.Uint("questions_count", uint64(r.QuestionCount))
		w.Strings("other_questions", r.OtherQuestions...)
	}
	if r.UnicastResp {
		w.Bool("unicast_response", true)
	}
	if r.Retransmits > 0 {
		w.Uint("retransmissions", uint64(r.Retransmits))
	}
	if len(r.Anomalies) > 0 {
		w.Strings("anomalies", r.Anomalies...)
	}
	w.End()
	w.End()
}
