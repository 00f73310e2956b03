package dicom

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/prototest"
)

func newParser(t testing.TB, c Config) *Parser {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// doc decodes a record's JSON document.
func doc(t testing.TB, r event.Record) map[string]any {
	t.Helper()
	var m map[string]any
	b := r.AppendJSON(nil, &prototest.Observer)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return m
}

// get walks a dotted path ("mamori.dicom.calling_ae") in a document.
func get(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func str(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"zero is default", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"failure records off", Config{MaxFailureRecords: -1}, ""},
		{"contexts past 128", Config{MaxContexts: 129}, "max_contexts: must be between 1 and 128, got 129"},
		{"negative pending", Config{MaxPending: -1}, "max_pending"},
		{"tiny associate buffer", Config{MaxAssociatePDU: 10}, "max_associate_pdu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
			if _, nerr := New(tc.cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New and Validate disagree: %v vs %v", nerr, err)
			}
		})
	}
	p := newParser(t, Config{})
	if p.cfg != DefaultConfig() {
		t.Fatalf("zero config gave %+v", p.cfg)
	}
	if p.StreamLimit() != 0 {
		t.Fatal("DICOM needs the whole flow")
	}
}

func TestMatch(t *testing.T) {
	p := newParser(t, Config{})
	rq := associate(pduAssociateRQ, "PACS", "CT01", appContext(), pctxRQ(1, uidVerification, tsImplicit))
	ac := associate(pduAssociateAC, "PACS", "CT01", appContext(), pctxAC(1, 0, tsImplicit))
	echo := pdata(pdv(1, pdvCommand|pdvLast, request(cmdCEchoRQ, 1, uidVerification, noDataSet)))
	badVersion := append([]byte(nil), rq...)
	badVersion[7] = 2
	ctrlAE := append([]byte(nil), rq...)
	ctrlAE[12] = 0x07
	for _, tc := range []struct {
		name   string
		server string
		udp    bool
		first  []byte
		want   bool
	}{
		{"associate-rq on 11112", "10.0.0.2:11112", false, rq, true},
		{"associate-rq on any port", "10.0.0.2:40404", false, rq, true},
		{"associate-ac first (request missed)", "10.0.0.2:40404", false, ac, true},
		{"first 10 bytes only", "10.0.0.2:40404", false, rq[:10], true},
		{"6 bytes without a hint", "10.0.0.2:40404", false, rq[:6], false},
		{"6 bytes on 104", "10.0.0.2:104", false, rq[:6], true},
		{"protocol version 2 only", "10.0.0.2:104", false, badVersion, false},
		{"control byte in AE title", "10.0.0.2:104", false, ctrlAE, false},
		{"udp", "10.0.0.2:104", true, rq, false},
		{"p-data mid-association on 4242", "10.0.0.2:4242", false, echo, true},
		{"p-data without a hint", "10.0.0.2:40404", false, echo, false},
		{"release-rq on 104", "10.0.0.2:104", false, releaseRQ(), true},
		{"http", "10.0.0.2:104", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"tls", "10.0.0.2:104", false, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03}, false},
		{"short length", "10.0.0.2:104", false, pdu(pduAssociateRQ, make([]byte, 20)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := prototest.TCPInfo("10.0.0.1:50000", tc.server)
			if tc.udp {
				f = prototest.UDPInfo("10.0.0.1:50000", tc.server)
			}
			if got := p.Match(f, flow.FromClient, tc.first); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

const (
	cl = flow.FromClient
	sv = flow.FromServer
)

// fullAssociation is a crafted association exercising every command kind
// the record summarises.
func fullAssociation() []prototest.Chunk {
	c := prototest.C
	patient := []byte("\x10\x00\x10\x00\x08\x00\x00\x00DOE^JOHN\x10\x00\x20\x00\x06\x00\x00\x00PID123")
	pixels := bytes.Repeat([]byte{0xAB}, 3000)
	errComment := elem{0x0902, []byte("patient DOE^JOHN not found")}
	return []prototest.Chunk{
		c(cl, associate(pduAssociateRQ, "PACS_MAIN", "CT01", appContext(),
			pctxRQ(1, uidVerification, tsImplicit),
			pctxRQ(3, uidCTStorage, tsExplicit, tsImplicit),
			pctxRQ(5, uidStudyFind, tsImplicit),
			pctxRQ(7, uidStudyMove, tsImplicit),
			pctxRQ(9, "1.2.3.4.5.6.7", tsImplicit),
			userInfo(maxLen(16384), implClass("1.2.3.4"), implVersion("TEST_SCU_1"), userIdentity(2, "tech1", "s3cret-passcode")))),
		c(sv, associate(pduAssociateAC, "PACS_MAIN", "CT01", appContext(),
			pctxAC(1, 0, tsImplicit), pctxAC(3, 0, tsExplicit), pctxAC(5, 0, tsImplicit), pctxAC(7, 0, tsImplicit),
			pctxAC(9, 3, tsImplicit),
			userInfo(maxLen(32768), implClass("1.2.3.5"), implVersion("TEST_SCP_2")))),
		// C-ECHO
		c(cl, pdata(pdv(1, pdvCommand|pdvLast, request(cmdCEchoRQ, 1, uidVerification, noDataSet)))),
		c(sv, pdata(pdv(1, pdvCommand|pdvLast, response(cmdCEchoRQ, 1, uidVerification, 0x0000, noDataSet)))),
		// C-STORE: command in two fragments, data set in three PDVs over
		// two PDUs; success.
		c(cl, pdata(pdv(3, pdvCommand, request(cmdCStoreRQ, 2, uidCTStorage, hasDataSet)[:20]))),
		c(cl, pdata(pdv(3, pdvCommand|pdvLast, request(cmdCStoreRQ, 2, uidCTStorage, hasDataSet)[20:]), pdv(3, 0, patient))),
		c(cl, pdata(pdv(3, 0, pixels[:1000]), pdv(3, pdvLast, pixels[1000:]))),
		c(sv, pdata(pdv(3, pdvCommand|pdvLast, response(cmdCStoreRQ, 2, uidCTStorage, 0x0000, noDataSet)))),
		// C-STORE failing with out of resources and an error comment.
		c(cl, pdata(pdv(3, pdvCommand|pdvLast, request(cmdCStoreRQ, 3, uidCTStorage, hasDataSet)), pdv(3, pdvLast, pixels[:500]))),
		c(sv, pdata(pdv(3, pdvCommand|pdvLast, response(cmdCStoreRQ, 3, uidCTStorage, 0xA700, noDataSet, errComment)))),
		// C-FIND: two pending responses with identifiers, then success.
		c(cl, pdata(pdv(5, pdvCommand|pdvLast, request(cmdCFindRQ, 4, uidStudyFind, hasDataSet)), pdv(5, pdvLast, patient))),
		c(sv, pdata(pdv(5, pdvCommand|pdvLast, response(cmdCFindRQ, 4, uidStudyFind, 0xFF00, hasDataSet)), pdv(5, pdvLast, patient))),
		c(sv, pdata(pdv(5, pdvCommand|pdvLast, response(cmdCFindRQ, 4, uidStudyFind, 0xFF00, hasDataSet)), pdv(5, pdvLast, patient))),
		c(sv, pdata(pdv(5, pdvCommand|pdvLast, response(cmdCFindRQ, 4, uidStudyFind, 0x0000, noDataSet)))),
		// C-MOVE to an unknown destination.
		c(cl, pdata(pdv(7, pdvCommand|pdvLast, request(cmdCMoveRQ, 5, uidStudyMove, hasDataSet, elem{0x0600, ae("EXFIL_AE")})), pdv(7, pdvLast, patient))),
		c(sv, pdata(pdv(7, pdvCommand|pdvLast, response(cmdCMoveRQ, 5, uidStudyMove, 0xA801, noDataSet,
			elem{0x1021, us(0)}, elem{0x1022, us(3)}, elem{0x1023, us(0)})))),
		// A C-ECHO never answered.
		c(cl, pdata(pdv(1, pdvCommand|pdvLast, request(cmdCEchoRQ, 6, uidVerification, noDataSet)))),
		c(cl, releaseRQ()),
		c(sv, releaseRP()),
	}
}

func TestAssociation(t *testing.T) {
	p := newParser(t, Config{})
	recs, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:11112"), fullAssociation()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 2 failures and the association:\n%s", len(recs), prototest.NDJSON(recs))
	}
	nd := string(prototest.NDJSON(recs))
	for _, secret := range []string{"DOE", "JOHN", "PID123", "s3cret", "not found"} {
		if strings.Contains(nd, secret) {
			t.Errorf("records leak %q:\n%s", secret, nd)
		}
	}

	f1, f2, a := doc(t, recs[0]), doc(t, recs[1]), doc(t, recs[2])
	for path, want := range map[string]string{
		"event.action":                          `"dicom_command"`,
		"event.outcome":                         `"failure"`,
		"event.reason":                          `"C-STORE failed: 0xA700 out of resources"`,
		"mamori.dicom.command.name":             `"C-STORE"`,
		"mamori.dicom.command.message_id":       `3`,
		"mamori.dicom.command.sop_class":        `"CT Image Storage"`,
		"mamori.dicom.command.status":           `"0xA700"`,
		"mamori.dicom.command.status_category":  `"failure"`,
		"mamori.dicom.calling_ae":               `"CT01"`,
		"network.protocol":                      `"dicom"`,
		"mamori.dicom.command.sub_operations":   `null`,
		"mamori.dicom.command.move_destination": `null`,
	} {
		if got := str(get(f1, path)); got != want {
			t.Errorf("failure 1 %s = %s, want %s", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"event.reason":                          `"C-MOVE failed: 0xA801 move destination unknown"`,
		"mamori.dicom.command.move_destination": `"EXFIL_AE"`,
		"mamori.dicom.command.sub_operations":   `{"completed":0,"failed":3,"warning":0}`,
	} {
		if got := str(get(f2, path)); got != want {
			t.Errorf("failure 2 %s = %s, want %s", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"event.action":                                `"dicom_association"`,
		"event.outcome":                               `"success"`,
		"user.name":                                   `"tech1"`,
		"related.user":                                `["tech1"]`,
		"mamori.dicom.user_identity.type":             `"username-and-passcode"`,
		"mamori.dicom.calling_ae":                     `"CT01"`,
		"mamori.dicom.called_ae":                      `"PACS_MAIN"`,
		"mamori.dicom.application_context":            `"1.2.840.10008.3.1.1.1"`,
		"mamori.dicom.association":                    `"accepted"`,
		"mamori.dicom.end":                            `"released"`,
		"mamori.dicom.requestor":                      `{"implementation_class_uid":"1.2.3.4","implementation_version":"TEST_SCU_1","max_pdu_length":16384}`,
		"mamori.dicom.acceptor":                       `{"implementation_class_uid":"1.2.3.5","implementation_version":"TEST_SCP_2","max_pdu_length":32768}`,
		"mamori.dicom.presentation_contexts_proposed": `5`,
		"mamori.dicom.presentation_contexts_accepted": `4`,
		"mamori.dicom.stores":                         `2`,
		"mamori.dicom.store_bytes":                    `3530`, // 30 + 3000 + 500
		"mamori.dicom.data_bytes":                     `3650`, // + 4 identifiers of 30
		"mamori.dicom.move_destinations":              `["EXFIL_AE"]`,
		"mamori.dicom.failures":                       `2`,
		"mamori.dicom.anomalies":                      `null`,
	} {
		if got := str(get(a, path)); got != want {
			t.Errorf("association %s = %s, want %s", path, got, want)
		}
	}
	wantCmds := `[{"command":"C-STORE","dataset_bytes":3530,"failure":1,"requests":2,"responses":2,"statuses":[{"category":"failure","code":"0xA700","name":"out of resources"}],"success":1},` +
		`{"command":"C-FIND","dataset_bytes":90,"pending":2,"requests":1,"responses":3,"success":1},` +
		`{"command":"C-MOVE","dataset_bytes":30,"failure":1,"requests":1,"responses":1,"statuses":[{"category":"failure","code":"0xA801","name":"move destination unknown"}]},` +
		`{"command":"C-ECHO","requests":2,"responses":1,"success":1,"unanswered":1}]`
	if got := str(get(a, "mamori.dicom.commands")); got != wantCmds {
		t.Errorf("commands =\n%s\nwant\n%s", got, wantCmds)
	}
	wantCtx := `[{"abstract_syntax":"1.2.840.10008.1.1","accepted":1,"contexts":1,"sop_class":"Verification SOP Class","transfer_syntaxes":["1.2.840.10008.1.2"]},` +
		`{"abstract_syntax":"1.2.840.10008.5.1.4.1.1.2","accepted":1,"contexts":1,"sop_class":"CT Image Storage","transfer_syntaxes":["1.2.840.10008.1.2.1"]},` +
		`{"abstract_syntax":"1.2.840.10008.5.1.4.1.2.2.1","accepted":1,"contexts":1,"sop_class":"Study Root Query/Retrieve Information Model - FIND","transfer_syntaxes":["1.2.840.10008.1.2"]},` +
		`{"abstract_syntax":"1.2.840.10008.5.1.4.1.2.2.2","accepted":1,"contexts":1,"sop_class":"Study Root Query/Retrieve Information Model - MOVE","transfer_syntaxes":["1.2.840.10008.1.2"]},` +
		`{"abstract_syntax":"1.2.3.4.5.6.7","accepted":0,"contexts":1,"proposed_transfer_syntaxes":["1.2.840.10008.1.2"],"result":"abstract-syntax-not-supported"}]`
	if got := str(get(a, "mamori.dicom.presentation_contexts")); got != wantCtx {
		t.Errorf("presentation_contexts =\n%s\nwant\n%s", got, wantCtx)
	}
	if got := str(get(a, "mamori.dicom.sop_classes")); !strings.Contains(got, `"name":"Study Root Query/Retrieve Information Model - MOVE"`) || strings.Count(got, "uid") != 4 {
		t.Errorf("sop_classes = %s", got)
	}
	prototest.CheckRobust(t, anyMatch{p}, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:11112"), false, fullAssociation()...)
}

func TestAssociationEnds(t *testing.T) {
	c := prototest.C
	rq := associate(pduAssociateRQ, "ARCHIVE", "UNKNOWN", appContext(), pctxRQ(1, uidVerification, tsImplicit))
	ac := associate(pduAssociateAC, "ARCHIVE", "UNKNOWN", appContext(), pctxAC(1, 0, tsImplicit))
	for _, tc := range []struct {
		name   string
		chunks []prototest.Chunk
		want   map[string]string
	}{
		{"rejected: called AE not recognised", []prototest.Chunk{c(cl, rq), c(sv, rejectPDU(1, 1, 7))}, map[string]string{
			"event.outcome":            `"failure"`,
			"event.reason":             `"association rejected: called-ae-title-not-recognized"`,
			"mamori.dicom.association": `"rejected"`,
			"mamori.dicom.reject":      `{"reason":"called-ae-title-not-recognized","result":"rejected-permanent","source":"service-user"}`,
		}},
		{"rejected transient: congestion", []prototest.Chunk{c(cl, rq), c(sv, rejectPDU(2, 3, 1))}, map[string]string{
			"mamori.dicom.reject": `{"reason":"temporary-congestion","result":"rejected-transient","source":"service-provider-presentation"}`,
		}},
		{"aborted by the provider", []prototest.Chunk{c(cl, rq), c(sv, ac), c(sv, abortPDU(2, 2))}, map[string]string{
			"event.outcome":      `"failure"`,
			"event.reason":       `"association aborted by service-provider: unexpected-pdu"`,
			"mamori.dicom.end":   `"aborted"`,
			"mamori.dicom.abort": `{"by":"server","reason":"unexpected-pdu","source":"service-provider"}`,
		}},
		{"aborted by the user", []prototest.Chunk{c(cl, rq), c(sv, ac), c(cl, abortPDU(0, 0))}, map[string]string{
			"mamori.dicom.abort": `{"by":"client","source":"service-user"}`,
		}},
		{"no answer", []prototest.Chunk{c(cl, rq)}, map[string]string{
			"event.outcome":            `"unknown"`,
			"event.reason":             `"no answer"`,
			"mamori.dicom.association": `"no answer"`,
			"mamori.dicom.end":         `"unfinished"`,
		}},
		{"release not answered", []prototest.Chunk{c(cl, rq), c(sv, ac), c(cl, releaseRQ())}, map[string]string{
			"event.outcome":                  `"success"`,
			"mamori.dicom.release_requested": `true`,
		}},
		{"picked up mid-association", []prototest.Chunk{
			c(cl, pdata(pdv(1, pdvCommand|pdvLast, request(cmdCEchoRQ, 7, uidVerification, noDataSet)))),
			c(sv, pdata(pdv(1, pdvCommand|pdvLast, response(cmdCEchoRQ, 7, uidVerification, 0, noDataSet)))),
			c(cl, releaseRQ()), c(sv, releaseRP()),
		}, map[string]string{
			"event.outcome":            `"unknown"`,
			"mamori.dicom.association": `"unknown"`,
			"mamori.dicom.commands":    `[{"command":"C-ECHO","requests":1,"responses":1,"success":1}]`,
			"mamori.dicom.anomalies":   `["association start not seen"]`,
		}},
		{"response without request", []prototest.Chunk{c(cl, rq), c(sv, ac),
			c(sv, pdata(pdv(1, pdvCommand|pdvLast, response(cmdCEchoRQ, 9, uidVerification, 0x0122, noDataSet))))}, map[string]string{
			"mamori.dicom.anomalies": `["response without request"]`,
			"mamori.dicom.failures":  `1`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(t, Config{MaxFailureRecords: -1})
			f := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:4242")
			recs, err := prototest.Feed(p, f, tc.chunks...)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records:\n%s", len(recs), prototest.NDJSON(recs))
			}
			d := doc(t, recs[0])
			for path, want := range tc.want {
				if got := str(get(d, path)); got != want {
					t.Errorf("%s = %s, want %s", path, got, want)
				}
			}
			prototest.CheckRobust(t, anyMatch{p}, f, false, tc.chunks...)
		})
	}
}

func TestMalformed(t *testing.T) {
	c := prototest.C
	rq := associate(pduAssociateRQ, "PACS", "CT01", appContext(), pctxRQ(1, uidVerification, tsImplicit))
	ac := associate(pduAssociateAC, "PACS", "CT01", appContext(), pctxAC(1, 0, tsImplicit))
	badPDV := pdata(pdv(1, pdvCommand|pdvLast, request(cmdCEchoRQ, 1, uidVerification, noDataSet)))
	badPDV[9] = 0xff // PDV length past its PDU
	for _, tc := range []struct {
		name   string
		chunks []prototest.Chunk
		reason string
	}{
		{"unknown pdu type", []prototest.Chunk{c(cl, rq), c(sv, ac), c(cl, pdu(0x09, make([]byte, 4)))}, "unknown pdu type"},
		{"p-data too short", []prototest.Chunk{c(cl, rq), c(sv, ac), c(cl, pdu(pduPData, []byte{0, 0}))}, "bad pdu length"},
		{"associate shorter than its fixed part", []prototest.Chunk{c(cl, rq), c(sv, pdu(pduAssociateAC, make([]byte, 40)))}, "bad pdu length"},
		{"pdv past its pdu", []prototest.Chunk{c(cl, rq), c(sv, ac), c(cl, badPDV)}, "bad pdv length"},
		{"release with a huge length", []prototest.Chunk{c(cl, rq), c(sv, ac), c(cl, pdu(pduReleaseRQ, make([]byte, 2000)))}, "bad pdu length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(t, Config{})
			recs, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:104"), tc.chunks...)
			if !errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != tc.reason {
				t.Fatalf("err = %v, want malformed %q", err, tc.reason)
			}
			if len(recs) != 1 || !strings.Contains(string(prototest.NDJSON(recs)), `"malformed pdu"`) {
				t.Fatalf("want the association record with the anomaly, got:\n%s", prototest.NDJSON(recs))
			}
		})
	}
}

func TestBadItemsTolerated(t *testing.T) {
	c := prototest.C
	// A presentation context item whose sub-item overruns it, and a user
	// information item with a max length of the wrong size.
	bad := item(itemPresContextRQ, append([]byte{1, 0, 0, 0}, 0x30, 0, 0, 50, '1'))
	rq := associate(pduAssociateRQ, "PACS", "CT01", appContext(), bad, userInfo(item(subMaxLength, []byte{1, 2})))
	p := newParser(t, Config{})
	recs, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:104"), c(cl, rq))
	if err != nil || len(recs) != 1 {
		t.Fatalf("err %v, %d records", err, len(recs))
	}
	if got := str(get(doc(t, recs[0]), "mamori.dicom.anomalies")); got != `["association start not seen","bad association item"]` && got != `["bad association item"]` {
		t.Fatalf("anomalies = %s", got)
	}
}

func TestGaps(t *testing.T) {
	c := prototest.C
	f := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:11112")
	rq := associate(pduAssociateRQ, "PACS", "MR01", appContext(), pctxRQ(3, uidCTStorage, tsExplicit))
	ac := associate(pduAssociateAC, "PACS", "MR01", appContext(), pctxAC(3, 0, tsExplicit))
	pixels := bytes.Repeat([]byte{0x5A}, 10000)
	storeRQ := pdata(pdv(3, pdvCommand|pdvLast, request(cmdCStoreRQ, 1, uidCTStorage, hasDataSet)))
	data := pdata(pdv(3, pdvLast, pixels))
	storeRSP := pdata(pdv(3, pdvCommand|pdvLast, response(cmdCStoreRQ, 1, uidCTStorage, 0, noDataSet)))
	storeRQ2 := pdata(pdv(3, pdvCommand|pdvLast, request(cmdCStoreRQ, 2, uidCTStorage, hasDataSet)))
	storeRSP2 := pdata(pdv(3, pdvCommand|pdvLast, response(cmdCStoreRQ, 2, uidCTStorage, 0, noDataSet)))

	t.Run("inside a data pdv", func(t *testing.T) {
		recs, err := prototest.Feed(p0(t), f, c(cl, rq), c(sv, ac), c(cl, storeRQ),
			c(cl, data[:2000]), prototest.Chunk{Dir: cl, Gap: 5000}, c(cl, data[7000:]),
			c(sv, storeRSP), c(cl, releaseRQ()), c(sv, releaseRP()))
		if err != nil || len(recs) != 1 {
			t.Fatalf("err %v, %d records", err, len(recs))
		}
		d := doc(t, recs[0])
		if got := str(get(d, "mamori.dicom.store_bytes")); got != "10000" {
			t.Errorf("store_bytes = %s, want 10000 (the gap's bytes are counted from the PDV length)", got)
		}
		if got := str(get(d, "mamori.dicom.anomalies")); got != `["gap"]` {
			t.Errorf("anomalies = %s", got)
		}
		if got := str(get(d, "mamori.dicom.end")); got != `"released"` {
			t.Errorf("end = %s", got)
		}
	})
	t.Run("across pdus: resynchronised", func(t *testing.T) {
		// Lose the end of the first data PDU (1988 pixel bytes were seen:
		// past its PDV the gap's bytes cannot be attributed), the response's direction
		// stays in sync, and the client resynchronises on the next
		// C-STORE's P-DATA header found inside a later chunk.
		tail := append(append([]byte(nil), data[9000:]...), storeRQ2...)
		recs, err := prototest.Feed(p0(t), f, c(cl, rq), c(sv, ac), c(cl, storeRQ),
			c(cl, data[:2000]), prototest.Chunk{Dir: cl, Gap: 20000}, c(cl, tail),
			c(cl, pdata(pdv(3, pdvLast, pixels[:100]))),
			c(sv, storeRSP), c(sv, storeRSP2), c(cl, releaseRQ()), c(sv, releaseRP()))
		if err != nil || len(recs) != 1 {
			t.Fatalf("err %v, %d records", err, len(recs))
		}
		d := doc(t, recs[0])
		if got := str(get(d, "mamori.dicom.anomalies")); got != `["gap","lost sync","resynchronised"]` {
			t.Errorf("anomalies = %s", got)
		}
		if got := str(get(d, "mamori.dicom.commands")); got != `[{"command":"C-STORE","dataset_bytes":2088,"requests":2,"responses":2,"success":2}]` {
			t.Errorf("commands = %s", got)
		}
	})
}

// anyMatch lets CheckRobust's 1-byte resegmentation reach the session:
// the dispatcher calls Match once, on the first segment, and Match needs
// at least 6 bytes; Match has its own test.
type anyMatch struct{ *Parser }

func (anyMatch) Match(*flow.Info, flow.Dir, []byte) bool { return true }

func p0(t *testing.T) *Parser { return newParser(t, Config{}) }

// TestMemoryBound feeds hostile streams and checks that what the session
// keeps stays within its limits.
func TestMemoryBound(t *testing.T) {
	cfg := Config{MaxAssociatePDU: 4096, MaxCommandBytes: 512, MaxPending: 16, MaxSOPClasses: 4, MaxContexts: 8, MaxFailureRecords: 2}
	p := newParser(t, cfg)
	f := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:104")
	var emitted []event.Record
	s := p.NewSession(f, func(r event.Record) { emitted = append(emitted, r) }).(*Session)
	at := prototest.Epoch

	// An A-ASSOCIATE-RQ declaring 16 MiB, with 200 presentation contexts.
	var ctxs [][]byte
	for i := 0; i < 200; i++ {
		ctxs = append(ctxs, pctxRQ(byte(2*i+1), uidCTStorage, tsImplicit, tsExplicit))
	}
	rq := associate(pduAssociateRQ, "PACS", "EVIL", append([][]byte{appContext()}, ctxs...)...)
	big := append([]byte(nil), rq[:6]...)
	big[2], big[3], big[4], big[5] = 0x01, 0, 0, 0
	if err := s.Payload(cl, at, big); err != nil {
		t.Fatal(err)
	}
	filler := bytes.Repeat([]byte{0x41}, 64<<10)
	body := append(rq[6:], filler...)
	for i := 0; i < 256; i++ { // 16 MiB of body, in 64 KiB chunks
		if err := s.Payload(cl, at, body[:min(len(body), 64<<10)]); err != nil {
			t.Fatal(err)
		}
		if cap(s.dir[cl].buf) > 2*cfg.MaxAssociatePDU {
			t.Fatalf("associate buffer grew to %d", cap(s.dir[cl].buf))
		}
		body = filler
	}
	if s.a == nil || len(s.a.Contexts) > cfg.MaxContexts || s.a.Anomalies&anAssocTruncated == 0 || s.a.Anomalies&anTooManyContexts == 0 {
		t.Fatalf("contexts %d, anomalies %b", len(s.a.Contexts), s.a.Anomalies)
	}
	if err := s.Payload(sv, at, associate(pduAssociateAC, "PACS", "EVIL", pctxAC(1, 0, tsImplicit))); err != nil {
		t.Fatal(err)
	}

	// An endless command set, then thousands of requests never answered,
	// each with its own SOP class, and failures past the record limit.
	endless := pdu(pduPData, nil)
	endless[2] = 0x10 // a 256 MiB P-DATA-TF holding one command PDV
	endless = append(endless, 0x0f, 0xff, 0xff, 0xfa, 1, pdvCommand)
	if err := s.Payload(cl, at, endless); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 256; i++ { // 16 MiB of command PDV
		if err := s.Payload(cl, at, filler); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.dir[cl].cmd) > cfg.MaxCommandBytes || s.a.Anomalies&anCommandTooLarge == 0 {
		t.Fatalf("command buffer %d", len(s.dir[cl].cmd))
	}
	s2 := p.NewSession(f, func(r event.Record) { emitted = append(emitted, r) }).(*Session)
	s2.Payload(cl, at, associate(pduAssociateRQ, "PACS", "EVIL", pctxRQ(1, uidCTStorage, tsImplicit)))
	s2.Payload(sv, at, associate(pduAssociateAC, "PACS", "EVIL", pctxAC(1, 0, tsImplicit)))
	for i := 0; i < 5000; i++ {
		rq := pdata(pdv(1, pdvCommand|pdvLast, request(cmdCStoreRQ, uint16(i), "1.2.3."+string(rune('0'+i%10))+"."+string(rune('0'+i/10%10)), noDataSet)))
		if err := s2.Payload(cl, at, rq); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		s2.Payload(sv, at, pdata(pdv(1, pdvCommand|pdvLast, response(cmdCStoreRQ, uint16(i), uidCTStorage, 0xC000+uint16(i), noDataSet))))
	}
	if len(s2.pending) > cfg.MaxPending || len(s2.a.SOPClasses) > cfg.MaxSOPClasses || len(s2.a.Commands[0].Statuses) > maxStatuses {
		t.Fatalf("pending %d, sop classes %d, statuses %d", len(s2.pending), len(s2.a.SOPClasses), len(s2.a.Commands[0].Statuses))
	}
	want := anPendingFull | anSOPClassesFull | anStatusesFull | anFailureRecordsLimited
	if s2.a.Anomalies&want != want {
		t.Fatalf("anomalies %b, want %b set", s2.a.Anomalies, want)
	}
	emitted = emitted[:0]
	s2.End(at, event.EndTCPClose)
	s.End(at, event.EndTCPClose)
	if len(emitted) != 2 {
		t.Fatalf("%d records at End", len(emitted))
	}
	for _, r := range emitted {
		if b := r.AppendJSON(nil, &prototest.Observer); len(b) > 64<<10 || !json.Valid(b) {
			t.Fatalf("record of %d bytes (valid %v)", len(b), json.Valid(b))
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"CT01":             "CT01",
		"A\x1b$B":          `A\x1b$B`,
		"back\\slash":      `back\x5cslash`,
		"\xe6\x97\xa5\xff": `\xe6\x97\xa5\xff`,
	} {
		if got := text([]byte(in)); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
	if got := aeTitle([]byte("  CT01          ")); got != "CT01" {
		t.Errorf("aeTitle = %q", got)
	}
	if got := uid([]byte("1.2.840.10008.1.2\x00")); got != "1.2.840.10008.1.2" {
		t.Errorf("uid = %q", got)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		code     uint16
		category string
		name     string
	}{
		{0x0000, "success", "success"},
		{0xFF00, "pending", "pending"},
		{0xFF01, "pending", "pending, optional keys not supported"},
		{0xFE00, "cancel", "cancel"},
		{0xB000, "warning", "coercion of data elements or sub-operations failed"},
		{0xB123, "warning", ""},
		{0x0107, "warning", "attribute list error"},
		{0xA700, "failure", "out of resources"},
		{0xA7FF, "failure", "out of resources"},
		{0xA900, "failure", "identifier does not match sop class"},
		{0xC123, "failure", "cannot understand"},
		{0x0122, "failure", "sop class not supported"},
		{0x0124, "failure", "not authorized"},
		{0x0211, "failure", "unrecognized operation"},
	} {
		if c, n := statusCategory(tc.code), statusName(tc.code); c != tc.category || n != tc.name {
			t.Errorf("%s: %s %q, want %s %q", hex4(tc.code), c, n, tc.category, tc.name)
		}
	}
	for f, want := range map[uint16]string{0x0001: "C-STORE", 0x8001: "C-STORE", 0x0010: "C-GET", 0x0020: "C-FIND", 0x8021: "C-MOVE",
		0x0030: "C-ECHO", 0x0100: "N-EVENT-REPORT", 0x8140: "N-CREATE", 0x0150: "N-DELETE", 0x0FFF: "C-CANCEL"} {
		k, ok := kindOf(f)
		if !ok || kinds[k] != want {
			t.Errorf("kindOf(%#x) = %v %v, want %s", f, k, ok, want)
		}
	}
	if _, ok := kindOf(0x8FFF); ok {
		t.Error("C-CANCEL has no response")
	}
}
