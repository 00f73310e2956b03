package smblateral

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
	"mamori/rules/rulestest"
)

const site = `
timezone: Asia/Tokyo
servers:
  domain_controller: [10.10.0.10, 10.10.0.11]
  file_server: [10.10.0.20]
  backup: [10.10.0.50]
admins: [10.10.5.5]
`

var (
	jst = time.FixedZone("JST", 9*3600)
	t0  = time.Date(2026, 4, 8, 12, 0, 0, 0, jst)
)

func newDet(t *testing.T, cfg Config, base baseline.View) *Detector {
	t.Helper()
	d, err := New(cfg, rulestest.Site(t, site), base)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// smbRec stands in for pipeline/proto/smb's record: the rule sees it only
// through event.Base and the Tree, File and RPC accessors.
type smbRec struct {
	event.Base
	tree, status             string
	op, share, name, newName string
	pipe, call               string
}

func (r *smbRec) Dataset() string                               { return "mamori.smb" }
func (r *smbRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *smbRec) SMBTree() (string, string)                     { return r.tree, r.status }
func (r *smbRec) SMBFile() (string, string, string, string)     { return r.op, r.share, r.name, r.newName }
func (r *smbRec) DCERPC() (string, string)                      { return r.pipe, r.call }

func rec(src, dst string, at time.Time) *smbRec {
	r := &smbRec{}
	r.Source = netip.AddrPortFrom(netip.MustParseAddr(src), 50000)
	r.Destination = netip.AddrPortFrom(netip.MustParseAddr(dst), 445)
	r.Transport, r.Protocol, r.Timestamp = 6, "smb", at
	r.RelatedUsers = []string{"clinadmin"}
	return r
}

func treeConnect(src, dst, share string, at time.Time) event.Record {
	r := rec(src, dst, at)
	r.tree, r.status = `\\`+dst+`\`+share, "STATUS_SUCCESS"
	return r
}

func fileOp(src, dst, share, op, name, newName string, at time.Time) event.Record {
	r := rec(src, dst, at)
	r.op, r.share, r.name, r.newName = op, `\\`+dst+`\`+share, name, newName
	return r
}

func rpcCall(src, dst, pipe, call string, at time.Time) event.Record {
	r := rec(src, dst, at)
	r.pipe, r.call = pipe, call
	return r
}

func smbFlow(src, dst string, at time.Time, opts ...rulestest.Opt) event.Record {
	return rulestest.Flow(src, dst, 445, at, opts...)
}

// psexec is PsExec from src to dst: ADMIN$, the service binary, IPC$ and
// svcctl.
func psexec(src, dst string, at time.Time) []event.Record {
	return []event.Record{
		treeConnect(src, dst, "IPC$", at),
		treeConnect(src, dst, "ADMIN$", at.Add(10*time.Millisecond)),
		fileOp(src, dst, "ADMIN$", "create", `PSEXESVC.exe`, "", at.Add(20*time.Millisecond)),
		fileOp(src, dst, "ADMIN$", "write", `PSEXESVC.exe`, "", at.Add(30*time.Millisecond)),
		rpcCall(src, dst, "svcctl", "OpenSCManagerW", at.Add(40*time.Millisecond)),
		rpcCall(src, dst, "svcctl", "CreateServiceW", at.Add(50*time.Millisecond)),
		rpcCall(src, dst, "svcctl", "StartServiceW", at.Add(60*time.Millisecond)),
		smbFlow(src, dst, at, rulestest.Dur(5*time.Second)),
	}
}

// logon is a workstation's ordinary logon: SYSVOL and NETLOGON on both
// domain controllers, the home share on the file server.
func logon(ws string, at time.Time) []event.Record {
	var recs []event.Record
	for i, dc := range []string{"10.10.0.10", "10.10.0.11"} {
		at := at.Add(time.Duration(i) * time.Second)
		recs = append(recs, treeConnect(ws, dc, "IPC$", at), treeConnect(ws, dc, "SYSVOL", at), treeConnect(ws, dc, "NETLOGON", at),
			fileOp(ws, dc, "SYSVOL", "create", `contoso.local\Policies\{31B2F340}\gpt.ini`, "", at), smbFlow(ws, dc, at))
	}
	recs = append(recs, treeConnect(ws, "10.10.0.20", "home$", at), smbFlow(ws, "10.10.0.20", at))
	return recs
}

func TestFindings(t *testing.T) {
	var fanout []event.Record
	for i := range 6 {
		fanout = append(fanout, smbFlow("10.10.3.21", fmt.Sprintf("10.10.3.%d", 40+i), t0.Add(time.Duration(i)*10*time.Second), rulestest.State("REJ")))
	}
	for _, tc := range []struct {
		name   string
		recs   []event.Record
		want   string // summary of the last alert
		alerts int
	}{
		{"psexec", psexec("10.10.3.21", "10.10.3.30", t0), "smb-lateral smb_remote_service smb/10.10.3.21 sev=4", 3},
		{"psexec from an admin", psexec("10.10.5.5", "10.10.3.30", t0), "", 0},
		{"admin share only", []event.Record{treeConnect("10.10.3.21", "10.10.3.30", "C$", t0)}, "smb-lateral smb_admin_share smb/10.10.3.21 sev=3", 1},
		{"logons stay silent", append(logon("10.10.3.21", t0), logon("10.10.3.22", t0)...), "", 0},
		{"fan-out to 6 new hosts", fanout, "smb-lateral smb_fanout smb/10.10.3.21 sev=3", 2},
		{"fan-out to 4 is not enough", fanout[:4], "", 0},
		{"backup server reaches everyone", func() (r []event.Record) {
			for i := range 30 {
				r = append(r, smbFlow("10.10.0.50", fmt.Sprintf("10.10.3.%d", i+1), t0.Add(time.Duration(i)*time.Second)))
			}
			return
		}(), "", 0},
		{"psexec at night to a DC", psexec("10.10.3.21", "10.10.0.10", time.Date(2026, 4, 8, 2, 30, 0, 0, jst)), "smb-lateral smb_remote_service smb/10.10.3.21 sev=4", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := rulestest.Run(newDet(t, Config{}, nil), tc.recs, 0)
			if len(alerts) != tc.alerts {
				t.Fatalf("%d alerts, want %d:\n%s", len(alerts), tc.alerts, rulestest.Summary(alerts))
			}
			if tc.want == "" {
				return
			}
			last := alerts[len(alerts)-1]
			if got := rulestest.Summary(alerts[len(alerts)-1:]); !strings.HasPrefix(got, tc.want) {
				t.Errorf("last alert %s, want %s", got, tc.want)
			}
			for _, a := range alerts {
				if a.AlertID() != last.AlertID() {
					t.Error("one source, one episode: ids differ")
				}
			}
		})
	}
}

func TestFanoutWithBaseline(t *testing.T) {
	m := baseline.New(baseline.DefaultConfig(), jst, nil)
	var obs []baseline.Obs
	for i := range 6 {
		obs = baseline.Extract(smbFlow("10.10.3.21", fmt.Sprintf("10.10.3.%d", 40+i), t0.Add(-72*time.Hour)), obs[:0])
		m.Learn(&obs[0])
	}
	var recs []event.Record
	for i := range 8 {
		recs = append(recs, smbFlow("10.10.3.21", fmt.Sprintf("10.10.3.%d", 40+i), t0.Add(time.Duration(i)*time.Second)))
	}
	// 6 of the 8 are known: 2 new targets are no fan-out.
	if alerts := rulestest.Run(newDet(t, Config{}, m), recs, 0); len(alerts) != 0 {
		t.Errorf("known targets: %s", rulestest.Summary(alerts))
	}
	// With a baseline, infrastructure servers the host never used count.
	recs = recs[:0]
	for i := range 5 {
		recs = append(recs, smbFlow("10.10.3.21", fmt.Sprintf("10.10.0.%d", 10+i), t0.Add(time.Duration(i)*time.Second)))
	}
	if alerts := rulestest.Run(newDet(t, Config{}, m), recs, 0); len(alerts) == 0 {
		t.Error("5 new servers: no alert")
	}
}

func TestRansomware(t *testing.T) {
	rename := func(n int, ext string) []event.Record {
		var recs []event.Record
		for i := range n {
			name := fmt.Sprintf(`scans\patient_letter_%03d.docx`, i)
			recs = append(recs, fileOp("10.30.1.12", "10.30.1.15", "records", "rename", name, name+"."+ext, t0.Add(time.Duration(i)*4*time.Millisecond)))
		}
		return recs
	}
	rewrite := func(n int, keep bool) []event.Record {
		var recs []event.Record
		for i := range n {
			at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
			recs = append(recs,
				fileOp("172.17.0.184", "172.17.0.189", "share2", "create", fmt.Sprintf("%02dfile.exe", i), "", at),
				fileOp("172.17.0.184", "172.17.0.189", "share2", "create", fmt.Sprintf("%02dfile.enc", i), "", at.Add(time.Millisecond)),
				fileOp("172.17.0.184", "172.17.0.189", "share2", "write", fmt.Sprintf("%02dfile.enc", i), "", at.Add(2*time.Millisecond)))
			if !keep {
				recs = append(recs, fileOp("172.17.0.184", "172.17.0.189", "share2", "delete", fmt.Sprintf("%02dfile.exe", i), "", at.Add(3*time.Millisecond)))
			}
		}
		return recs
	}
	copies := func(n int) []event.Record { // a user copying files: no extension changes
		var recs []event.Record
		for i := range n {
			at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
			recs = append(recs, fileOp("10.3.1.2", "10.3.1.1", "public", "create", fmt.Sprintf("file%02d.txt", i), "", at),
				fileOp("10.3.1.2", "10.3.1.1", "public", "write", fmt.Sprintf("file%02d.txt", i), "", at))
		}
		return recs
	}
	for _, tc := range []struct {
		name string
		recs []event.Record
		want int // alerts
	}{
		{"200 renames to .locked", rename(200, "locked"), 6}, // 10, 20, 40, 80, 160, 200
		{"9 renames", rename(9, "locked"), 0},
		{"rewritten under .enc, originals deleted", rewrite(30, false), 3}, // 10, 20, 30
		{"batch export keeping the originals", rewrite(30, true), 0},
		{"plain copies", copies(60), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := rulestest.Run(newDet(t, Config{}, nil), tc.recs, 0)
			n := 0
			for _, a := range alerts {
				if a.Action == "smb_ransomware" {
					n++
					if a.Severity != rules.Critical || a.Threat.Techniques[0].ID != "T1486" {
						t.Errorf("alert %+v", a)
					}
				}
			}
			if n != tc.want {
				t.Errorf("%d ransomware alerts, want %d:\n%s", n, tc.want, rulestest.Summary(alerts))
			}
		})
	}
}

func TestSplitExt(t *testing.T) {
	for in, want := range map[string][2]string{
		`a\b\Letter.DOCX`:            {`a\b\letter`, "docx"},
		`x.docx.locked`:              {`x.docx`, "locked"},
		`noext`:                      {`noext`, ""},
		`.hidden`:                    {`.hidden`, ""},
		`dir.d\file`:                 {`dir.d\file`, ""},
		`a.thisisaverylongextension`: {`a.thisisaverylongextension`, ""},
	} {
		if s, e := splitExt(in); s != want[0] || e != want[1] {
			t.Errorf("splitExt(%q) = %q, %q", in, s, e)
		}
	}
}

func TestGolden(t *testing.T) {
	alerts := rulestest.Run(newDet(t, Config{}, nil), psexec("10.10.3.21", "10.10.3.30", t0), 0)
	rulestest.Golden(t, filepath.Join("testdata", "golden", "crafted_psexec.alerts.ndjson"), alerts)
}
