package dicom

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/proto/prototest"
)

// captures lists the DICOM captures: the bundled ones (dicom/ and
// recorded/dicom_*) and, where present, those of ../shared/pcaps/dicom that
// are not bundled (no redistribution licence). Each entry is an absolute
// path.
func captures(t *testing.T) []string {
	t.Helper()
	bundled, _ := filepath.Glob(filepath.Join(testenv.Pcaps(t), "dicom", "*.pcap*"))
	recorded, _ := filepath.Glob(filepath.Join(testenv.Pcaps(t), "recorded", "dicom_*.pcap*"))
	bundled = append(bundled, recorded...)
	if len(bundled) == 0 {
		t.Fatal("no bundled DICOM captures under testdata/pcaps/dicom")
	}
	paths := slices.Clone(bundled)
	shared := filepath.Join(testenv.SharedPcaps(t), "dicom")
	extra, _ := filepath.Glob(filepath.Join(shared, "*.pcap*"))
	for _, e := range extra {
		if !slices.ContainsFunc(bundled, func(b string) bool { return filepath.Base(b) == filepath.Base(e) }) {
			paths = append(paths, e)
		}
	}
	if len(extra) == 0 {
		t.Logf("%s absent or empty: only bundled captures", shared)
	}
	return paths
}

func stem(path string) string {
	b := filepath.Base(path)
	return b[:strings.IndexByte(b, '.')]
}

func TestGolden(t *testing.T) {
	for _, path := range captures(t) {
		t.Run(stem(path), func(t *testing.T) {
			recs, c := prototest.Replay(t, path, newParser(t, Config{}))
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			if len(c.Malformed) > 0 || c.Panics > 0 {
				t.Errorf("malformed %v, panics %d", c.Malformed, c.Panics)
			}
			nd := string(prototest.NDJSON(recs))
			// The capture's data sets hold a (fictitious) patient; its
			// attributes must never come out.
			for _, leak := range []string{"0x00100010", "PatientName", "^"} {
				if strings.Contains(nd, leak) {
					t.Errorf("records contain %q", leak)
				}
			}
			prototest.Golden(t, stem(path), recs)
		})
	}
}

// TestRealStreamsRobust runs decode-twice, truncation and resegmentation on
// every real DICOM stream.
func TestRealStreamsRobust(t *testing.T) {
	p := newParser(t, Config{})
	for _, path := range captures(t) {
		for _, s := range prototest.Streams(t, path) {
			prototest.CheckRobust(t, anyMatch{p}, s.Info, s.UDP, s.Chunks...)
		}
	}
}

// TestNonStandardPort moves the capture's servers (11112, 104, 4242) to
// ports DICOM is not hinted on: the same associations must be found by
// content.
func TestNonStandardPort(t *testing.T) {
	path := testenv.Pcap(t, "dicom/dcmtk_echo_store_find_reject.pcap")
	moved := map[uint16]uint16{11112: 40001, 104: 40002, 4242: 40003}
	out := prototest.RewritePortMap(t, path, moved)
	p := newParser(t, Config{})
	want, got := prototest.Records(t, path, p), prototest.Records(t, out, p)
	if len(got) != len(want) || len(want) != 5 {
		t.Fatalf("%d records on moved ports, %d on the originals", len(got), len(want))
	}
	for i := range want {
		w, g := doc(t, want[i]), doc(t, got[i])
		if str(get(w, "mamori")) != str(get(g, "mamori")) || str(get(w, "event")) != str(get(g, "event")) {
			t.Errorf("record %d differs:\n%s\nvs\n%s", i, str(get(g, "mamori")), str(get(w, "mamori")))
		}
		port := uint16(get(w, "destination.port").(float64))
		if gp := uint16(get(g, "destination.port").(float64)); gp != moved[port] {
			t.Errorf("record %d on port %d, want %d", i, gp, moved[port])
		}
	}
}

// tsharkFields are extracted in one tshark run per capture.
var tsharkFields = []string{
	"tcp.stream", "tcp.srcport", "dicom.pdu.type",
	"dicom.assoc.ae.calling", "dicom.assoc.ae.called", "dicom.actx",
	"dicom.pctx.id", "dicom.pctx.result", "dicom.pctx.abss.syntax", "dicom.pctx.xfer.syntax",
	"dicom.userinfo.uid", "dicom.userinfo.version", "dicom.max_pdu_len",
	"dicom.assoc.reject.result", "dicom.assoc.reject.source", "dicom.assoc.reject.reason",
	"dicom.assoc.abort.source", "dicom.assoc.abort.reason",
	"dicom.pdv.len", "dicom.pdv.flags", "_ws.col.Info",
}

// tsharkAssoc is what tshark shows of one association (one TCP stream).
type tsharkAssoc struct {
	client            string // client port
	calling, called   string
	actx              string
	abstract          []string // per proposed context
	names             []string // tshark's "Name (uid)" per proposed context
	transfer          []string // every proposed transfer syntax
	results           []string // per answered context
	accepted          []string // transfer syntaxes of accepted contexts
	implUID, implVer  [2]string
	maxPDU            [2]string
	reject            []string
	abort             []string
	requests          map[string]int
	responses, succes int // from Info: lower bounds (see parseTshark)
	commands          int // command sets (last command fragments)
	dataBytes         int
}

