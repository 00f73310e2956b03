package smb

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto/internal/ntlm"
)

// SMB1 (MS-CIFS, MS-SMB) is obsolete and disabled on current Windows;
// seeing it at all is a finding (WannaCry, EternalBlue, old devices). The
// parser reports the notable commands — NEGOTIATE, SESSION_SETUP_ANDX,
// TREE_CONNECT_ANDX, NT_CREATE_ANDX, TRANSACTION, TRANSACTION2,
// NT_TRANSACT, DELETE, RENAME — one record each with their status, and a
// per-flow summary of every command's count at the end.

const (
	smb1Negotiate     = 0x72
	smb1SessionSetup  = 0x73
	smb1TreeConnect   = 0x75
	smb1NTCreate      = 0xA2
	smb1Trans         = 0x25
	smb1Trans2        = 0x32
	smb1NTTrans       = 0xA0
	smb1Delete        = 0x06
	smb1Rename        = 0x07
	smb1LogoffAndX    = 0x74
	smb1Close         = 0x04
	smb1ReadAndX      = 0x2E
	smb1WriteAndX     = 0x2F
	smb1Flags2Unicode = 0x8000
	smb1Flags2NT      = 0x4000
	smb1Flags2ExtSec  = 0x0800
)

type smb1State struct {
	counts      [256]uint64
	total       uint64
	first       time.Time
	pending     map[uint64]*smb1Req
	users       map[uint16]smb1User
	trees       map[uint16]smb1Tree
	files       map[uint16]*file
	negDialects []string
	negTS       time.Time
	negAnswered bool
}

type smb1User struct{ user, domain string }

type smb1Tree struct {
	path      string
	shareType string
}

type smb1Req struct {
	cmd      uint8
	ts       time.Time
	tid, uid uint16
	mid      uint16
	name     string
	sub      string
	dialects []string
	auth     ntlm.Message
	hasAuth  bool
	plainU   string
	plainD   string
	version  string
	mech     string
	fid      uint16
}

type smb1Header struct {
	cmd     uint8
	status  uint32
	flags   uint8
	flags2  uint16
	pid     uint32
	tid     uint16
	uid     uint16
	mid     uint16
	unicode bool
}

func (h *smb1Header) key() uint64 { return uint64(h.mid) | uint64(h.pid)<<16 }

func (s *session) smb1Message(dir flow.Dir, ts time.Time, b []byte, total int) {
	s.p.c.smb1.Add(1)
	if s.smb1 == nil {
		s.smb1 = &smb1State{first: ts, pending: make(map[uint64]*smb1Req), users: make(map[uint16]smb1User),
			trees: make(map[uint16]smb1Tree), files: make(map[uint16]*file)}
	}
	st := s.smb1
	if len(b) < 33 {
		s.note(anomShortPDU)
		return
	}
	h := smb1Header{
		cmd: b[4], status: le32(b[5:]), flags: b[9], flags2: le16(b[10:]),
		pid: uint32(le16(b[12:]))<<16 | uint32(le16(b[26:])),
		tid: le16(b[24:]), uid: le16(b[28:]), mid: le16(b[30:]),
	}
	h.unicode = h.flags2&smb1Flags2Unicode != 0
	st.counts[h.cmd]++
	st.total++
	// Walk the AndX chain (MS-CIFS §2.2.3.4) of the commands that have one.
	off := 32
	cmd := h.cmd
	for i := 0; i < 8; i++ {
		if off >= len(b) {
			return
		}
		wc := int(b[off])
		wEnd := off + 1 + 2*wc
		if wEnd+2 > len(b) {
			s.note(anomShortPDU)
			return
		}
		words := b[off+1 : wEnd]
		bc := int(le16(b[wEnd:]))
		data := b[wEnd+2 : min(wEnd+2+bc, len(b))]
		hc := h
		hc.cmd = cmd
		if h.flags&0x80 != 0 {
			s.smb1Response(ts, &hc, b, words, data)
		} else {
			s.smb1Request(ts, &hc, b, words, data, wEnd+2)
		}
		if !andx(cmd) || len(words) < 4 || words[0] == 0xFF {
			return
		}
		next := int(le16(words[2:]))
		if next <= off || next >= len(b) {
			return
		}
		cmd, off = words[0], next
		if i > 0 {
			st.counts[cmd]++
		}
	}
}

