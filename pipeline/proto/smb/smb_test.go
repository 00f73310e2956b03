package smb

import (
	"strconv"
	"strings"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/internal/ntlm"
	"mamori/pipeline/proto/prototest"
)

var (
	cli = flow.FromClient
	srv = flow.FromServer
)

func newParser(t testing.TB, cfg Config) *Parser {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func c(d flow.Dir, b []byte) prototest.Chunk { return prototest.C(d, b) }

func feed(t *testing.T, p *Parser, port string, chunks ...prototest.Chunk) []event.Record {
	t.Helper()
	recs, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:"+port), chunks...)
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	return recs
}

func smbRecs(recs []event.Record, action string) []*Record {
	var out []*Record
	for _, r := range recs {
		if s, ok := r.(*Record); ok && (action == "" || s.Action == action) {
			out = append(out, s)
		}
	}
	return out
}

func one(t *testing.T, recs []event.Record, action string) *Record {
	t.Helper()
	rs := smbRecs(recs, action)
	if len(rs) != 1 {
		t.Fatalf("%d %s records, want 1:\n%s", len(rs), action, prototest.NDJSON(recs))
	}
	return rs[0]
}

func ntlmRecs(recs []event.Record) []*ntlm.Record {
	var out []*ntlm.Record
	for _, r := range recs {
		if n, ok := r.(*ntlm.Record); ok {
			out = append(out, n)
		}
	}
	return out
}

const sid = 0x4000000000011

// logon is negotiate plus a three-leg NTLM session setup of user.
func logon(user string, status uint32) []prototest.Chunk {
	return []prototest.Chunk{
		c(cli, msg2(pdu2{cmd: cmdNegotiate, msgID: 0, body: negotiateReq(0x0202, 0x0210, 0x0300, 0x0302, 0x0311)})),
		c(srv, msg2(pdu2{cmd: cmdNegotiate, resp: true, msgID: 0, body: negotiateResp(0x0311, 3)})),
		c(cli, msg2(pdu2{cmd: cmdSessionSetup, msgID: 1, body: sessionSetupReq(spnego(ntlmNegotiate()))})),
		c(srv, msg2(pdu2{cmd: cmdSessionSetup, resp: true, msgID: 1, sessionID: sid, status: statusMoreProcessingRequired,
			body: sessionSetupResp(0, spnego(ntlmChallenge("HOSPITAL", "FILESRV", "filesrv.hospital.local")))})),
		c(cli, msg2(pdu2{cmd: cmdSessionSetup, msgID: 2, sessionID: sid, body: sessionSetupReq(spnego(ntlmAuth("HOSPITAL", user, "WARD3-PC", 120)))})),
		c(srv, msg2(pdu2{cmd: cmdSessionSetup, resp: true, msgID: 2, sessionID: sid, status: status, body: sessionSetupResp(0, nil)})),
	}
}

func TestMatch(t *testing.T) {
	p := newParser(t, Config{})
	neg := msg2(pdu2{cmd: cmdNegotiate, body: negotiateReq(0x0202)})
	smb1neg := nbt(append([]byte("\xffSMB\x72"), make([]byte, 30)...))
	nbReq := append([]byte{0x81, 0, 0, 68, 0x20}, []byte("FEEFFDFEEPFCCACACACACACACACACACA\x00 EFFGEFEEEFEMEHEBEBEBEBEBEBEBEBEB\x00")...)
	mid := append([]byte("tail of a previous WRITE...."), neg...)
	for _, tc := range []struct {
		name   string
		server string
		udp    bool
		first  []byte
		want   bool
	}{
		{"smb2 on 445", "10.0.0.2:445", false, neg, true},
		{"smb2 on 8080", "10.0.0.2:8080", false, neg, true},
		{"smb1", "10.0.0.2:445", false, smb1neg, true},
		{"netbios session request on 139", "10.0.0.2:139", false, nbReq, true},
		{"netbios session request on 1139", "10.0.0.2:1139", false, nbReq, true},
		{"joined mid-flow on 445", "10.0.0.2:445", false, mid, true},
		{"joined mid-flow elsewhere", "10.0.0.2:8080", false, mid, false},
		{"http", "10.0.0.2:445", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"short", "10.0.0.2:445", false, neg[:6], false},
		{"udp", "10.0.0.2:445", true, neg, false},
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

func TestNegotiateAndNTLMLogon(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445", logon("nurse1", statusSuccess)...)
	n := one(t, recs, "smb2_negotiate")
	if strings.Join(n.Dialects, ",") != "2.0.2,2.1,3.0,3.0.2,3.1.1" || n.Dialect != "3.1.1" || !n.SigningRequired || n.Version != "3.1.1" {
		t.Fatalf("negotiate: %+v", n)
	}
	s := one(t, recs, "smb2_session_setup")
	if s.User != "nurse1" || s.Domain != "HOSPITAL" || s.Workstation != "WARD3-PC" || s.Auth != "ntlm" ||
		s.Status != "STATUS_SUCCESS" || s.Outcome != "success" || s.SessionID != sid {
		t.Fatalf("session setup: %+v", s)
	}
	nr := ntlmRecs(recs)
	if len(nr) != 1 {
		t.Fatalf("%d ntlm records", len(nr))
	}
	if r := nr[0]; r.User != "nurse1" || r.Domain != "HOSPITAL" || r.Workstation != "WARD3-PC" || r.Transport != "smb" ||
		r.Outcome != "success" || r.ServerNetBIOSName != "FILESRV" || r.ServerDNSName != "filesrv.hospital.local" ||
		r.TargetName != "HOSPITAL" || r.Version != "v2" || r.Dataset() != "mamori.ntlm" || r.Protocol != "ntlm" {
		t.Fatalf("ntlm record: %+v", r)
	}
}

func TestLogonFailure(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445", logon("administrator", 0xC000006D)...)
	s := one(t, recs, "smb2_session_setup")
	if s.Status != "STATUS_LOGON_FAILURE" || s.Outcome != "failure" || s.User != "administrator" {
		t.Fatalf("session setup: %+v", s)
	}
	if nr := ntlmRecs(recs); len(nr) != 1 || nr[0].Outcome != "failure" || nr[0].Status != "STATUS_LOGON_FAILURE" {
		t.Fatalf("ntlm: %+v", nr)
	}
}

func TestKerberosAndAnonymous(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445",
		c(cli, msg2(pdu2{cmd: cmdSessionSetup, msgID: 1, body: sessionSetupReq(krbAPReq())})),
		c(srv, msg2(pdu2{cmd: cmdSessionSetup, resp: true, msgID: 1, sessionID: 7, body: sessionSetupResp(0, nil)})),
	)
	if s := one(t, recs, "smb2_session_setup"); s.Auth != "kerberos" || s.User != "" {
		t.Fatalf("kerberos: %+v", s)
	}
	if len(ntlmRecs(recs)) != 0 {
		t.Fatal("ntlm record for kerberos")
	}
	recs = feed(t, p, "445",
		c(cli, msg2(pdu2{cmd: cmdSessionSetup, msgID: 1, body: sessionSetupReq(ntlmAuth("", "", "", 0))})),
		c(srv, msg2(pdu2{cmd: cmdSessionSetup, resp: true, msgID: 1, sessionID: 7, body: sessionSetupResp(0x2, nil)})),
	)
	if s := one(t, recs, "smb2_session_setup"); s.Auth != "anonymous" || strings.Join(s.SessionFlags, ",") != "null" {
		t.Fatalf("anonymous: %+v", s)
	}
}

// TestFileLifecycle: tree connect to ADMIN$, a file created and written
// (one multi-credit WRITE), read, renamed, deleted, closed, the tree
// disconnected; READ/WRITE are aggregated, never one record each.
func TestFileLifecycle(t *testing.T) {
	p := newParser(t, Config{})
	f := fid(1)
	big := make([]byte, 200000)
	chunks := append(logon("clinadmin", statusSuccess),
		c(cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 3, sessionID: sid, body: treeConnectReq(`\\10.0.0.2\ADMIN$`)})),
		c(srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 3, sessionID: sid, treeID: 5, body: treeConnectResp(1, 0)})),
		c(cli, msg2(pdu2{cmd: cmdCreate, msgID: 4, sessionID: sid, treeID: 5, body: createReq(`Temp\svc_update.exe`, 5, 0x40, 0x0012019f)})),
		c(srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 4, sessionID: sid, treeID: 5, body: createResp(2, f, 0, 0x20)})),
		c(cli, msg2(pdu2{cmd: cmdWrite, msgID: 5, sessionID: sid, treeID: 5, creditCharge: 4, body: writeReq(f, big)})),
		c(srv, msg2(pdu2{cmd: cmdWrite, resp: true, msgID: 5, sessionID: sid, treeID: 5, body: writeResp(uint32(len(big)))})),
		c(cli, msg2(pdu2{cmd: cmdWrite, msgID: 9, sessionID: sid, treeID: 5, body: writeReq(f, []byte("tail"))})),
		c(srv, msg2(pdu2{cmd: cmdWrite, resp: true, msgID: 9, sessionID: sid, treeID: 5, body: writeResp(4)})),
		c(cli, msg2(pdu2{cmd: cmdRead, msgID: 10, sessionID: sid, treeID: 5, body: readReq(f, 100)})),
		c(srv, msg2(pdu2{cmd: cmdRead, resp: true, msgID: 10, sessionID: sid, treeID: 5, body: readResp(make([]byte, 100))})),
		c(cli, msg2(pdu2{cmd: cmdSetInfo, msgID: 11, sessionID: sid, treeID: 5, body: setInfoReq(f, 10, renameInfo(`Temp\svc.exe.locked`))})),
		c(srv, msg2(pdu2{cmd: cmdSetInfo, resp: true, msgID: 11, sessionID: sid, treeID: 5, body: setInfoResp()})),
		c(cli, msg2(pdu2{cmd: cmdSetInfo, msgID: 12, sessionID: sid, treeID: 5, body: setInfoReq(f, 13, []byte{1})})),
		c(srv, msg2(pdu2{cmd: cmdSetInfo, resp: true, msgID: 12, sessionID: sid, treeID: 5, body: setInfoResp()})),
		c(cli, msg2(pdu2{cmd: cmdClose, msgID: 13, sessionID: sid, treeID: 5, body: closeReq(f)})),
		c(srv, msg2(pdu2{cmd: cmdClose, resp: true, msgID: 13, sessionID: sid, treeID: 5, body: closeResp()})),
		c(cli, msg2(pdu2{cmd: cmdTreeDisconnect, msgID: 14, sessionID: sid, treeID: 5, body: treeDisconnect()})),
		c(srv, msg2(pdu2{cmd: cmdTreeDisconnect, resp: true, msgID: 14, sessionID: sid, treeID: 5, body: treeDisconnect()})),
	)
	recs := feed(t, p, "445", chunks...)
	tc := one(t, recs, "smb2_tree_connect")
	if tc.Share != `\\10.0.0.2\ADMIN$` || tc.ShareType != "disk" || tc.TreeID != 5 || tc.User != "clinadmin" || tc.Status != "STATUS_SUCCESS" {
		t.Fatalf("tree connect: %+v", tc)
	}
	cr := one(t, recs, "smb2_create")
	if cr.FileName != `Temp\svc_update.exe` || cr.Disposition != "overwrite_if" || cr.CreateAction != "created" ||
		cr.Share != `\\10.0.0.2\ADMIN$` || cr.User != "clinadmin" || strings.Join(cr.Access, ",") != "read,write,append" {
		t.Fatalf("create: %+v", cr)
	}
	rn := one(t, recs, "smb2_rename")
	if rn.FileName != `Temp\svc_update.exe` || rn.NewName != `Temp\svc.exe.locked` || rn.Outcome != "success" {
		t.Fatalf("rename: %+v", rn)
	}
	dl := one(t, recs, "smb2_delete")
	if dl.FileName != `Temp\svc.exe.locked` || !dl.Deleted {
		t.Fatalf("delete: %+v", dl)
	}
	cl := one(t, recs, "smb2_close")
	if cl.Writes != 2 || cl.BytesWritten != 200004 || cl.Reads != 1 || cl.BytesRead != 100 || !cl.Deleted || cl.CreditCharge != 4 {
		t.Fatalf("close: %+v", cl)
	}
	td := one(t, recs, "smb2_tree_disconnect")
	if td.Opens != 1 || td.Writes != 2 || td.BytesWritten != 200004 || td.Reads != 1 {
		t.Fatalf("tree disconnect: %+v", td)
	}
	if n := len(smbRecs(recs, "")); n != 8 {
		t.Fatalf("%d smb records, want 8 (no record per READ/WRITE)", n)
	}
	prototest.CheckRobust(t, anyMatch{p}, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:445"), false, chunks...)
}