// uidIn extracts the UID from tshark's "Name (1.2.3)" form.
var uidIn = regexp.MustCompile(`\(([0-9.]+)\)$`)

func tsharkUID(s string) string {
	if m := uidIn.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

// TestTshark compares, association by association, what the records say
// with what tshark's DICOM dissector extracts from the same capture.
//
// Known tshark 4.0 differences, handled below: with -T fields it names a
// C-STORE-RSP whose PDU header came in its own TCP segment just "Command";
// only with two passes (-2) and no display filter does it add "ID=n
// (Status)", so tshark runs with -2 and without -Y, responses are compared
// by count (command PDVs) and status, and requests by name. tshark shows
// AE titles with their space padding, and UIDs as "Name (uid)".
func TestTshark(t *testing.T) {
	tshark := testenv.RequireTool(t, "tshark")
	for _, path := range captures(t) {
		t.Run(stem(path), func(t *testing.T) {
			t.Parallel()
			args := []string{"-2", "-n", "-r", path, "-d", "tcp.port==104,dicom", "-d", "tcp.port==4242,dicom",
				"-d", "tcp.port==11113,dicom", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"}
			for _, f := range tsharkFields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			want := parseTshark(t, string(out))
			recs := prototest.Records(t, path, newParser(t, Config{}))
			got := map[string]map[string]any{}
			for _, r := range recs {
				d := doc(t, r)
				if get(d, "event.action") == "dicom_association" {
					got[strconv.Itoa(int(get(d, "source.port").(float64)))] = d
				}
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d associations, tshark shows %d", len(got), len(want))
			}
			for _, w := range want {
				compareAssoc(t, w, got[w.client])
			}
		})
	}
}

var (
	rqInfo = regexp.MustCompile(`([CN]-[A-Z-]+)-RQ ID=\d+`)
	// A response: "C-FIND-RSP ID=1", "C-MOVE-RSP ID=1 C=1 (Success)",
	// "C-MOVE-RSP (Refused: ...)", or tshark's "Command ID=1 (Success)";
	// not the "C-FIND-RSP-DATA" of its data set.
	rspInfo = regexp.MustCompile(`(?:[CN]-[A-Z-]+-RSP|Command)(?: ID=\d+)?(?: C=\d+)?(?: \(([^)]*)\))?(?:,|$)`)
)

func parseTshark(t *testing.T, out string) map[string]*tsharkAssoc {
	t.Helper()
	assocs := map[string]*tsharkAssoc{}
	clients := map[string]string{} // stream -> client port
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != len(tsharkFields) {
			t.Fatalf("tshark line with %d fields: %q", len(f), line)
		}
		v := func(name string) string { return f[slices.Index(tsharkFields, name)] }
		stream, types := v("tcp.stream"), split(v("dicom.pdu.type"))
		if len(types) == 0 {
			continue // not a DICOM frame (no -Y: see TestTshark)
		}
		if slices.Contains(types, "0x01") {
			clients[stream] = v("tcp.srcport")
		}
		a := assocs[stream]
		if a == nil {
			a = &tsharkAssoc{client: clients[stream], requests: map[string]int{}}
			assocs[stream] = a
		}
		side := 0
		switch {
		case slices.Contains(types, "0x01"):
			a.calling = strings.TrimSpace(v("dicom.assoc.ae.calling"))
			a.called = strings.TrimSpace(v("dicom.assoc.ae.called"))
			a.actx = tsharkUID(v("dicom.actx"))
			for _, s := range split(v("dicom.pctx.abss.syntax")) {
				a.abstract = append(a.abstract, tsharkUID(s))
				a.names = append(a.names, s)
			}
			for _, s := range split(v("dicom.pctx.xfer.syntax")) {
				a.transfer = append(a.transfer, tsharkUID(s))
			}
		case slices.Contains(types, "0x02"):
			side = 1
			a.results = split(v("dicom.pctx.result"))
			xfer := split(v("dicom.pctx.xfer.syntax"))
			for i, r := range a.results {
				if r == "0x00" && i < len(xfer) {
					a.accepted = append(a.accepted, tsharkUID(xfer[i]))
				}
			}
		case slices.Contains(types, "0x03"):
			a.reject = []string{v("dicom.assoc.reject.result"), v("dicom.assoc.reject.source"), v("dicom.assoc.reject.reason")}
		case slices.Contains(types, "0x07"):
			a.abort = []string{v("dicom.assoc.abort.source"), v("dicom.assoc.abort.reason")}
		}
		if slices.Contains(types, "0x01") || slices.Contains(types, "0x02") {
			a.implUID[side], a.implVer[side], a.maxPDU[side] = v("dicom.userinfo.uid"), v("dicom.userinfo.version"), v("dicom.max_pdu_len")
		}
		info := v("_ws.col.Info")
		for _, m := range rqInfo.FindAllStringSubmatch(info, -1) {
			a.requests[m[1]]++
		}
		for _, m := range rspInfo.FindAllStringSubmatch(info, -1) {
			a.responses++
			if m[1] == "Success" {
				a.succes++
			}
		}
		lens, flags := split(v("dicom.pdv.len")), split(v("dicom.pdv.flags"))
		for i := range lens {
			fl, _ := strconv.ParseUint(strings.TrimPrefix(flags[i], "0x"), 16, 8)
			if fl&1 == 0 {
				n, _ := strconv.Atoi(lens[i])
				a.dataBytes += n - 2 // the PDV length counts the context ID and flags
			} else if fl&2 != 0 {
				a.commands++
			}
		}
	}
	return assocs
}

func compareAssoc(t *testing.T, w *tsharkAssoc, d map[string]any) {
	t.Helper()
	if d == nil {
		t.Errorf("client port %s: no association record", w.client)
		return
	}
	check := func(what string, got, want any) {
		t.Helper()
		if g, x := str(got), str(want); g != x {
			t.Errorf("client %s: %s = %s, tshark %s", w.client, what, g, x)
		}
	}
	dd := func(path string) any { return get(d, "mamori.dicom."+path) }
	check("calling_ae", dd("calling_ae"), w.calling)
	check("called_ae", dd("called_ae"), w.called)
	check("application_context", dd("application_context"), w.actx)
	check("presentation_contexts_proposed", dd("presentation_contexts_proposed"), len(w.abstract))

	var abstract, accepted, proposed []string
	ctxs, _ := dd("presentation_contexts").([]any)
	for _, c := range ctxs {
		c := c.(map[string]any)
		abstract = append(abstract, c["abstract_syntax"].(string))
		for _, k := range []string{"transfer_syntaxes", "proposed_transfer_syntaxes"} {
			ts, _ := c[k].([]any)
			for _, x := range ts {
				if k == "transfer_syntaxes" {
					accepted = append(accepted, x.(string))
				}
				proposed = append(proposed, x.(string))
			}
		}
		// Names: where both name a SOP class, they agree (PS3.6).
		if name, ok := c["sop_class"].(string); ok {
			for _, s := range w.names {
				if tsharkUID(s) == c["abstract_syntax"] && !strings.HasPrefix(s, name+" (") {
					t.Errorf("SOP class %s named %q, tshark %q", c["abstract_syntax"], name, s)
				}
			}
		}
	}
	set := func(ss []string) []string { ss = slices.Clone(ss); slices.Sort(ss); return slices.Compact(ss) }
	check("abstract syntaxes", set(abstract), set(w.abstract))
	if len(w.results) > 0 {
		n := 0
		for _, r := range w.results {
			if r == "0x00" {
				n++
			}
		}
		check("presentation_contexts_accepted", dd("presentation_contexts_accepted"), n)
		check("accepted transfer syntaxes", set(accepted), set(w.accepted))
	} else {
		check("proposed transfer syntaxes", set(proposed), set(w.transfer))
	}
	impl := func(key string, side int) {
		if w.implUID[side] == "" && w.maxPDU[side] == "" {
			check(key, dd(key), nil)
			return
		}
		check(key+".implementation_class_uid", dd(key+".implementation_class_uid"), w.implUID[side])
		check(key+".implementation_version", dd(key+".implementation_version"), w.implVer[side])
		n, _ := strconv.Atoi(w.maxPDU[side])
		check(key+".max_pdu_length", dd(key+".max_pdu_length"), n)
	}
	impl("requestor", 0)
	impl("acceptor", 1)
	if w.reject != nil {
		b := make([]byte, 3)
		for i, s := range w.reject {
			n, _ := strconv.Atoi(s)
			b[i] = byte(n)
		}
		check("reject", dd("reject"), map[string]string{"result": rejectResult(b[0]), "source": rejectSource(b[1]), "reason": rejectReason(b[1], b[2])})
	} else {
		check("reject", dd("reject"), nil)
	}
	if w.abort != nil {
		check("end", dd("end"), "aborted")
	}
	cmds, _ := dd("commands").([]any)
	reqs, responses, success := map[string]int{}, 0, 0
	for _, c := range cmds {
		c := c.(map[string]any)
		if n := int(c["requests"].(float64)); n > 0 {
			reqs[c["command"].(string)] = n
		}
		responses += int(c["responses"].(float64))
		if s, ok := c["success"].(float64); ok {
			success += int(s)
		}
	}
	check("requests by command", reqs, w.requests)
	total := responses
	for _, n := range reqs {
		total += n
	}
	check("requests and responses", total, w.commands)
	// tshark's Info column names at most the first and last command of a
	// P-DATA-TF holding several (a C-FIND's pending responses and their
	// identifiers), so its response and success counts are lower bounds.
	if responses < w.responses || success < w.succes {
		t.Errorf("client %s: %d responses (%d success), tshark's Info shows %d (%d)", w.client, responses, success, w.responses, w.succes)
	}
	data := 0
	if v, ok := dd("data_bytes").(float64); ok {
		data = int(v)
	}
	check("data_bytes", data, w.dataBytes)
}
