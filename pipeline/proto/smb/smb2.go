package smb

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto/internal/dcerpc"
	"mamori/pipeline/proto/internal/ntlm"
)

// SMB2 header flags (MS-SMB2 §2.2.1).
const (
	flagResponse = 0x00000001
	flagAsync    = 0x00000002
	flagRelated  = 0x00000004
	flagSigned   = 0x00000008
)

const fsctlPipeTransceive = 0x0011C017

// maxName bounds decoded names and paths, in bytes of the message.
const maxName = 1024

type header struct {
	creditCharge uint16
	status       uint32
	cmd          uint16
	flags        uint32
	next         uint32
	msgID        uint64
	treeID       uint32
	sessionID    uint64
}

func (h *header) response() bool { return h.flags&flagResponse != 0 }

// parseHeader decodes the 64-byte SMB2 header (MS-SMB2 §2.2.1.1/2).
func parseHeader(b []byte) header {
	h := header{
		creditCharge: le16(b[6:]),
		status:       le32(b[8:]),
		cmd:          le16(b[12:]),
		flags:        le32(b[16:]),
		next:         le32(b[20:]),
		msgID:        le64(b[24:]),
		sessionID:    le64(b[40:]),
	}
	if h.flags&flagAsync == 0 {
		h.treeID = le32(b[36:])
	}
	return h
}

// fileID is SMB2_FILEID: persistent and volatile halves.
type fileID [16]byte

var relatedFileID = fileID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func fileIDAt(b []byte) fileID {
	var f fileID
	copy(f[:], b[:16])
	return f
}

// request is a request awaiting its response.
type request struct {
	msgID        uint64
	cmd          uint16
	ts           time.Time
	sessionID    uint64
	treeID       uint32
	fileID       fileID
	relatedFile  bool
	creditCharge uint16
	compound     bool

	name        string // CREATE name, TREE_CONNECT path, rename target
	disposition uint32
	options     uint32
	access      uint32
	dialects    []string
	auth        ntlm.Message
	hasAuth     bool
	ntlmVersion string
	mech        string
	binding     bool
	rename      bool
	del         bool
	ctlCode     uint32
}

type file struct {
	id                              fileID
	seq                             int
	ts                              time.Time
	name                            string
	treeID                          uint32
	sessionID                       uint64
	directory                       bool
	pipe                            bool
	pipeMaybe                       bool // tree unknown: a pipe if its data looks like DCE/RPC
	reads, writes                   uint64
	bytesRead, bytesWritten         uint64
	renamed, deleted, deleteOnClose bool
	creditMax                       uint16
	rpc                             *dcerpc.Conn
	smb1                            bool // an SMB1 FID: treeID and sessionID hold TID and UID
}

type tree struct {
	id                      uint32
	path                    string
	shareType               uint8
	sessionID               uint64
	ts                      time.Time
	opens, reads, writes    uint64
	bytesRead, bytesWritten uint64
}

type authSession struct {
	user, domain, workstation string
	mech                      string
	challenge                 ntlm.Message
	encrypted                 bool
	encryptedSeen             bool
}

// smb2 walks the compound chain of one message (MS-SMB2 §3.2.4.1.4).
func (s *session) smb2(dir flow.Dir, ts time.Time, b []byte, total int) {
	off := 0
	var prevSession uint64
	var prevTree uint32
	var chainFile fileID
	haveChainFile := false
	for i := 0; ; i++ {
		if i >= s.cfg.MaxCompound {
			s.note(anomCompound)
			return
		}
		if off+64 > len(b) {
			if off < total {
				s.note(anomShortPDU)
			}
			return
		}
		if !bytes.Equal(b[off:off+4], sigSMB2) || le16(b[off+4:]) != 64 {
			s.note(anomBadCompound)
			return
		}
		h := parseHeader(b[off:])
		end := total
		if h.next != 0 {
			end = off + int(h.next)
			if h.next < 64 || end > total || h.next%8 != 0 && end != total {
				s.note(anomBadCompound)
				return
			}
		}
		if h.flags&flagRelated != 0 && i > 0 {
			if h.sessionID == 0 || h.sessionID == ^uint64(0) {
				h.sessionID = prevSession
			}
			if h.treeID == 0 || h.treeID == ^uint32(0) {
				h.treeID = prevTree
			}
		}
		prevSession, prevTree = h.sessionID, h.treeID
		pdu := b[off:min(end, len(b))]
		c := chain{compound: i > 0 || h.next != 0, pduLen: end - off}
		if haveChainFile {
			c.file, c.haveFile = chainFile, true
		}
		if h.response() {
			s.response(ts, &h, pdu, &c)
		} else {
			s.request(dir, ts, &h, pdu, &c)
		}
		if c.setFile {
			chainFile, haveChainFile = c.newFile, true
		}
		if h.next == 0 {
			return
		}
		off = end
	}
}