// TestCompoundRelated: CREATE + READ + CLOSE in one compound, the READ and
// CLOSE naming the file by the all-0xFF related FileId.
func TestCompoundRelated(t *testing.T) {
	p := newParser(t, Config{})
	f := fid(9)
	recs := feed(t, p, "445",
		c(cli, msg2(
			pdu2{cmd: cmdCreate, msgID: 20, treeID: 1, body: createReq(`notes.txt`, 1, 0, 1)},
			pdu2{cmd: cmdRead, msgID: 21, treeID: 1, flags: flagRelated, body: readReq(related, 64)},
			pdu2{cmd: cmdClose, msgID: 22, treeID: 1, flags: flagRelated, body: closeReq(related)})),
		c(srv, msg2(
			pdu2{cmd: cmdCreate, resp: true, msgID: 20, treeID: 1, body: createResp(1, f, 5, 0x20)},
			pdu2{cmd: cmdRead, resp: true, msgID: 21, treeID: 1, flags: flagRelated, body: readResp([]byte("hello"))},
			pdu2{cmd: cmdClose, resp: true, msgID: 22, treeID: 1, flags: flagRelated, body: closeResp()})),
	)
	cr := one(t, recs, "smb2_create")
	if !cr.Compound || cr.FileName != "notes.txt" || cr.CreateAction != "opened" || cr.FileSize != 5 {
		t.Fatalf("create: %+v", cr)
	}
	cl := one(t, recs, "smb2_close")
	if cl.FileName != "notes.txt" || cl.Reads != 1 || cl.BytesRead != 5 {
		t.Fatalf("close: %+v", cl)
	}
}