func andx(c uint8) bool {
	switch c {
	case 0x24, 0x2D, 0x2E, 0x2F, 0x73, 0x74, 0x75, 0xA2:
		return true
	}
	return false
}

func smb1Notable(c uint8) bool {
	switch c {
	case smb1Negotiate, smb1SessionSetup, smb1TreeConnect, smb1NTCreate, smb1Trans, smb1Trans2, smb1NTTrans, smb1Delete, smb1Rename:
		return true
	}
	return false
}

// smb1String reads a NUL-terminated string at off in msg (unicode strings
// are 2-aligned from the SMB header start), bounded by maxName.
func smb1String(msg []byte, off int, unicode bool) (string, int) {
	if off < 0 || off > len(msg) {
		return "", len(msg)
	}
	if unicode {
		if off%2 == 1 {
			off++
		}
		var u []uint16
		i := off
		for ; i+1 < len(msg); i += 2 {
			c := le16(msg[i:])
			if c == 0 {
				i += 2
				break
			}
			if len(u) < maxName/2 {
				u = append(u, c)
			}
		}
		out := make([]byte, 0, len(u))
		for _, r := range utf16.Decode(u) {
			out = utf8.AppendRune(out, r)
		}
		return string(out), i
	}
	end := bytes.IndexByte(msg[off:], 0)
	next := 0
	if end < 0 {
		end = len(msg) - off
		next = len(msg)
	} else {
		next = off + end + 1
	}
	v := msg[off : off+min(end, maxName)]
	return strings.ToValidUTF8(string(v), "\uFFFD"), next
}

// smb1Pipe returns the tracked pipe of FID fid.
func (st *smb1State) pipe(fid uint16) *file {
	if f := st.files[fid]; f != nil && f.pipe {
		return f
	}
	return nil
}

// smb1Data returns the n bytes at off (from the SMB header) of msg, as far
// as they were buffered.
func smb1Data(msg []byte, off, n int) []byte {
	if off < 32 || off >= len(msg) || n <= 0 {
		return nil
	}
	return msg[off:min(off+n, len(msg))]
}

