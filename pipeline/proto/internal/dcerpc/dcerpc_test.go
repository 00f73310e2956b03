package dcerpc

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
	"unicode/utf16"
)

var le = binary.LittleEndian

// Builders of connection-oriented PDUs (C706 §12.6), little-endian.

func pdu(ptype, flags uint8, callID uint32, body []byte, auth []byte) []byte {
	b := []byte{5, 0, ptype, flags, 0x10, 0, 0, 0}
	n := 16 + len(body)
	if auth != nil {
		n += 8 + len(auth)
	}
	b = le.AppendUint16(b, uint16(n))
	if auth != nil {
		b = le.AppendUint16(b, uint16(len(auth)))
	} else {
		b = le.AppendUint16(b, 0)
	}
	b = le.AppendUint32(b, callID)
	b = append(b, body...)
	if auth != nil {
		b = append(b, 10, 6, 0, 0, 0, 0, 0, 0) // NTLMSSP, privacy
		b = append(b, auth...)
	}
	return b
}

func wire(u UUID) []byte {
	return []byte{u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]}
}

var ndr20 = MustUUID("8a885d04-1ceb-11c9-9fe8-08002b104860")

// bind offers one context per interface, each with NDR and NDR64.
func bind(callID uint32, ifaces ...UUID) []byte {
	b := []byte{0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, byte(len(ifaces)), 0, 0, 0}
	for i, u := range ifaces {
		b = le.AppendUint16(b, uint16(i))
		b = append(b, 1, 0)
		b = append(b, wire(u)...)
		b = append(b, 1, 0, 0, 0)
		b = append(b, wire(ndr20)...)
		b = append(b, 2, 0, 0, 0)
	}
	return pdu(PtypeBind, 3, callID, b, nil)
}

// bindAck answers with results (0 accept, 2 reject), accepting with syntax ts.
func bindAck(callID uint32, ts UUID, results ...uint16) []byte {
	b := []byte{0xb8, 0x10, 0xb8, 0x10, 1, 0, 0, 0, 4, 0}
	b = append(b, "135\x00"...)
	for (16+len(b))%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, byte(len(results)), 0, 0, 0)
	for _, r := range results {
		b = le.AppendUint16(b, r)
		b = le.AppendUint16(b, 0)
		b = append(b, wire(ts)...)
		b = append(b, 1, 0, 0, 0)
	}
	return pdu(PtypeBindAck, 3, callID, b, nil)
}

func request(callID uint32, flags uint8, ctx, opnum uint16, stub []byte) []byte {
	b := le.AppendUint32(nil, uint32(len(stub)))
	b = le.AppendUint16(b, ctx)
	b = le.AppendUint16(b, opnum)
	return pdu(PtypeRequest, flags, callID, append(b, stub...), nil)
}

func response(callID uint32, flags uint8, stub []byte) []byte {
	b := le.AppendUint32(nil, uint32(len(stub)))
	b = append(b, 0, 0, 0, 0)
	return pdu(PtypeResponse, flags, callID, append(b, stub...), nil)
}

func fault(callID uint32, status uint32) []byte {
	b := append(make([]byte, 8), le.AppendUint32(nil, status)...)
	return pdu(PtypeFault, 3, callID, append(b, 0, 0, 0, 0), nil)
}

func wstr(s string) []byte {
	var u []byte
	for _, c := range utf16.Encode([]rune(s + "\x00")) {
		u = le.AppendUint16(u, c)
	}
	n := uint32(len(u) / 2)
	b := le.AppendUint32(nil, n)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, n)
	b = append(b, u...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

type collect struct{ evs []Event }

func (c *collect) emit(e *Event) { c.evs = append(c.evs, *e) }

var t0 = time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)