// TestAsyncInterim: a STATUS_PENDING interim response does not answer the
// request; the final one does.
func TestAsyncInterim(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445",
		c(cli, msg2(pdu2{cmd: cmdCreate, msgID: 30, treeID: 1, body: createReq(`big.iso`, 1, 0, 1)})),
		c(srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 30, flags: flagAsync, asyncID: 77, status: statusPending, body: errorResp()})),
		c(srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 30, flags: flagAsync, asyncID: 77, status: 0xC0000043, body: errorResp()})),
	)
	cr := one(t, recs, "smb2_create")
	if cr.Status != "STATUS_SHARING_VIOLATION" || cr.Outcome != "failure" {
		t.Fatalf("create: %+v", cr)
	}
}

func TestUnanswered(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445",
		c(cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 3, body: treeConnectReq(`\\srv\C$`)})),
	)
	tc := one(t, recs, "smb2_tree_connect")
	if tc.Outcome != "unknown" || tc.Reason != "no answer" || tc.Share != `\\srv\C$` {
		t.Fatalf("unanswered: %+v", tc)
	}
}

func TestTreeConnectDenied(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445",
		c(cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 3, body: treeConnectReq(`\\srv\C$`)})),
		c(srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 3, status: 0xC0000022, body: errorResp()})),
	)
	tc := one(t, recs, "smb2_tree_connect")
	if tc.Status != "STATUS_ACCESS_DENIED" || tc.Outcome != "failure" || tc.ShareType != "" {
		t.Fatalf("denied: %+v", tc)
	}
}