func (s *session) smb1Request(ts time.Time, h *smb1Header, msg, words, data []byte, dataOff int) {
	st := s.smb1
	switch h.cmd {
	case smb1WriteAndX:
		// FID, offset, …, DataLength (high word at 18), DataOffset.
		if len(words) >= 24 {
			if f := st.pipe(le16(words[4:])); f != nil {
				n := int(le16(words[20:])) | int(le16(words[18:]))<<16
				s.pipeData2(f, true, ts, smb1Data(msg, int(le16(words[22:])), n), n)
			}
		}
		return
	case smb1ReadAndX:
		if len(words) >= 6 && st.pipe(le16(words[4:])) != nil {
			s.smb1Pending(h, &smb1Req{cmd: h.cmd, ts: ts, tid: h.tid, uid: h.uid, mid: h.mid, fid: le16(words[4:])})
		}
		return
	case smb1Close:
		if len(words) >= 2 {
			if f := st.files[le16(words)]; f != nil {
				delete(st.files, f.id16())
				if f.rpc != nil {
					s.rpcFlush(f)
					s.pipes--
				}
			}
		}
		return
	}
	if !smb1Notable(h.cmd) {
		return
	}
	r := &smb1Req{cmd: h.cmd, ts: ts, tid: h.tid, uid: h.uid, mid: h.mid}
	switch h.cmd {
	case smb1Negotiate:
		// Dialect strings: 0x02 then a NUL-terminated name, repeated.
		for i := 0; i < len(data) && len(r.dialects) < 16; {
			if data[i] != 0x02 {
				break
			}
			v, next := smb1String(data, i+1, false)
			r.dialects = append(r.dialects, v)
			i = next
		}
		st.negDialects, st.negTS = r.dialects, ts
	case smb1SessionSetup:
		if m, ok := ntlm.Find(data); ok {
			r.mech = "ntlm"
			if m.Type == ntlm.TypeAuthenticate {
				r.auth, r.hasAuth = m, true
				r.version = ntlm.FindNTLMVersion(data)
			}
		} else if len(words) >= 26 && len(words) == 26 {
			// NT LM 0.12 without extended security: plaintext names
			// after the two password fields.
			oemLen, uniLen := int(le16(words[14:])), int(le16(words[16:]))
			off := dataOff + oemLen + uniLen
			r.plainU, off = smb1String(msg, off, h.unicode)
			r.plainD, _ = smb1String(msg, off, h.unicode)
			r.mech = "smb1_password"
			if uniLen == 0 && oemLen <= 1 && r.plainU == "" {
				r.mech = "anonymous"
			}
		}
	case smb1TreeConnect:
		if len(words) >= 8 {
			pw := int(le16(words[6:]))
			r.name, _ = smb1String(msg, dataOff+pw, h.unicode)
		}
	case smb1NTCreate:
		if len(words) >= 48 {
			r.name, _ = smb1String(msg, dataOff, h.unicode)
		}
	case smb1Trans:
		r.name, _ = smb1String(msg, dataOff, h.unicode)
		if len(words) >= 30 && words[26] > 0 {
			r.sub = pipeFunction(le16(words[28:]))
		}
		// TransactNmPipe (setup: function, FID): the data is a DCE/RPC
		// request (MS-CIFS §2.2.5.6).
		if len(words) >= 32 && words[26] >= 2 && le16(words[28:]) == 0x0026 {
			r.fid = le16(words[30:])
			if f := st.pipe(r.fid); f != nil {
				n := int(le16(words[22:]))
				s.pipeData2(f, true, ts, smb1Data(msg, int(le16(words[24:])), n), n)
			}
		}
	case smb1Trans2:
		if len(words) >= 30 && words[26] > 0 {
			r.sub = trans2Name(le16(words[28:]))
		}
	case smb1NTTrans:
		if len(words) >= 38 {
			r.sub = "function_" + strconv.Itoa(int(le16(words[36:])))
		}
	case smb1Delete, smb1Rename:
		// Buffer format 0x04 then the name.
		if len(data) > 1 && data[0] == 0x04 {
			r.name, _ = smb1String(msg, dataOff+1, h.unicode)
		}
	}
	s.smb1Pending(h, r)
}

func (s *session) smb1Pending(h *smb1Header, r *smb1Req) {
	st := s.smb1
	if len(st.pending) >= s.cfg.MaxPending {
		var oldest uint64
		var old *smb1Req
		for k, v := range st.pending {
			if old == nil || v.ts.Before(old.ts) || v.ts.Equal(old.ts) && k < oldest {
				oldest, old = k, v
			}
		}
		if smb1Notable(old.cmd) {
			s.smb1Record(old, nil, time.Time{}, nil, nil)
		}
		delete(st.pending, oldest)
		s.p.c.pendingEvicted.Add(1)
		s.note(anomPendingEvicted)
	}
	st.pending[h.key()] = r
}