func TestOpnumTable(t *testing.T) {
	for _, tc := range []struct {
		iface string
		op    uint16
		name  string
	}{
		{"svcctl", 12, "CreateServiceW"}, {"svcctl", 15, "OpenSCManagerW"}, {"svcctl", 19, "StartServiceW"},
		{"svcctl", 16, "OpenServiceW"}, {"svcctl", 2, "DeleteService"}, {"svcctl", 45, "CreateServiceWOW64W"},
		{"atsvc", 0, "NetrJobAdd"}, {"ITaskSchedulerService", 1, "SchRpcRegisterTask"}, {"ITaskSchedulerService", 12, "SchRpcRun"},
		{"drsuapi", 3, "DsGetNCChanges"}, {"drsuapi", 0, "DsBind"}, {"samr", 64, "SamrConnect5"},
		{"samr", 13, "SamrEnumerateUsersInDomain"}, {"lsarpc", 44, "LsarOpenPolicy2"}, {"lsarpc", 76, "LsarLookupSids3"},
		{"winreg", 22, "BaseRegSetValue"}, {"winreg", 15, "BaseRegOpenKey"}, {"srvsvc", 15, "NetrShareEnum"},
		{"srvsvc", 12, "NetrSessionEnum"}, {"netlogon", 26, "NetrServerAuthenticate3"}, {"netlogon", 30, "NetrServerPasswordSet2"},
		{"epmapper", 3, "ept_map"}, {"spoolss", 65, "RpcRemoteFindFirstPrinterChangeNotificationEx"},
		{"spoolss", 89, "RpcAddPrinterDriverEx"}, {"eventlog", 0, "ElfrClearELFW"}, {"wkssvc", 2, "NetrWkstaUserEnum"},
		{"efsrpc", 0, "EfsRpcOpenFileRaw"},
	} {
		var found *Interface
		for i := range interfaces {
			if interfaces[i].Name == tc.iface {
				found = &interfaces[i]
				break
			}
		}
		if got := found.Operation(tc.op); got != tc.name {
			t.Errorf("%s opnum %d: %q, want %q", tc.iface, tc.op, got, tc.name)
		}
	}
	seen := map[UUID]bool{}
	for _, i := range interfaces {
		if seen[i.UUID] {
			t.Errorf("duplicate uuid %s", i.UUID)
		}
		seen[i.UUID] = true
		if Lookup(i.UUID).Name != i.Name {
			t.Errorf("lookup %s", i.Name)
		}
	}
	if Lookup(MustUUID("00000000-0000-0000-0000-000000000001")) != nil {
		t.Error("unknown uuid found")
	}
}

func TestBindCallResponse(t *testing.T) {
	c := NewConn(Limits{})
	var got collect
	svcctl := MustUUID("367abb81-9844-35f1-ad32-98f038001003")
	c.Data(true, t0, bind(1, MustUUID("12345678-0000-0000-0000-000000000000"), svcctl), got.emit)
	c.Data(false, t0.Add(time.Millisecond), bindAck(1, ndr20, 2, 0), got.emit)
	stub := append(make([]byte, 20), wstr("evil")...)
	stub = append(stub, 0, 0, 2, 0)
	stub = append(stub, wstr("Evil Service")...)
	stub = append(stub, make([]byte, 16)...)
	stub = append(stub, wstr(`C:\Windows\Temp\x.exe -k`)...)
	c.Data(true, t0, request(2, 3, 1, 12, stub), got.emit)
	c.Data(false, t0, response(2, 3, append(make([]byte, 24), 0x31, 0x04, 0, 0)), got.emit)
	c.Data(true, t0, request(3, 3, 1, 19, make([]byte, 28)), got.emit)
	c.Data(false, t0, fault(3, 0x1c010003), got.emit)
	c.Data(true, t0, request(4, 3, 1, 0, make([]byte, 20)), got.emit)
	c.Flush(got.emit)
	if len(got.evs) != 4 {
		t.Fatalf("%d events: %+v", len(got.evs), got.evs)
	}
	b := got.evs[0]
	if b.Kind != KindBind || b.Result != ResultAccepted || b.Interface != "svcctl" || b.UUID != svcctl || b.Version != 1 || len(b.UUIDs) != 2 {
		t.Fatalf("bind: %+v", b)
	}
	cs := got.evs[1]
	if cs.Operation != "CreateServiceW" || cs.Args.ServiceName != "evil" || cs.Args.DisplayName != "Evil Service" ||
		cs.Args.BinaryPath != `C:\Windows\Temp\x.exe -k` || !cs.HasReturn || cs.ReturnCode != 0x431 || cs.Result != ResultResponse {
		t.Fatalf("CreateServiceW: %+v", cs)
	}
	if f := got.evs[2]; f.Result != ResultFault || f.Fault != 0x1c010003 || f.Operation != "StartServiceW" {
		t.Fatalf("fault: %+v", f)
	}
	if u := got.evs[3]; u.Result != "" || u.Operation != "CloseServiceHandle" {
		t.Fatalf("unanswered: %+v", u)
	}
}

// TestNDR64JobAdd decodes NetrJobAdd from the NDR64 stub of
// testdata/pcaps/smb/sv_20171220_smb_at_schedule.pcap (frame 9), where
// pointers and counts are 8 bytes.
func TestNDR64JobAdd(t *testing.T) {
	st, _ := hex.DecodeString("00000200000000000b0000000000000000000000000000000b000000000000005c005c00610064006d0069006e002d00700063000000000060b0ce02000000000000000000100000000002000000000010000000000000000000000000000000100000000000000063003a005c006d0069006d0069006b00610074007a002e006500780065000000")
	c := NewConn(Limits{})
	ev := Event{UUID: uuidAtsvc, Opnum: 0}
	c.decodeArgs(&ev, st, true)
	if ev.Args.Command != `c:\mimikatz.exe` {
		t.Fatalf("command %q", ev.Args.Command)
	}
	ev = Event{UUID: uuidAtsvc, Opnum: 0}
	c.decodeArgs(&ev, st, false) // read as NDR 2.0: garbage, never a panic
}