func TestEncrypted(t *testing.T) {
	p := newParser(t, Config{})
	recs := feed(t, p, "445", append(logon("nurse1", statusSuccess),
		c(cli, transform(sid, 300)), c(srv, transform(sid, 120)), c(cli, transform(sid, 5000)))...)
	e := one(t, recs, "smb2_encrypted")
	if !e.Encrypted || e.SessionID != sid || e.User != "nurse1" {
		t.Fatalf("encrypted: %+v", e)
	}
	if p.Counters().Encrypted != 3 {
		t.Fatalf("encrypted counter %d", p.Counters().Encrypted)
	}
}

// TestNetBIOS139: a NetBIOS session request and response, a keepalive,
// then SMB: on 139 as on any port.
func TestNetBIOS139(t *testing.T) {
	p := newParser(t, Config{})
	req := append([]byte{0x81, 0, 0, 68}, nbEncode("FILESRV", 0x20)...)
	req = append(req, nbEncode("WARD3-PC", 0)...)
	for _, port := range []string{"139", "13900"} {
		recs := feed(t, p, port,
			c(cli, req), c(srv, []byte{0x82, 0, 0, 0}), c(cli, []byte{0x85, 0, 0, 0}),
			c(cli, msg2(pdu2{cmd: cmdNegotiate, body: negotiateReq(0x0202, 0x0210)})),
			c(srv, msg2(pdu2{cmd: cmdNegotiate, resp: true, body: negotiateResp(0x0210, 1)})),
		)
		n := one(t, recs, "smb2_negotiate")
		if n.Dialect != "2.1" || strings.Join(n.RelatedHosts, ",") != "FILESRV,WARD3-PC" {
			t.Fatalf("port %s: %+v", port, n)
		}
	}
}

