package smb

import (
	"strconv"
	"strings"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/internal/dcerpc"
)

// Dataset is the ECS dataset of SMB records.
const Dataset = "mamori.smb"

// Record is one SMB event: a negotiation, a logon, a tree connect, a file
// opened/closed/renamed/deleted (with its READ/WRITE totals), a tree's
// totals at disconnect, an encrypted session, an SMB1 command, or a
// DCE/RPC bind or call over a named pipe. Which fields are set depends on
// Command and Action.
type Record struct {
	event.Base
	// Version is the dialect: "1" for SMB1, "2.0.2" … "3.1.1" once
	// negotiated, "2" or "3" when only the header was seen.
	Version string
	// Command is the SMB command ("negotiate", "tree_connect", …; SMB1
	// names for SMB1) or "dcerpc".
	Command    string
	Status     string // NTSTATUS name, e.g. STATUS_LOGON_FAILURE
	HasStatus  bool
	MessageID  uint64
	SessionID  uint64
	TreeID     uint32
	Share      string // \\server\share
	ShareType  string // disk, pipe, print
	ShareFlags []string

	User, Domain, Workstation string
	// Auth is how the session authenticated: ntlm, kerberos, anonymous,
	// guest, unknown.
	Auth         string
	SessionFlags []string

	Dialects        []string // offered by the client
	Dialect         string   // chosen by the server
	SigningRequired bool

	FileName     string // path inside the share
	FileSize     uint64
	HasSize      bool
	Directory    bool
	Disposition  string
	CreateAction string
	Access       []string
	NewName      string
	Deleted      bool
	Opens        uint64 // tree totals
	Reads        uint64
	Writes       uint64
	BytesRead    uint64
	BytesWritten uint64

	Encrypted    bool
	Compound     bool
	CreditCharge uint16
	Subcommand   string // SMB1 TRANSACTION2 subcommand or pipe function
	Counts       []CommandCount

	// RPC is set on DCE/RPC records.
	RPC *RPC

	Anomalies []string
}

// CommandCount is how often an SMB1 command was seen on a flow.
type CommandCount struct {
	Command string
	Count   uint64
}

// RPC are the DCE/RPC fields of a record.
type RPC struct {
	Pipe       string // named pipe, e.g. svcctl
	Interface  string
	UUID       string
	Version    uint16
	UUIDs      []string
	Opnum      int32 // -1 on binds
	Operation  string
	Result     string // accepted, rejected, response, fault, "" (no answer)
	Fault      string
	ReturnCode string
	AuthLevel  string
	Fragments  int
	Args       dcerpc.Args
}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, r.body)
}