func TestTaskXML(t *testing.T) {
	xml := `<Task><Actions><Exec><Command>cmd.exe</Command><Arguments>/C whoami &gt; C:\o.txt</Arguments></Exec></Actions></Task>`
	if got := taskCommand(xml); got != `cmd.exe /C whoami > C:\o.txt` {
		t.Fatalf("%q", got)
	}
}

// TestStreaming: PDUs split anywhere, several in one chunk, a PDU longer
// than MaxPDU (skipped, its return code still read from the tail), and a
// gap that loses one PDU.
func TestStreaming(t *testing.T) {
	c := NewConn(Limits{MaxPDU: 64})
	var got collect
	svcctl := MustUUID("367abb81-9844-35f1-ad32-98f038001003")
	all := append(bind(1, svcctl), request(2, 3, 0, 6, make([]byte, 20))...)
	for i := range all {
		c.Data(true, t0, all[i:i+1], got.emit)
	}
	c.Data(false, t0, bindAck(1, ndr20, 0), got.emit)
	long := response(2, 3, append(make([]byte, 500), 0x05, 0, 0, 0))
	for i := 0; i < len(long); i += 100 {
		c.Data(false, t0, long[i:min(i+100, len(long))], got.emit)
	}
	if len(got.evs) != 2 || got.evs[1].ReturnCode != 5 || !got.evs[1].HasReturn || c.Stats.Oversize != 2 { // the 72-byte bind and the response
		t.Fatalf("events %+v stats %+v", got.evs, c.Stats)
	}
	if c.Buffered() > 64 {
		t.Fatalf("buffered %d", c.Buffered())
	}
	// A gap inside a header: resynchronised at the next chunk that starts
	// with a PDU header.
	r := request(3, 3, 0, 19, make([]byte, 28))
	c.Data(true, t0, r[:10], got.emit)
	c.Gap(true, 5)
	c.Data(true, t0, r[15:], got.emit)
	c.Data(true, t0, request(4, 3, 0, 1, make([]byte, 28)), got.emit)
	c.Data(false, t0, response(4, 3, make([]byte, 8)), got.emit)
	if last := got.evs[len(got.evs)-1]; last.Operation != "ControlService" || c.Stats.Resyncs == 0 {
		t.Fatalf("after gap: %+v %+v", last, c.Stats)
	}
}

func TestBindRejected(t *testing.T) {
	c := NewConn(Limits{})
	var got collect
	c.Data(true, t0, bind(7, MustUUID("e3514235-4b06-11d1-ab04-00c04fc2dcd2")), got.emit)
	c.Data(false, t0, bindAck(7, ndr20, 2), got.emit)
	if len(got.evs) != 1 || got.evs[0].Result != ResultRejected || got.evs[0].Interface != "drsuapi" {
		t.Fatalf("%+v", got.evs)
	}
}

func TestPendingBound(t *testing.T) {
	c := NewConn(Limits{MaxCalls: 4})
	var got collect
	for i := range 100 {
		c.Data(true, t0, request(uint32(i), 3, 0, 0, nil), got.emit)
	}
	if c.Pending() != 4 || c.Stats.Evicted != 96 || len(got.evs) != 96 || !got.evs[0].Evicted {
		t.Fatalf("pending %d stats %+v events %d", c.Pending(), c.Stats, len(got.evs))
	}
}

// FuzzConn feeds arbitrary bytes as alternating client/server chunks.
func FuzzConn(f *testing.F) {
	svcctl := MustUUID("367abb81-9844-35f1-ad32-98f038001003")
	f.Add(bind(1, svcctl), bindAck(1, ndr20, 0), request(2, 3, 0, 12, make([]byte, 80)))
	f.Add(request(2, 1, 0, 1, make([]byte, 40)), response(2, 3, nil), request(2, 2, 0, 1, make([]byte, 40)))
	f.Add(pdu(PtypeAuth3, 3, 1, make([]byte, 4), []byte("NTLMSSP\x00\x03\x00\x00\x00")), fault(1, 5), []byte{5, 0})
	f.Fuzz(func(t *testing.T, a, b, c2 []byte) {
		c := NewConn(Limits{MaxPDU: 256, MaxCalls: 4, MaxContexts: 2})
		n := 0
		emit := func(e *Event) { n++ }
		c.Data(true, t0, a, emit)
		c.Data(false, t0, b, emit)
		c.Gap(true, len(c2)%7)
		c.Data(true, t0, c2, emit)
		c.Data(true, t0, a, emit)
		c.Flush(emit)
		if c.Buffered() > 2*256 || c.Pending() > 4 || len(c.ctx) > 2 || c.stubs > 2*256 {
			t.Fatalf("bounds: %d buffered, %d pending, %d contexts, %d stub bytes", c.Buffered(), c.Pending(), len(c.ctx), c.stubs)
		}
	})
}