// chain carries what related operations of a compound share.
type chain struct {
	compound bool
	pduLen   int
	file     fileID
	haveFile bool
	newFile  fileID
	setFile  bool
}

// str16 decodes a UTF-16LE name at [off, off+n) of pdu (offsets are from
// the SMB2 header), bounded by maxName.
func str16(pdu []byte, off, n int) (string, bool) {
	if n == 0 {
		return "", true
	}
	if off < 64 || off > len(pdu) {
		return "", false
	}
	ok := true
	if off+n > len(pdu) {
		n, ok = len(pdu)-off, false
	}
	return utf16String(pdu[off : off+n]), ok
}

// utf16String decodes UTF-16LE (at most maxName bytes), dropping trailing
// NULs; unpaired surrogates become U+FFFD.
func utf16String(b []byte) string {
	n := min(len(b), maxName) &^ 1
	var buf [maxName / 2]uint16
	u := buf[:0]
	for i := 0; i < n; i += 2 {
		u = append(u, le16(b[i:]))
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

func (s *session) request(dir flow.Dir, ts time.Time, h *header, pdu []byte, c *chain) {
	body := pdu[64:]
	r := s.newRequest()
	*r = request{msgID: h.msgID, cmd: h.cmd, ts: ts, sessionID: h.sessionID, treeID: h.treeID,
		creditCharge: h.creditCharge, compound: c.compound}
	keep := true
	switch h.cmd {
	case cmdNegotiate:
		if len(body) >= 36 {
			n := min(int(le16(body[2:])), 16)
			for i := 0; i < n && 36+2*i+2 <= len(body); i++ {
				r.dialects = append(r.dialects, dialectName(le16(body[36+2*i:])))
			}
		}
	case cmdSessionSetup:
		if len(body) < 24 {
			s.note(anomShortPDU)
			break
		}
		r.binding = body[2]&0x01 != 0
		blob := blobAt(pdu, int(le16(body[12:])), int(le16(body[14:])))
		r.mech = mechOf(blob)
		if m, ok := ntlm.Find(blob); ok && m.Type == ntlm.TypeAuthenticate {
			r.auth, r.hasAuth = m, true
			r.ntlmVersion = ntlm.FindNTLMVersion(blob)
		}
	case cmdTreeConnect:
		if len(body) < 8 {
			s.note(anomShortPDU)
			break
		}
		name, ok := str16(pdu, int(le16(body[4:])), int(le16(body[6:])))
		if !ok {
			s.note(anomBadOffset)
		}
		r.name = name
	case cmdCreate:
		if len(body) < 56 {
			s.note(anomShortPDU)
			break
		}
		r.access = le32(body[24:])
		r.disposition = le32(body[36:])
		r.options = le32(body[40:])
		name, ok := str16(pdu, int(le16(body[44:])), int(le16(body[46:])))
		if !ok {
			s.note(anomBadOffset)
		}
		r.name = name
	case cmdClose:
		if len(body) >= 24 {
			s.fileRef(r, fileIDAt(body[8:]), c)
		}
	case cmdRead:
		if len(body) >= 32 {
			s.fileRef(r, fileIDAt(body[16:]), c)
		}
	case cmdWrite:
		if len(body) >= 32 {
			s.fileRef(r, fileIDAt(body[16:]), c)
			off, n := int(le16(body[2:])), int(le32(body[4:]))
			if f := s.files[r.fileID]; f != nil && s.isPipe(f, blobAt(pdu, off, n)) {
				s.pipeIO(f, true, ts, pdu, off, n, c.pduLen)
			} else if f == nil && !r.relatedFile {
				// A pipe opened before the capture began.
				if off >= 64 && off < len(pdu) && dcerpc.Looks(pdu[off:]) {
					if f := s.adoptPipe(r, ts); f != nil {
						s.pipeIO(f, true, ts, pdu, off, n, c.pduLen)
					}
				}
			}
		}
	case cmdIoctl:
		if len(body) >= 32 {
			r.ctlCode = le32(body[4:])
			s.fileRef(r, fileIDAt(body[8:]), c)
			if r.ctlCode == fsctlPipeTransceive {
				f := s.files[r.fileID]
				off, n := int(le32(body[24:])), int(le32(body[28:]))
				if f == nil && !r.relatedFile && off >= 64 && off < len(pdu) && dcerpc.Looks(pdu[off:]) {
					f = s.adoptPipe(r, ts)
				}
				if f != nil {
					s.pipeIO(f, true, ts, pdu, off, n, c.pduLen)
				}
			}
		}
	case cmdSetInfo:
		if len(body) < 32 {
			s.note(anomShortPDU)
			break
		}
		s.fileRef(r, fileIDAt(body[16:]), c)
		if body[2] != 1 { // SMB2_0_INFO_FILE
			break
		}
		class := body[3]
		buf := blobAt(pdu, int(le16(body[8:])), int(le32(body[4:])))
		switch class {
		case 10, 65: // FileRenameInformation(Ex), MS-FSCC §2.4.42
			if len(buf) >= 20 {
				n := int(le32(buf[16:]))
				if 20+n > len(buf) {
					n = len(buf) - 20
					s.note(anomBadOffset)
				}
				r.rename, r.name = true, utf16String(buf[20:20+n])
			}
		case 13: // FileDispositionInformation
			if len(buf) >= 1 && buf[0] != 0 {
				r.del = true
			}
		case 64: // FileDispositionInformationEx
			if len(buf) >= 4 && le32(buf)&0x1 != 0 {
				r.del = true
			}
		}
		if !r.rename && !r.del {
			keep = false
		}
	case cmdCancel:
		keep = false // no response of its own; it shares the cancelled id
	case cmdTreeDisconnect, cmdLogoff:
	default:
		keep = false
	}
	if keep {
		s.addPending(r)
	} else {
		s.free = append(s.free, r)
	}
}

func (s *session) newRequest() *request {
	if n := len(s.free); n > 0 {
		r := s.free[n-1]
		s.free = s.free[:n-1]
		return r
	}
	return new(request)
}

// fileRef resolves a request's FileId, following a compound's related
// chain (FileId all 0xFF: the file the chain's CREATE opens).
func (s *session) fileRef(r *request, id fileID, c *chain) {
	if id == relatedFileID {
		r.relatedFile = true
		if c.haveFile {
			r.fileID = c.file
			r.relatedFile = false
		}
		return
	}
	r.fileID = id
}

// blobAt returns pdu[off:off+n], clipped to the bytes present.
func blobAt(pdu []byte, off, n int) []byte {
	if off < 64 || off >= len(pdu) || n <= 0 {
		return nil
	}
	return pdu[off:min(off+n, len(pdu))]
}

var (
	oidKerberos   = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	oidMSKerberos = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02}
)

// mechOf names the authentication mechanism of a security blob: NTLMSSP
// anywhere in it, or a Kerberos AP-REQ token (its OID right before an
// AP-REQ tag, RFC 4121 §4.1) — not merely Kerberos listed in mechTypes.
func mechOf(blob []byte) string {
	switch {
	case len(blob) == 0:
		return ""
	case bytes.Contains(blob, ntlm.Signature):
		return "ntlm"
	}
	for _, oid := range [][]byte{oidKerberos, oidMSKerberos} {
		if i := bytes.Index(blob, oid); i >= 0 {
			rest := blob[i+len(oid):]
			if len(rest) >= 3 && rest[0] == 0x01 && rest[1] == 0x00 && rest[2] == 0x6e {
				return "kerberos" // TOK_ID 01 00 then AP-REQ
			}
		}
	}
	if bytes.Contains(blob, []byte{0x6e, 0x82}) || bytes.Contains(blob, []byte{0xa1, 0x82}) && bytes.Contains(blob, oidMSKerberos) {
		return "kerberos"
	}
	return ""
}

func (s *session) addPending(r *request) {
	if old := s.pending[r.msgID]; old != nil {
		s.free = append(s.free, old)
	} else {
		if len(s.pending) >= s.cfg.MaxPending {
			s.evictOldest()
		}
		s.order = append(s.order, r.msgID)
		if len(s.order) > 2*s.cfg.MaxPending {
			s.compactOrder()
		}
	}
	s.pending[r.msgID] = r
}

func (s *session) evictOldest() {
	for len(s.order) > 0 {
		id := s.order[0]
		s.order = s.order[1:]
		if r := s.pending[id]; r != nil {
			delete(s.pending, id)
			s.p.c.pendingEvicted.Add(1)
			s.note(anomPendingEvicted)
			s.free = append(s.free, r)
			return
		}
	}
}

// compactOrder drops answered ids from the eviction queue.
func (s *session) compactOrder() {
	out := s.order[:0]
	for _, id := range s.order {
		if s.pending[id] != nil {
			out = append(out, id)
		}
	}
	s.order = out
}

func (s *session) response(ts time.Time, h *header, pdu []byte, c *chain) {
	if h.status == statusPending && h.flags&flagAsync != 0 {
		return // interim response; the final one follows
	}
	r := s.pending[h.msgID]
	if r == nil || r.cmd != h.cmd {
		switch {
		case h.cmd == cmdNegotiate:
			s.negotiate(ts, h, pdu, nil)
		case h.cmd == cmdOplockBreak, h.cmd == cmdCancel:
		default:
			if tracked(h.cmd) {
				s.note(anomUnpaired)
			}
		}
		return
	}
	delete(s.pending, h.msgID)
	defer func() { s.free = append(s.free, r) }()
	if r.relatedFile && c.haveFile {
		r.fileID, r.relatedFile = c.file, false
	}
	body := pdu[64:]
	// Error responses (MS-SMB2 §2.2.2) carry StructureSize 9 instead of
	// the command's body.
	// SESSION_SETUP's own response is 9 bytes too, and carries the
	// CHALLENGE with STATUS_MORE_PROCESSING_REQUIRED.
	isError := h.status>>30 == 3 && len(body) >= 2 && le16(body) == 9 &&
		!(h.cmd == cmdSessionSetup && h.status == statusMoreProcessingRequired)
	switch h.cmd {
	case cmdNegotiate:
		s.negotiate(ts, h, pdu, r)
	case cmdSessionSetup:
		s.sessionSetup(ts, h, pdu, r, isError)
	case cmdLogoff:
		delete(s.sessions, r.sessionID)
	case cmdTreeConnect:
		s.treeConnect(ts, h, pdu, r, isError)
	case cmdTreeDisconnect:
		if t := s.trees[r.treeID]; t != nil {
			s.treeTotals(t, ts, h, "")
		}
	case cmdCreate:
		s.create(ts, h, pdu, r, c, isError)
	case cmdClose:
		if f := s.files[r.fileID]; f != nil {
			s.closeFile(f, ts, h, "")
		}
	case cmdRead:
		f := s.files[r.fileID]
		if f == nil || isError || len(body) < 8 {
			break
		}
		off, n := int(body[2]), int(le32(body[4:]))
		if s.isPipe(f, blobAt(pdu, off, n)) {
			s.pipeIO(f, false, ts, pdu, off, n, c.pduLen)
		}
		f.reads++
		f.bytesRead += uint64(n)
		f.creditMax = max(f.creditMax, r.creditCharge)
		if t := s.trees[f.treeID]; t != nil {
			t.reads++
			t.bytesRead += uint64(n)
		}
	case cmdWrite:
		f := s.files[r.fileID]
		if f == nil || isError || len(body) < 8 {
			break
		}
		n := uint64(le32(body[4:]))
		f.writes++
		f.bytesWritten += n
		f.creditMax = max(f.creditMax, r.creditCharge)
		if t := s.trees[f.treeID]; t != nil {
			t.writes++
			t.bytesWritten += n
		}
	case cmdIoctl:
		if r.ctlCode != fsctlPipeTransceive || isError || len(body) < 40 {
			break
		}
		if f := s.files[r.fileID]; f != nil && f.rpc != nil {
			s.pipeIO(f, false, ts, pdu, int(le32(body[32:])), int(le32(body[36:])), c.pduLen)
		}
	case cmdSetInfo:
		s.setInfo(ts, h, r)
	}
}

// tracked reports whether requests of cmd are kept for their response.
func tracked(cmd uint16) bool {
	switch cmd {
	case cmdNegotiate, cmdSessionSetup, cmdLogoff, cmdTreeConnect, cmdTreeDisconnect,
		cmdCreate, cmdClose, cmdRead, cmdWrite, cmdIoctl:
		return true
	}
	return false
}

func (s *session) negotiate(ts time.Time, h *header, pdu []byte, r *request) {
	body := pdu[64:]
	rec := s.newRecord("smb2_negotiate", ts)
	rec.Command = "negotiate"
	rec.MessageID = h.msgID
	rec.Status, rec.HasStatus = StatusName(h.status), true
	rec.Outcome = statusOutcome(h.status)
	if len(body) >= 6 && le16(body) == 65 {
		s.dialect = le16(body[4:])
		rec.Dialect = dialectName(s.dialect)
		rec.SigningRequired = le16(body[2:])&0x2 != 0
	}
	if r != nil {
		rec.Timestamp = r.ts
		rec.Duration = ts.Sub(r.ts)
		rec.Dialects = r.dialects
	} else if s.smb1 != nil && s.smb1.negDialects != nil {
		// The client offered SMB1 and SMB2 in an SMB1 NEGOTIATE; the
		// server answered in SMB2 (MS-SMB2 §3.3.5.3.1).
		rec.Dialects = s.smb1.negDialects
		rec.Timestamp = s.smb1.negTS
		rec.Duration = ts.Sub(s.smb1.negTS)
		rec.Version = "1"
		s.smb1.negDialects = nil
		s.smb1.negAnswered = true
		s.smb1.dropNegotiate()
	}
	if rec.Version == "" {
		rec.Version = s.version()
	}
	rec.RelatedHosts = append(rec.RelatedHosts, s.nbNames...)
	s.out(rec)
}

func (s *session) sessionSetup(ts time.Time, h *header, pdu []byte, r *request, isError bool) {
	body := pdu[64:]
	a := s.sessions[h.sessionID]
	if a == nil && h.sessionID != 0 {
		if len(s.sessions) < s.cfg.MaxSessions {
			a = &authSession{}
			s.sessions[h.sessionID] = a
		} else {
			s.p.c.sessionsFull.Add(1)
			s.note(anomSessionsFull)
		}
	}
	var flags uint16
	if !isError && len(body) >= 8 {
		flags = le16(body[2:])
		blob := blobAt(pdu, int(le16(body[4:])), int(le16(body[6:])))
		if m, ok := ntlm.Find(blob); ok && m.Type == ntlm.TypeChallenge && a != nil {
			a.challenge = m
		}
		if r.mech == "" {
			r.mech = mechOf(blob)
		}
	}
	if a != nil && r.mech != "" {
		a.mech = r.mech
	}
	if h.status == statusMoreProcessingRequired {
		return // the exchange goes on
	}
	rec := s.newRecord("smb2_session_setup", r.ts)
	rec.Command = "session_setup"
	rec.Category = catAuth
	rec.Type = typeStart
	rec.Duration = ts.Sub(r.ts)
	rec.MessageID = h.msgID
	rec.Status, rec.HasStatus = StatusName(h.status), true
	rec.Outcome = statusOutcome(h.status)
	rec.Auth = r.mech
	if rec.Auth == "" && a != nil {
		rec.Auth = a.mech
	}
	if r.hasAuth {
		rec.User, rec.Domain, rec.Workstation = r.auth.User, r.auth.Domain, r.auth.Workstation
		if r.auth.Anonymous() {
			rec.Auth = "anonymous"
		}
	}
	if flags&0x0001 != 0 {
		rec.SessionFlags = append(rec.SessionFlags, "guest")
		rec.Auth = "guest"
	}
	if flags&0x0002 != 0 {
		rec.SessionFlags = append(rec.SessionFlags, "null")
		rec.Auth = "anonymous"
	}
	if flags&0x0004 != 0 {
		rec.SessionFlags = append(rec.SessionFlags, "encrypt_data")
		rec.Encrypted = true
	}
	if r.binding {
		rec.SessionFlags = append(rec.SessionFlags, "binding")
	}
	if rec.Auth == "" {
		rec.Auth = "unknown"
	}
	if a != nil && statusOutcome(h.status) == "success" {
		if r.hasAuth {
			a.user, a.domain, a.workstation = r.auth.User, r.auth.Domain, r.auth.Workstation
		}
		if flags&0x0004 != 0 {
			a.encrypted = true
		}
	}
	rec.SessionID = h.sessionID
	rec.Version = s.version()
	if rec.User != "" {
		rec.RelatedUsers = append(rec.RelatedUsers, rec.User)
	}
	if rec.Workstation != "" {
		rec.RelatedHosts = append(rec.RelatedHosts, rec.Workstation)
	}
	s.out(rec)
	if r.hasAuth {
		var ch ntlm.Message
		if a != nil {
			ch = a.challenge
		}
		s.outNTLM(r.ts, r.auth, ch, r.ntlmVersion, h.status, true)
	}
}

var (
	catAuth   = []string{"network", "authentication"}
	typeStart = []string{"start"}
	catFile   = []string{"network", "file"}
	typeAcc   = []string{"access"}
	typeCre   = []string{"creation"}
	typeChg   = []string{"change"}
	typeDel   = []string{"deletion"}
	typeInfo  = []string{"info"}
	typeEnd   = []string{"end"}
)

// serverOf returns the server part of \\server\share.
func serverOf(path string) string {
	p := strings.TrimPrefix(path, `\\`)
	if i := strings.IndexByte(p, '\\'); i >= 0 {
		return p[:i]
	}
	return ""
}

func (s *session) treeConnect(ts time.Time, h *header, pdu []byte, r *request, isError bool) {
	body := pdu[64:]
	rec := s.newRecord("smb2_tree_connect", r.ts)
	rec.Command = "tree_connect"
	rec.Duration = ts.Sub(r.ts)
	rec.MessageID = h.msgID
	rec.Status, rec.HasStatus = StatusName(h.status), true
	rec.Outcome = statusOutcome(h.status)
	rec.Share = r.name
	s.withSession(rec, r.sessionID)
	if host := serverOf(r.name); host != "" {
		rec.RelatedHosts = append(rec.RelatedHosts, host)
	}
	if !isError && len(body) >= 8 {
		st := body[2]
		rec.ShareType = shareTypeName(st)
		sf := le32(body[4:])
		if sf&0x0008 != 0 {
			rec.ShareFlags = append(rec.ShareFlags, "encrypt_data")
			rec.Encrypted = true
		}
		if sf&0x0001 != 0 {
			rec.ShareFlags = append(rec.ShareFlags, "dfs")
		}
		if h.status == statusSuccess {
			rec.TreeID = h.treeID
			if len(s.trees) < s.cfg.MaxTrees || s.trees[h.treeID] != nil {
				s.trees[h.treeID] = &tree{id: h.treeID, path: r.name, shareType: st, sessionID: r.sessionID, ts: r.ts}
			} else {
				s.p.c.treesFull.Add(1)
				s.note(anomTreesFull)
			}
		}
	}
	s.out(rec)
}

func (s *session) create(ts time.Time, h *header, pdu []byte, r *request, c *chain, isError bool) {
	body := pdu[64:]
	rec := s.newRecord("smb2_create", r.ts)
	rec.Command = "create"
	rec.Category = catFile
	rec.Type = typeAcc
	rec.Duration = ts.Sub(r.ts)
	rec.MessageID = h.msgID
	rec.Status, rec.HasStatus = StatusName(h.status), true
	rec.Outcome = statusOutcome(h.status)
	rec.FileName = r.name
	rec.Disposition = dispositionName(r.disposition)
	rec.Access = accessNames(r.access)
	rec.Directory = r.options&0x1 != 0
	rec.Compound = r.compound
	rec.TreeID = r.treeID
	t := s.trees[r.treeID]
	if t != nil {
		rec.Share = t.path
		rec.ShareType = shareTypeName(t.shareType)
	}
	s.withSession(rec, r.sessionID)
	if !isError && len(body) >= 80 {
		action := le32(body[4:])
		rec.CreateAction = createActionName(action)
		if action != 1 {
			rec.Type = typeCre
		}
		rec.FileSize, rec.HasSize = le64(body[48:]), true
		if le32(body[56:])&0x10 != 0 {
			rec.Directory = true
		}
		id := fileIDAt(body[64:])
		c.newFile, c.setFile = id, true
		if h.status == statusSuccess {
			s.openFile(id, r, t, rec.Directory)
		}
		if rec.ShareType == "pipe" {
			rec.HasSize = false
		}
	}
	s.out(rec)
}

func (s *session) openFile(id fileID, r *request, t *tree, dir bool) {
	if old := s.files[id]; old == nil && len(s.files) >= s.cfg.MaxFiles {
		s.p.c.filesFull.Add(1)
		s.note(anomFilesFull)
		return
	}
	s.fileSeq++
	f := &file{id: id, seq: s.fileSeq, ts: r.ts, name: r.name, treeID: r.treeID, sessionID: r.sessionID, directory: dir}
	f.deleteOnClose = r.options&0x00001000 != 0
	switch {
	case t != nil && t.shareType == 2:
		f.pipe = true
	case t == nil:
		f.pipeMaybe = !dir
	}
	if t != nil {
		t.opens++
	}
	s.files[id] = f
}

// closeFile reports a file's activity when it is closed (h non-nil) or
// when the flow ends, and forgets it.
func (s *session) closeFile(f *file, ts time.Time, h *header, reason string) {
	delete(s.files, f.id)
	if f.rpc != nil {
		s.rpcFlush(f)
		s.pipes--
		return
	}
	// A handle only renamed has had its record (smb2_rename).
	if f.pipe || (f.reads == 0 && f.writes == 0 && !f.deleteOnClose && !f.deleted) {
		return
	}
	rec := s.newRecord("smb2_close", ts)
	rec.Command = "close"
	rec.Category = catFile
	rec.Type = typeInfo
	if f.writes > 0 {
		rec.Type = typeChg
	}
	rec.Reason = reason
	if h != nil {
		rec.MessageID = h.msgID
		rec.Status, rec.HasStatus = StatusName(h.status), true
		rec.Outcome = statusOutcome(h.status)
	}
	rec.FileName = f.name
	rec.Directory = f.directory
	rec.TreeID = f.treeID
	if t := s.trees[f.treeID]; t != nil {
		rec.Share = t.path
		rec.ShareType = shareTypeName(t.shareType)
	}
	rec.Reads, rec.Writes = f.reads, f.writes
	rec.BytesRead, rec.BytesWritten = f.bytesRead, f.bytesWritten
	rec.Deleted = f.deleted || f.deleteOnClose
	if rec.Deleted {
		rec.Type = typeDel
	}
	rec.CreditCharge = f.creditMax
	rec.Duration = ts.Sub(f.ts)
	s.withSession(rec, f.sessionID)
	s.out(rec)
}

// treeTotals reports a tree's totals at TREE_DISCONNECT or flow end.
func (s *session) treeTotals(t *tree, ts time.Time, h *header, reason string) {
	delete(s.trees, t.id)
	rec := s.newRecord("smb2_tree_disconnect", ts)
	rec.Command = "tree_disconnect"
	rec.Type = typeEnd
	rec.Reason = reason
	if h != nil {
		rec.MessageID = h.msgID
		rec.Status, rec.HasStatus = StatusName(h.status), true
		rec.Outcome = statusOutcome(h.status)
	}
	rec.TreeID = t.id
	rec.Share = t.path
	rec.ShareType = shareTypeName(t.shareType)
	rec.Opens = t.opens
	rec.Reads, rec.Writes = t.reads, t.writes
	rec.BytesRead, rec.BytesWritten = t.bytesRead, t.bytesWritten
	rec.Duration = ts.Sub(t.ts)
	s.withSession(rec, t.sessionID)
	s.out(rec)
}

func (s *session) setInfo(ts time.Time, h *header, r *request) {
	f := s.files[r.fileID]
	action := "smb2_rename"
	rec := s.newRecord(action, r.ts)
	rec.Command = "set_info"
	rec.Category = catFile
	rec.Type = typeChg
	rec.Duration = ts.Sub(r.ts)
	rec.MessageID = h.msgID
	rec.Status, rec.HasStatus = StatusName(h.status), true
	rec.Outcome = statusOutcome(h.status)
	rec.TreeID = r.treeID
	sid := r.sessionID
	if f != nil {
		rec.FileName = f.name
		rec.Directory = f.directory
		rec.TreeID = f.treeID
		sid = f.sessionID
	}
	if t := s.trees[rec.TreeID]; t != nil {
		rec.Share = t.path
		rec.ShareType = shareTypeName(t.shareType)
	}
	if r.rename {
		rec.NewName = r.name
		if f != nil && h.status == statusSuccess {
			f.name, f.renamed = r.name, true
		}
	} else {
		rec.Action = "smb2_delete"
		rec.Type = typeDel
		rec.Deleted = true
		if f != nil && h.status == statusSuccess {
			f.deleted = true
		}
	}
	s.withSession(rec, sid)
	s.out(rec)
}

// unanswered reports a request that never got a response, for the
// commands that make records.
func (s *session) unanswered(r *request) {
	var rec *Record
	switch r.cmd {
	case cmdNegotiate:
		rec = s.newRecord("smb2_negotiate", r.ts)
		rec.Dialects = r.dialects
	case cmdSessionSetup:
		if !r.hasAuth {
			return
		}
		rec = s.newRecord("smb2_session_setup", r.ts)
		rec.Category, rec.Type = catAuth, typeStart
		rec.User, rec.Domain, rec.Workstation = r.auth.User, r.auth.Domain, r.auth.Workstation
		rec.Auth = r.mech
		var ch ntlm.Message
		if a := s.sessions[r.sessionID]; a != nil {
			ch = a.challenge
		}
		defer s.outNTLM(r.ts, r.auth, ch, r.ntlmVersion, 0, false)
	case cmdTreeConnect:
		rec = s.newRecord("smb2_tree_connect", r.ts)
		rec.Share = r.name
	case cmdCreate:
		rec = s.newRecord("smb2_create", r.ts)
		rec.Category, rec.Type = catFile, typeAcc
		rec.FileName = r.name
		rec.Disposition = dispositionName(r.disposition)
		rec.Access = accessNames(r.access)
		if t := s.trees[r.treeID]; t != nil {
			rec.Share = t.path
		}
	case cmdSetInfo:
		rec = s.newRecord("smb2_rename", r.ts)
		rec.Category, rec.Type = catFile, typeChg
		if f := s.files[r.fileID]; f != nil {
			rec.FileName = f.name
		}
		if r.rename {
			rec.NewName = r.name
		} else {
			rec.Action, rec.Type, rec.Deleted = "smb2_delete", typeDel, true
		}
	default:
		return
	}
	rec.Command = commandName(r.cmd)
	rec.MessageID = r.msgID
	rec.TreeID = r.treeID
	rec.Outcome = "unknown"
	rec.Reason = "no answer"
	rec.Anomalies = append(rec.Anomalies, anomNoAnswer)
	u, d := rec.User, rec.Domain
	s.withSession(rec, r.sessionID)
	if u != "" {
		rec.User, rec.Domain = u, d
	}
	s.out(rec)
}

// transform notes an encrypted SMB3 message (MS-SMB2 §2.2.41): the
// session is marked, once, with a record.
func (s *session) transform(ts time.Time, b []byte) {
	s.p.c.encrypted.Add(1)
	if len(b) < 52 {
		return
	}
	sid := le64(b[44:])
	a := s.sessions[sid]
	if a == nil {
		if len(s.sessions) >= s.cfg.MaxSessions {
			s.p.c.sessionsFull.Add(1)
			s.note(anomSessionsFull)
			return
		}
		a = &authSession{}
		s.sessions[sid] = a
	}
	a.encrypted = true
	if a.encryptedSeen {
		return
	}
	a.encryptedSeen = true
	rec := s.newRecord("smb2_encrypted", ts)
	rec.Command = "transform"
	s.withSession(rec, sid)
	rec.Encrypted = true
	if rec.Version == "2" {
		rec.Version = "3"
	}
	s.out(rec)
}