func (r *Record) body(w *event.JSON) {
	if r.User != "" || r.Domain != "" {
		w.Object("user")
		w.StringIf("name", r.User)
		w.StringIf("domain", r.Domain)
		w.End()
	}
	if r.FileName != "" {
		w.Object("file")
		name, dir := r.FileName, ""
		if i := strings.LastIndexByte(name, '\\'); i >= 0 {
			dir, name = name[:i], name[i+1:]
		}
		w.StringIf("name", name)
		if r.Share != "" {
			// Share\dir and Share\FileName written in parts: no
			// concatenated string per record.
			if dir != "" {
				joined(w, "directory", r.Share, dir)
			} else {
				w.String("directory", r.Share)
			}
			joined(w, "path", r.Share, r.FileName)
		} else {
			w.StringIf("directory", dir)
			w.String("path", r.FileName)
		}
		if i := strings.LastIndexByte(name, '.'); i > 0 && i < len(name)-1 && !r.Directory {
			w.String("extension", name[i+1:])
		}
		if r.HasSize {
			w.Uint("size", r.FileSize)
		}
		if r.Directory {
			w.String("type", "dir")
		} else {
			w.String("type", "file")
		}
		w.End()
	}
	w.Object("mamori")
	w.Object("smb")
	w.StringIf("version", r.Version)
	w.StringIf("command", r.Command)
	if r.HasStatus {
		w.String("status", r.Status)
	}
	if r.MessageID != 0 || r.Command == "negotiate" {
		w.Uint("message_id", r.MessageID)
	}
	if r.SessionID != 0 {
		// As w.String("session_id", hex64(r.SessionID)), without the
		// string: hex digits need no escaping.
		w.String("session_id", "")
		w.B = appendHex64(w.B[:len(w.B)-1], r.SessionID)
		w.B = append(w.B, '"')
	}
	if r.TreeID != 0 {
		w.Uint("tree_id", uint64(r.TreeID))
	}
	w.StringIf("share", r.Share)
	w.StringIf("share_type", r.ShareType)
	if len(r.ShareFlags) > 0 {
		w.Strings("share_flags", r.ShareFlags...)
	}
	w.StringIf("auth", r.Auth)
	w.StringIf("workstation", r.Workstation)
	if len(r.SessionFlags) > 0 {
		w.Strings("session_flags", r.SessionFlags...)
	}
	if len(r.Dialects) > 0 {
		w.Strings("dialects", r.Dialects...)
	}
	w.StringIf("dialect", r.Dialect)
	if r.SigningRequired {
		w.Bool("signing_required", true)
	}
	w.StringIf("disposition", r.Disposition)
	w.StringIf("create_action", r.CreateAction)
	if len(r.Access) > 0 {
		w.Strings("access", r.Access...)
	}
	w.StringIf("new_name", r.NewName)
	if r.Deleted {
		w.Bool("deleted", true)
	}
	if r.Opens > 0 {
		w.Uint("opens", r.Opens)
	}
	if r.Reads > 0 || r.Writes > 0 {
		w.Uint("reads", r.Reads)
		w.Uint("writes", r.Writes)
		w.Uint("bytes_read", r.BytesRead)
		w.Uint("bytes_written", r.BytesWritten)
	}
	if r.Encrypted {
		w.Bool("encrypted", true)
	}
	if r.Compound {
		w.Bool("compound", true)
	}
	if r.CreditCharge > 1 {
		w.Uint("credit_charge", uint64(r.CreditCharge))
	}
	w.StringIf("subcommand", r.Subcommand)
	if len(r.Counts) > 0 {
		w.Object("smb1_commands")
		for _, c := range r.Counts {
			w.Uint(c.Command, c.Count) // command names are constant ASCII
		}
		w.End()
	}
	if len(r.Anomalies) > 0 {
		w.Strings("anomalies", r.Anomalies...)
	}
	w.End()
	if p := r.RPC; p != nil {
		w.Object("dcerpc")
		w.StringIf("pipe", p.Pipe)
		w.StringIf("interface", p.Interface)
		w.StringIf("uuid", p.UUID)
		if p.UUID != "" {
			w.Uint("version", uint64(p.Version))
		}
		if len(p.UUIDs) > 1 {
			w.Strings("uuids", p.UUIDs...)
		}
		if p.Opnum >= 0 {
			w.Uint("opnum", uint64(p.Opnum))
		}
		w.StringIf("operation", p.Operation)
		w.StringIf("result", p.Result)
		w.StringIf("fault", p.Fault)
		w.StringIf("return_code", p.ReturnCode)
		w.StringIf("auth_level", p.AuthLevel)
		if p.Fragments > 1 {
			w.Uint("fragments", uint64(p.Fragments))
		}
		a := &p.Args
		w.StringIf("service_name", a.ServiceName)
		w.StringIf("display_name", a.DisplayName)
		w.StringIf("binary_path", a.BinaryPath)
		w.StringIf("command", a.Command)
		w.StringIf("task_path", a.TaskPath)
		w.StringIf("registry_key", a.RegistryKey)
		w.StringIf("value_name", a.ValueName)
		w.End()
	}
	w.End()
}

// joined writes k: a + `\` + b as w.String would, without building the
// string. JSON quoting is byte-local except for UTF-8 sequences, and none
// can span the ASCII backslash between the parts, so quoting each part
// gives the same bytes as quoting the whole.
func joined(w *event.JSON, k, a, b string) {
	w.String(k, "")
	w.B = w.B[:len(w.B)-1] // "k":"
	w.B = appendQuotedInner(w.B, a)
	w.B = append(w.B, `\\`...)
	w.B = appendQuotedInner(w.B, b)
	w.B = append(w.B, '"')
}

// appendQuotedInner appends s quoted, without the quotes.
func appendQuotedInner(b []byte, s string) []byte {
	n := len(b)
	b = event.AppendQuoted(b, s)
	copy(b[n:], b[n+1:len(b)-1])
	return b[:len(b)-2]
}

// appendHex64 appends hex64(v).
func appendHex64(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	b = append(b, '0', 'x')
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}

func hex64(v uint64) string {
	return "0x" + leftPad(strconv.FormatUint(v, 16), 16)
}

func hex32(v uint32) string {
	return "0x" + leftPad(strconv.FormatUint(uint64(v), 16), 8)
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}