// nbEncode is RFC 1001 §14.1 first-level encoding of a NetBIOS name
// padded with spaces, with its suffix byte.
func nbEncode(name string, suffix byte) []byte {
	raw := []byte(name + strings.Repeat(" ", 15-len(name)))
	raw = append(raw, suffix)
	out := []byte{0x20}
	for _, c := range raw {
		out = append(out, 'A'+c>>4, 'A'+c&0x0f)
	}
	return append(out, 0)
}

func TestSMB1(t *testing.T) {
	p := newParser(t, Config{})
	hdr := func(cmd uint8, resp bool, status uint32, tid, uid, mid uint16) []byte {
		b := make([]byte, 32)
		copy(b, "\xffSMB")
		b[4] = cmd
		le.PutUint32(b[5:], status)
		if resp {
			b[9] = 0x80
		}
		le.PutUint16(b[10:], smb1Flags2NT|smb1Flags2Unicode)
		le.PutUint16(b[24:], tid)
		le.PutUint16(b[26:], 0xfeff)
		le.PutUint16(b[28:], uid)
		le.PutUint16(b[30:], mid)
		return b
	}
	msg := func(h []byte, words []byte, data []byte) []byte {
		b := append(h, byte(len(words)/2))
		b = append(b, words...)
		b = le.AppendUint16(b, uint16(len(data)))
		return nbt(append(b, data...))
	}
	dialects := []byte("\x02PC NETWORK PROGRAM 1.0\x00\x02LANMAN1.0\x00\x02NT LM 0.12\x00")
	// SESSION_SETUP_ANDX without extended security (13 words): empty
	// passwords and account: a null session, as WannaCry opens.
	ssWords := make([]byte, 26)
	ssWords[0] = 0xff
	tcWords := make([]byte, 8)
	tcWords[0] = 0xff
	le.PutUint16(tcWords[6:], 1)
	// 33 = header 32 + word count; data starts at 33+8+2 = 43: password
	// byte, then the path 2-aligned at 44.
	tcData := append([]byte{0}, u16le(`\\192.168.0.69\IPC$`)...)
	tcData = append(tcData, 0, 0)
	tcData = append(tcData, "?????\x00"...)
	trWords := make([]byte, 32)
	trWords[26] = 2
	le.PutUint16(trWords[28:], 0x23) // PeekNamedPipe
	trData := append([]byte{0}, u16le(`\PIPE\`)...)
	trData = append(trData, 0, 0)
	recs := feed(t, p, "445",
		c(cli, msg(hdr(0x72, false, 0, 0, 0, 1), nil, dialects)),
		c(srv, msg(hdr(0x72, true, 0, 0, 0, 1), []byte{2, 0}, nil)),
		c(cli, msg(hdr(0x73, false, 0, 0, 0, 2), ssWords, []byte{0, 0, 0, 0})),
		c(srv, msg(hdr(0x73, true, 0, 0, 2048, 2), []byte{0xff, 0, 0, 0, 0, 0}, nil)),
		c(cli, msg(hdr(0x75, false, 0, 0, 2048, 3), tcWords, tcData)),
		c(srv, msg(hdr(0x75, true, 0, 7, 2048, 3), []byte{0xff, 0, 0, 0, 1, 0}, []byte("IPC\x00"))),
		c(cli, msg(hdr(0x25, false, 0, 7, 2048, 4), trWords, trData)),
		c(srv, msg(hdr(0x25, true, 0xC0000205, 7, 2048, 4), nil, nil)),
		c(cli, msg(hdr(0x2b, false, 0, 7, 2048, 5), []byte{1, 0}, []byte("x"))),
	)
	if n := one(t, recs, "smb1_negotiate"); n.Dialect != "NT LM 0.12" || len(n.Dialects) != 3 || n.Version != "1" {
		t.Fatalf("negotiate: %+v", n)
	}
	if s := one(t, recs, "smb1_session_setup_andx"); s.Auth != "anonymous" || s.Outcome != "success" {
		t.Fatalf("session setup: %+v", s)
	}
	if tc := one(t, recs, "smb1_tree_connect_andx"); tc.Share != `\\192.168.0.69\IPC$` || tc.ShareType != "pipe" {
		t.Fatalf("tree connect: %+v", tc)
	}
	// STATUS_INSUFF_SERVER_RESOURCES to PeekNamedPipe on FID 0 is the
	// MS17-010 (EternalBlue) vulnerability probe's "vulnerable" answer.
	if tr := one(t, recs, "smb1_transaction"); tr.Subcommand != "peek_nmpipe" || tr.Status != "STATUS_INSUFF_SERVER_RESOURCES" || tr.FileName != `\PIPE\` {
		t.Fatalf("transaction: %+v", tr)
	}
	sum := one(t, recs, "smb1_summary")
	var got []string
	for _, c := range sum.Counts {
		got = append(got, c.Command+"="+itoa(c.Count))
	}
	if strings.Join(got, ",") != "transaction=2,echo=1,negotiate=2,session_setup_andx=2,tree_connect_andx=2" {
		t.Fatalf("summary: %v", got)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// TestPipeDCERPC: svcctl over a named pipe: the bind split over two
// WRITEs, its ack in a READ, CreateServiceW in two DCE/RPC fragments
// through FSCTL_PIPE_TRANSCEIVE, then StartServiceW on the handle the
// response returned.
func TestPipeDCERPC(t *testing.T) {
	p := newParser(t, Config{})
	f := fid(3)
	svcctl := "367abb81-9844-35f1-ad32-98f038001003"
	bind := rpcBind(1, svcctl, 2)
	stub := createServiceW("PSEXESVC", "PSEXESVC", `%SystemRoot%\PSEXESVC.exe`)
	frag1 := rpcRequest(2, 1, 12, stub[:60])
	frag2 := rpcRequest(2, 2, 12, stub[60:])
	handle := []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	csResp := append(le.AppendUint32(nil, 0), handle...)
	csResp = le.AppendUint32(csResp, 0)
	startStub := append(append([]byte{}, handle...), 0, 0, 0, 0, 0, 0, 0, 0)
	ctl := uint32(fsctlPipeTransceive)
	recs := feed(t, p, "445", append(logon("admin", statusSuccess),
		c(cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 3, sessionID: sid, body: treeConnectReq(`\\dc1\IPC$`)})),
		c(srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 3, sessionID: sid, treeID: 1, body: treeConnectResp(2, 0)})),
		c(cli, msg2(pdu2{cmd: cmdCreate, msgID: 4, sessionID: sid, treeID: 1, body: createReq(`svcctl`, 1, 0, 0x12019f)})),
		c(srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 4, sessionID: sid, treeID: 1, body: createResp(1, f, 0, 0x80)})),
		c(cli, msg2(pdu2{cmd: cmdWrite, msgID: 5, sessionID: sid, treeID: 1, body: writeReq(f, bind[:30])})),
		c(srv, msg2(pdu2{cmd: cmdWrite, resp: true, msgID: 5, sessionID: sid, treeID: 1, body: writeResp(30)})),
		c(cli, msg2(pdu2{cmd: cmdWrite, msgID: 6, sessionID: sid, treeID: 1, body: writeReq(f, bind[30:])})),
		c(srv, msg2(pdu2{cmd: cmdWrite, resp: true, msgID: 6, sessionID: sid, treeID: 1, body: writeResp(uint32(len(bind) - 30))})),
		c(cli, msg2(pdu2{cmd: cmdRead, msgID: 7, sessionID: sid, treeID: 1, body: readReq(f, 1024)})),
		c(srv, msg2(pdu2{cmd: cmdRead, resp: true, msgID: 7, sessionID: sid, treeID: 1, body: readResp(rpcBindAck(1))})),
		c(cli, msg2(pdu2{cmd: cmdWrite, msgID: 8, sessionID: sid, treeID: 1, body: writeReq(f, frag1)})),
		c(srv, msg2(pdu2{cmd: cmdWrite, resp: true, msgID: 8, sessionID: sid, treeID: 1, body: writeResp(uint32(len(frag1)))})),
		c(cli, msg2(pdu2{cmd: cmdIoctl, msgID: 9, sessionID: sid, treeID: 1, body: ioctlReq(f, ctl, frag2)})),
		c(srv, msg2(pdu2{cmd: cmdIoctl, resp: true, msgID: 9, sessionID: sid, treeID: 1, body: ioctlResp(f, ctl, rpcResponse(2, csResp))})),
		c(cli, msg2(pdu2{cmd: cmdIoctl, msgID: 10, sessionID: sid, treeID: 1, body: ioctlReq(f, ctl, rpcRequest(3, 3, 19, startStub))})),
		c(srv, msg2(pdu2{cmd: cmdIoctl, resp: true, msgID: 10, sessionID: sid, treeID: 1, body: ioctlResp(f, ctl, rpcResponse(3, []byte{0x1d, 0x04, 0, 0}))})),
		c(cli, msg2(pdu2{cmd: cmdClose, msgID: 11, sessionID: sid, treeID: 1, body: closeReq(f)})),
		c(srv, msg2(pdu2{cmd: cmdClose, resp: true, msgID: 11, sessionID: sid, treeID: 1, body: closeResp()})),
	)...)
	b := one(t, recs, "dcerpc_bind")
	if b.RPC.Interface != "svcctl" || b.RPC.UUID != svcctl || b.RPC.Version != 2 || b.RPC.Result != "accepted" ||
		b.RPC.Pipe != "svcctl" || b.User != "admin" || b.Share != `\\dc1\IPC$` || b.Outcome != "success" {
		t.Fatalf("bind: %+v %+v", b, b.RPC)
	}
	calls := smbRecs(recs, "dcerpc_call")
	if len(calls) != 2 {
		t.Fatalf("%d calls:\n%s", len(calls), prototest.NDJSON(recs))
	}
	cs := calls[0].RPC
	if cs.Operation != "CreateServiceW" || cs.Opnum != 12 || cs.Fragments != 2 || cs.Args.ServiceName != "PSEXESVC" ||
		cs.Args.DisplayName != "PSEXESVC" || cs.Args.BinaryPath != `%SystemRoot%\PSEXESVC.exe` || cs.ReturnCode != "0x00000000" {
		t.Fatalf("CreateServiceW: %+v", cs)
	}
	ss := calls[1].RPC
	if ss.Operation != "StartServiceW" || ss.Args.ServiceName != "PSEXESVC" || ss.ReturnCode != "0x0000041d" {
		t.Fatalf("StartServiceW: %+v", ss)
	}
}

// TestGapResync: a gap inside a message loses that message only; the
// stream resynchronises at the next SMB header.
func TestGapResync(t *testing.T) {
	p := newParser(t, Config{})
	tc := msg2(pdu2{cmd: cmdTreeConnect, msgID: 3, body: treeConnectReq(`\\srv\lost$`)})
	recs := feed(t, p, "445",
		c(cli, tc[:20]), prototest.Chunk{Dir: cli, Gap: 30}, c(cli, tc[50:]),
		c(srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 3, treeID: 1, body: treeConnectResp(1, 0)})),
		c(cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 4, body: treeConnectReq(`\\srv\found$`)})),
		c(srv, msg2(pdu2{cmd: cmdTreeConnect, resp: true, msgID: 4, treeID: 2, body: treeConnectResp(1, 0)})),
	)
	tcs := smbRecs(recs, "smb2_tree_connect")
	if len(tcs) != 1 || tcs[0].Share != `\\srv\found$` || !strings.Contains(strings.Join(tcs[0].Anomalies, ","), anomGap) {
		t.Fatalf("after gap: %s", prototest.NDJSON(recs))
	}
	// A gap inside skipped WRITE data loses nothing.
	f := fid(2)
	w := msg2(pdu2{cmd: cmdWrite, msgID: 8, treeID: 1, body: writeReq(f, make([]byte, 5000))})
	recs = feed(t, p, "445",
		c(cli, msg2(pdu2{cmd: cmdCreate, msgID: 7, treeID: 1, body: createReq(`a.bin`, 2, 0, 2)})),
		c(srv, msg2(pdu2{cmd: cmdCreate, resp: true, msgID: 7, treeID: 1, body: createResp(2, f, 0, 0x20)})),
		c(cli, w[:1000]), prototest.Chunk{Dir: cli, Gap: 3000}, c(cli, w[4000:]),
		c(srv, msg2(pdu2{cmd: cmdWrite, resp: true, msgID: 8, treeID: 1, body: writeResp(5000)})),
		c(cli, msg2(pdu2{cmd: cmdClose, msgID: 9, treeID: 1, body: closeReq(f)})),
		c(srv, msg2(pdu2{cmd: cmdClose, resp: true, msgID: 9, treeID: 1, body: closeResp()})),
	)
	if cl := one(t, recs, "smb2_close"); cl.BytesWritten != 5000 || len(cl.Anomalies) != 0 {
		t.Fatalf("close after gap in data: %+v", cl)
	}
}

func TestMalformed(t *testing.T) {
	p := newParser(t, Config{})
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*7 + 1)
	}
	chunks := []prototest.Chunk{c(cli, msg2(pdu2{cmd: cmdNegotiate, body: negotiateReq(0x0202)}))}
	// A bad NetBIOS type loses sync; then nothing that looks like SMB.
	chunks = append(chunks, c(cli, []byte{0x42, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}))
	for range 20 {
		chunks = append(chunks, c(cli, junk))
	}
	_, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:445"), chunks...)
	if err == nil || proto.Reason(err) != "not smb" {
		t.Fatalf("err %v, want malformed: not smb", err)
	}
	// A NextCommand pointing outside the message is noted, not followed.
	bad := msg2(pdu2{cmd: cmdEcho, body: []byte{4, 0, 0, 0}}, pdu2{cmd: cmdEcho, body: []byte{4, 0, 0, 0}})
	le.PutUint32(bad[4+20:], 4000)
	recs := feed(t, p, "445", c(cli, bad),
		c(cli, msg2(pdu2{cmd: cmdTreeConnect, msgID: 3, body: treeConnectReq(`\\srv\x`)})))
	if tc := one(t, recs, "smb2_tree_connect"); !strings.Contains(strings.Join(tc.Anomalies, ","), anomBadCompound) {
		t.Fatalf("bad compound: %+v", tc)
	}
}

// anyMatch lets CheckRobust's 1-byte resegmentation reach the session:
// the dispatcher calls Match once, on the first segment, and Match needs
// 8 bytes; Match has its own test.
type anyMatch struct{ *Parser }

func (anyMatch) Match(*flow.Info, flow.Dir, []byte) bool { return true }

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{MaxMessage: 10, MaxPending: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "max_message") || !strings.Contains(err.Error(), "max_pending") {
		t.Fatalf("validate: %v", err)
	}
	if _, err := New(Config{MaxFiles: -5}); err == nil {
		t.Fatal("New accepted a bad config")
	}
	p := newParser(t, Config{})
	if p.cfg != DefaultConfig() || p.Name() != "smb" || p.StreamLimit() != 0 {
		t.Fatalf("defaults: %+v", p.cfg)
	}
}
