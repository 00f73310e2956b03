package dcerpc

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxArg bounds every decoded argument string, in characters.
const MaxArg = 512

// ndr reads little-endian NDR (transfer syntax NDR 2.0) from a stub.
// Reads past the end set bad and return zero values.
type ndr struct {
	b   []byte
	off int
	bad bool
	n64 bool // NDR64 transfer syntax: 8-byte pointers and counts
}

// ptr reads a pointer's referent id (4 bytes, 8 in NDR64).
func (r *ndr) ptr() uint64 {
	if r.n64 {
		return r.u64()
	}
	return uint64(r.u32())
}

// count reads a conformance or variance count (4 bytes, 8 in NDR64).
func (r *ndr) count() int {
	if r.n64 {
		v := r.u64()
		if v > 1<<30 {
			r.bad = true
			return 0
		}
		return int(v)
	}
	return int(r.u32())
}

func (r *ndr) u64() uint64 {
	r.align(8)
	if r.bad || r.off+8 > len(r.b) {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *ndr) align(n int) {
	if m := r.off % n; m != 0 {
		r.off += n - m
	}
}

func (r *ndr) skip(n int) {
	r.off += n
	if r.off > len(r.b) {
		r.bad = true
	}
}

func (r *ndr) u32() uint32 {
	r.align(4)
	if r.bad || r.off+4 > len(r.b) {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *ndr) u16() uint16 {
	r.align(2)
	if r.bad || r.off+2 > len(r.b) {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

// wstring reads a conformant varying wide string (max count, offset,
// actual count, UTF-16LE units). A string cut by the end of the stub
// yields the part present (long XML task definitions).
func (r *ndr) wstring(limit int) string {
	_ = r.count() // max count
	_ = r.count() // offset
	n := r.count()
	if r.bad {
		return ""
	}
	avail := (len(r.b) - r.off) / 2
	take := min(n, avail, limit)
	u := make([]uint16, take)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(r.b[r.off+2*i:])
	}
	if n > avail {
		r.bad = true
		r.off = len(r.b)
	} else {
		r.off += 2 * n
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}

// astring reads a conformant varying 8-bit string.
func (r *ndr) astring(limit int) string {
	_ = r.count()
	_ = r.count()
	n := r.count()
	if r.bad {
		return ""
	}
	avail := len(r.b) - r.off
	take := min(n, avail, limit)
	s := strings.TrimRight(string(r.b[r.off:r.off+take]), "\x00")
	if n > avail {
		r.bad = true
		r.off = len(r.b)
	} else {
		r.off += n
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// rrpString reads an RRP_UNICODE_STRING (length, maximum length, unique
// pointer) with its deferred buffer, as a top-level parameter.
func (r *ndr) rrpString() string {
	_ = r.u16()
	_ = r.u16()
	if r.ptr() == 0 {
		return ""
	}
	return r.wstring(MaxArg)
}

// Opnums whose arguments are decoded.
const (
	opChangeServiceConfigW = 11
	opCreateServiceW       = 12
	opOpenServiceW         = 16
	opCreateServiceA       = 24
	opOpenServiceA         = 28
	opCreateServiceWOW64A  = 44
	opCreateServiceWOW64W  = 45
	opNetrJobAdd           = 0
	opSchRegisterTask      = 1
	opSchRun               = 12
	opSchDelete            = 13
	opRegCreateKey         = 6
	opRegOpenKey           = 15
	opRegSetValue          = 22
)

// svcctl opnums whose first argument is a service handle.
func serviceHandleOp(op uint16) bool {
	switch op {
	case 0, 1, 2, 6, 11, 17, 19, 37, 39, 40:
		// Close, Control, Delete, QueryStatus, ChangeConfigW, QueryConfigW,
		// StartServiceW, ChangeConfig2W, QueryConfig2W, QueryStatusEx
		return true
	}
	return false
}

// hasArgs reports whether decodeArgs reads anything of the call.
func hasArgs(u UUID, op uint16) bool {
	switch u {
	case uuidSvcctl:
		switch op {
		case opCreateServiceW, opCreateServiceA, opCreateServiceWOW64A, opCreateServiceWOW64W,
			opOpenServiceW, opOpenServiceA, opChangeServiceConfigW:
			return true
		}
		return serviceHandleOp(op)
	case uuidAtsvc:
		return op == opNetrJobAdd
	case uuidTSch:
		return op == opSchRegisterTask || op == opSchRun || op == opSchDelete
	case uuidWinreg:
		return op == opRegCreateKey || op == opRegOpenKey || op == opRegSetValue
	}
	return false
}

// decodeArgs fills ev.Args from a request stub and reports whether the
// response will carry a service handle worth remembering.
func (c *Conn) decodeArgs(ev *Event, st []byte, n64 bool) bool {
	r := &ndr{b: st, n64: n64}
	handle := false
	switch ev.UUID {
	case uuidSvcctl:
		switch ev.Opnum {
		case opCreateServiceW, opCreateServiceA, opCreateServiceWOW64W, opCreateServiceWOW64A:
			wide := ev.Opnum == opCreateServiceW || ev.Opnum == opCreateServiceWOW64W
			str := func() string {
				if wide {
					return r.wstring(MaxArg)
				}
				return r.astring(MaxArg)
			}
			r.skip(20) // SC_RPC_HANDLE of the service manager
			ev.Args.ServiceName = str()
			if r.ptr() != 0 {
				ev.Args.DisplayName = str()
			}
			r.u32() // desired access
			r.u32() // service type
			r.u32() // start type
			r.u32() // error control
			ev.Args.BinaryPath = str()
			handle = true
		case opOpenServiceW, opOpenServiceA:
			r.skip(20)
			if ev.Opnum == opOpenServiceW {
				ev.Args.ServiceName = r.wstring(MaxArg)
			} else {
				ev.Args.ServiceName = r.astring(MaxArg)
			}
			handle = true
		case opChangeServiceConfigW:
			ev.Args.ServiceName = c.serviceName(st)
			r.skip(20)
			r.u32()
			r.u32()
			r.u32()
			if r.ptr() != 0 {
				ev.Args.BinaryPath = r.wstring(MaxArg)
			}
		default:
			if serviceHandleOp(ev.Opnum) {
				ev.Args.ServiceName = c.serviceName(st)
			}
		}
	case uuidAtsvc:
		if ev.Opnum == opNetrJobAdd {
			if r.ptr() != 0 {
				r.wstring(MaxArg) // server name
			}
			// AT_INFO: JobTime (DWORD_PTR: 8 bytes in NDR64),
			// DaysOfMonth, DaysOfWeek, Flags, Command pointer; the
			// command string is deferred after the structure.
			r.ptr()
			r.u32()
			r.skip(2)
			if r.ptr() != 0 {
				ev.Args.Command = r.wstring(MaxArg)
			}
		}
	case uuidTSch:
		switch ev.Opnum {
		case opSchRegisterTask:
			if r.ptr() != 0 {
				ev.Args.TaskPath = r.wstring(MaxArg)
			}
			xml := r.wstring(len(st))
			ev.Args.Command = taskCommand(xml)
		case opSchRun, opSchDelete:
			ev.Args.TaskPath = r.wstring(MaxArg)
		}
	case uuidWinreg:
		switch ev.Opnum {
		case opRegCreateKey, opRegOpenKey:
			r.skip(20)
			ev.Args.RegistryKey = r.rrpString()
		case opRegSetValue:
			r.skip(20)
			ev.Args.ValueName = r.rrpString()
		}
	}
	ev.Args.ServiceName = clean(ev.Args.ServiceName)
	ev.Args.DisplayName = clean(ev.Args.DisplayName)
	ev.Args.BinaryPath = clean(ev.Args.BinaryPath)
	ev.Args.Command = clean(ev.Args.Command)
	ev.Args.TaskPath = clean(ev.Args.TaskPath)
	ev.Args.RegistryKey = clean(ev.Args.RegistryKey)
	ev.Args.ValueName = clean(ev.Args.ValueName)
	return handle
}

// clean bounds s to MaxArg bytes on a rune boundary and makes it valid
// UTF-8.
func clean(s string) string {
	if len(s) > MaxArg {
		i := MaxArg
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// taskCommand extracts "<Command> <Arguments>" of the first Exec action of
// a task XML, unescaping the five XML entities.
func taskCommand(xml string) string {
	cmd := element(xml, "Command")
	if cmd == "" {
		return ""
	}
	if a := element(xml, "Arguments"); a != "" {
		cmd += " " + a
	}
	return cmd
}

func element(xml, name string) string {
	i := strings.Index(xml, "<"+name+">")
	if i < 0 {
		return ""
	}
	rest := xml[i+len(name)+2:]
	j := strings.Index(rest, "</"+name+">")
	if j < 0 {
		return ""
	}
	return xmlUnescape(strings.TrimSpace(rest[:j]))
}

var xmlEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&")

func xmlUnescape(s string) string { return xmlEntities.Replace(s) }

// serviceName returns the name remembered for the service handle that
// starts st.
func (c *Conn) serviceName(st []byte) string {
	if len(st) < 20 {
		return ""
	}
	for i := 0; i < c.nhandles; i++ {
		if string(c.handles[i].h[:]) == string(st[:20]) {
			return c.handles[i].name
		}
	}
	return ""
}

// rememberHandle stores the service handle returned by CreateServiceW/A
// or OpenServiceW/A under the service's name (a small ring).
func (c *Conn) rememberHandle(ev *Event, st []byte, n64 bool) {
	if ev.Args.ServiceName == "" {
		return
	}
	off := 0
	switch ev.Opnum {
	case opCreateServiceW, opCreateServiceA, opCreateServiceWOW64A, opCreateServiceWOW64W:
		// [unique] LPDWORD lpdwTagId, then the handle.
		r := &ndr{b: st, n64: n64}
		if r.ptr() != 0 {
			r.u32()
		}
		if r.bad {
			return
		}
		off = r.off
	}
	if off+20 > len(st) {
		return
	}
	var h handleName
	copy(h.h[:], st[off:off+20])
	h.name = ev.Args.ServiceName
	if c.nhandles < len(c.handles) {
		c.handles[c.nhandles] = h
		c.nhandles++
		return
	}
	copy(c.handles[:], c.handles[1:])
	c.handles[len(c.handles)-1] = h
}