// pipeFunction names a TRANSACTION named-pipe subcommand (MS-CIFS §2.2.5).
func pipeFunction(c uint16) string {
	switch c {
	case 0x0001:
		return "set_nmpipe_state"
	case 0x0011:
		return "raw_read_nmpipe"
	case 0x0021:
		return "query_nmpipe_state"
	case 0x0022:
		return "query_nmpipe_info"
	case 0x0023:
		return "peek_nmpipe"
	case 0x0026:
		return "transact_nmpipe"
	case 0x0031:
		return "raw_write_nmpipe"
	case 0x0036:
		return "read_nmpipe"
	case 0x0037:
		return "write_nmpipe"
	case 0x0053:
		return "wait_nmpipe"
	case 0x0054:
		return "call_nmpipe"
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}

func (s *session) smb1Response(ts time.Time, h *smb1Header, msg, words, data []byte) {
	st := s.smb1
	r := st.pending[h.key()]
	if r == nil || r.cmd != h.cmd {
		return
	}
	if h.cmd == smb1SessionSetup && h.status == statusMoreProcessingRequired {
		return // the exchange goes on under the same MID
	}
	delete(st.pending, h.key())
	ok := h.status == 0 || h.status == 0x80000005 // success, buffer overflow
	switch h.cmd {
	case smb1ReadAndX:
		if f := st.pipe(r.fid); f != nil && ok && len(words) >= 14 {
			n := int(le16(words[10:]))
			s.pipeData2(f, false, ts, smb1Data(msg, int(le16(words[12:])), n), n)
		}
		return
	case smb1Trans:
		if f := st.pipe(r.fid); f != nil && ok && len(words) >= 16 {
			n := int(le16(words[12:]))
			s.pipeData2(f, false, ts, smb1Data(msg, int(le16(words[14:])), n), n)
		}
	case smb1TreeConnect:
		if h.status == 0 && len(st.trees) < s.cfg.MaxTrees {
			svc, _ := smb1String(data, 0, false)
			st.trees[h.tid] = smb1Tree{path: r.name, shareType: smb1ShareType(svc)}
		}
	case smb1NTCreate:
		if h.status == 0 && len(words) >= 7 {
			s.smb1Open(ts, r, le16(words[5:]))
		}
	}
	s.smb1Record(r, h, ts, words, data)
}

func smb1Status(h *smb1Header) (string, string) {
	if h.flags2&smb1Flags2NT != 0 {
		return StatusName(h.status), statusOutcome(h.status)
	}
	if h.status == 0 {
		return "STATUS_SUCCESS", "success"
	}
	// DOS error: class (byte) and code (word).
	return "DOS_" + strconv.Itoa(int(h.status&0xff)) + "_" + strconv.Itoa(int(h.status>>16)), "failure"
}

// smb1Record reports a notable SMB1 command; h is nil when unanswered.
func (s *session) smb1Record(r *smb1Req, h *smb1Header, ts time.Time, words, data []byte) {
	st := s.smb1
	rec := s.newRecord("smb1_"+smb1Name(r.cmd), r.ts)
	rec.Version = "1"
	rec.Command = smb1Name(r.cmd)
	rec.MessageID = uint64(r.mid)
	rec.TreeID = uint32(r.tid)
	rec.Subcommand = r.sub
	if h == nil {
		rec.Outcome, rec.Reason = "unknown", "no answer"
	} else {
		rec.Status, rec.Outcome = smb1Status(h)
		rec.HasStatus = true
		rec.Duration = ts.Sub(r.ts)
	}
	if u, ok := st.users[r.uid]; ok {
		rec.User, rec.Domain = u.user, u.domain
	}
	switch r.cmd {
	case smb1Negotiate:
		rec.Dialects = r.dialects
		if len(words) >= 2 {
			if i := int(le16(words)); i < len(r.dialects) {
				rec.Dialect = r.dialects[i]
			}
		}
		st.negDialects = nil
	case smb1SessionSetup:
		rec.Category, rec.Type = catAuth, typeStart
		rec.Auth = r.mech
		if r.hasAuth {
			rec.User, rec.Domain, rec.Workstation = r.auth.User, r.auth.Domain, r.auth.Workstation
			if r.auth.Anonymous() {
				rec.Auth = "anonymous"
			}
		} else if r.plainU != "" || r.plainD != "" {
			rec.User, rec.Domain = r.plainU, r.plainD
		}
		if len(words) >= 6 && le16(words[4:])&0x1 != 0 {
			rec.Auth = "guest"
		}
		if rec.Auth == "" {
			rec.Auth = "unknown"
		}
		if h != nil && rec.Outcome == "success" && len(st.users) < s.cfg.MaxSessions {
			st.users[h.uid] = smb1User{rec.User, rec.Domain}
		}
		if r.hasAuth {
			var status uint32
			if h != nil {
				status = h.status
			}
			defer s.outNTLM(r.ts, r.auth, ntlm.Message{}, r.version, status, h != nil)
		}
	case smb1TreeConnect:
		rec.Share = r.name
		if host := serverOf(r.name); host != "" {
			rec.RelatedHosts = append(rec.RelatedHosts, host)
		}
		if len(data) > 0 {
			svc, _ := smb1String(data, 0, false)
			rec.ShareType = smb1ShareType(svc)
		}
	case smb1NTCreate, smb1Delete, smb1Rename:
		rec.FileName = strings.TrimPrefix(r.name, `\`)
		if t, ok := st.trees[r.tid]; ok {
			rec.Share, rec.ShareType = t.path, t.shareType
		}
		rec.Category, rec.Type = catFile, typeAcc
		if r.cmd == smb1Delete {
			rec.Type, rec.Deleted = typeDel, true
		}
	case smb1Trans:
		rec.FileName = r.name
	}
	if rec.User != "" {
		rec.RelatedUsers = append(rec.RelatedUsers, rec.User)
	}
	s.out(rec)
}

func smb1ShareType(svc string) string {
	switch svc {
	case "A:":
		return "disk"
	case "IPC":
		return "pipe"
	case "LPT1:":
		return "print"
	}
	return ""
}

// smb1Open tracks an SMB1 file opened on a pipe share (or on a tree whose
// connect was not seen), for DCE/RPC over TransactNmPipe and READ/WRITE.
func (s *session) smb1Open(ts time.Time, r *smb1Req, fid uint16) {
	st := s.smb1
	t, known := st.trees[r.tid]
	if known && t.shareType != "pipe" {
		return
	}
	if len(st.files) >= s.cfg.MaxFiles {
		s.p.c.filesFull.Add(1)
		s.note(anomFilesFull)
		return
	}
	if old := st.files[fid]; old != nil && old.rpc != nil {
		s.rpcFlush(old)
		s.pipes--
	}
	s.fileSeq++
	f := &file{seq: s.fileSeq, ts: ts, name: strings.TrimPrefix(r.name, `\`), treeID: uint32(r.tid),
		sessionID: uint64(r.uid), pipe: true, smb1: true}
	f.id[0], f.id[1] = byte(fid), byte(fid>>8)
	st.files[fid] = f
}

func (f *file) id16() uint16 { return uint16(f.id[0]) | uint16(f.id[1])<<8 }

// smb1Context fills a record's share and user from SMB1 TID and UID.
func (s *session) smb1Context(rec *Record, tid, uid uint16) {
	rec.Version = "1"
	st := s.smb1
	if st == nil {
		return
	}
	if t, ok := st.trees[tid]; ok {
		rec.Share, rec.ShareType = t.path, t.shareType
	}
	if u, ok := st.users[uid]; ok {
		rec.User, rec.Domain = u.user, u.domain
		if u.user != "" {
			rec.RelatedUsers = append(rec.RelatedUsers, u.user)
		}
	}
}

// dropNegotiate forgets SMB1 NEGOTIATE requests answered in SMB2.
func (st *smb1State) dropNegotiate() {
	for k, r := range st.pending {
		if r.cmd == smb1Negotiate {
			delete(st.pending, k)
		}
	}
}

// smb1End reports unanswered SMB1 commands and the flow's SMB1 summary.
func (s *session) smb1End(ts time.Time) {
	st := s.smb1
	if st == nil {
		return
	}
	keys := make([]uint64, 0, len(st.pending))
	for k := range st.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if r := st.pending[k]; smb1Notable(r.cmd) {
			s.smb1Record(r, nil, time.Time{}, nil, nil)
		}
	}
	fids := make([]uint16, 0, len(st.files))
	for fid := range st.files {
		fids = append(fids, fid)
	}
	slices.Sort(fids)
	for _, fid := range fids {
		if f := st.files[fid]; f.rpc != nil {
			s.rpcFlush(f)
		}
	}
	if st.negAnswered && st.total == st.counts[smb1Negotiate] {
		return // only the SMB1 NEGOTIATE that moved to SMB2: its record said so
	}
	rec := s.newRecord("smb1_summary", st.first)
	rec.Version = "1"
	rec.Command = "summary"
	rec.Duration = ts.Sub(st.first)
	for c, n := range st.counts {
		if n > 0 {
			rec.Counts = append(rec.Counts, CommandCount{Command: smb1Name(uint8(c)), Count: n})
		}
	}
	s.out(rec)
}
