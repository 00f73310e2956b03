package smb

import (
	"encoding/binary"
	"slices"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/internal/ntlm"
)

// decideAt is how many bytes of a message are read before deciding how
// much of it to buffer: the SMB2 header, the fixed part of READ, WRITE and
// IOCTL, and the first bytes of their data (a DCE/RPC header or not).
const decideAt = 64 + 48 + 24

// keepBuf is the largest message buffer a direction keeps between
// messages.
const keepBuf = 4 << 10

// maxLost is how many bytes a lost stream may scan without finding an SMB
// header before the session gives up on the flow.
const maxLost = 1 << 20

// dirState frames one direction into NetBIOS session messages.
type dirState struct {
	hdr     [4]byte
	nhdr    int
	nbType  byte
	msgLen  int // declared length of the current message
	got     int // bytes of it consumed (buffered or skipped)
	want    int // bytes of it to buffer
	limited bool
	decided bool
	done    bool // processed
	buf     []byte
	ts      time.Time
	lost    bool
	lostN   int
	started bool
}

type session struct {
	p    *Parser
	cfg  *Config
	conn event.Conn
	emit proto.Emit
	dirs [2]dirState

	pending  map[uint64]*request
	order    []uint64 // message ids in arrival order, for eviction
	files    map[fileID]*file
	trees    map[uint32]*tree
	sessions map[uint64]*authSession
	pipes    int
	dialect  uint16
	smb1     *smb1State
	nbNames  []string
	nrec     int
	fileSeq  int
	anoms    []string
	last     time.Time
	free     []*request
}

func newSession(p *Parser, f *flow.Info, emit proto.Emit) *session {
	return &session{
		p: p, cfg: &p.cfg, conn: f.Conn, emit: emit,
		pending:  make(map[uint64]*request),
		files:    make(map[fileID]*file),
		trees:    make(map[uint32]*tree),
		sessions: make(map[uint64]*authSession),
	}
}

// note remembers an anomaly for the next record (each once).
func (s *session) note(a string) {
	if !slices.Contains(s.anoms, a) && len(s.anoms) < 16 {
		s.anoms = append(s.anoms, a)
	}
}

// Payload implements proto.Session.
func (s *session) Payload(dir flow.Dir, ts time.Time, b []byte) error {
	if int(dir) > 1 {
		return nil
	}
	s.last = ts
	d := &s.dirs[dir]
	if !d.started {
		d.started = true
		if len(b) >= 8 && !(b[0] == 0x00 && isSig(b[4:8])) && !(b[0] == 0x81 || b[0] == 0x82 || b[0] == 0x83 || b[0] == 0x85) {
			d.lost = true // joined mid-flow
		}
	}
	for len(b) > 0 {
		if d.lost {
			i := resyncPoint(b)
			if i < 0 {
				d.lostN += len(b)
				if d.lostN > maxLost {
					return errNotSMB
				}
				return nil
			}
			b = b[i:]
			d.lost, d.lostN, d.nhdr = false, 0, 0
			s.p.c.resyncs.Add(1)
		}
		if d.nhdr < 4 {
			n := copy(d.hdr[d.nhdr:], b)
			d.nhdr += n
			b = b[n:]
			if d.nhdr < 4 {
				return nil
			}
			if err := s.startMessage(d, ts); err != nil {
				return err
			}
			if d.msgLen == 0 {
				d.nhdr = 0
			}
			continue
		}
		if d.got < d.want {
			target := d.want
			if !d.decided {
				target = min(target, decideAt)
			}
			n := min(target-d.got, len(b))
			d.buf = append(d.buf, b[:n]...)
			d.got += n
			b = b[n:]
			if !d.decided && (d.got >= decideAt || d.got == d.msgLen) {
				d.decided = true
				if d.nbType == 0 {
					s.decide(dir, d)
				}
			}
			if d.got < d.want {
				continue
			}
		}
		if !d.done {
			d.done = true
			s.message(dir, d)
		}
		if d.got < d.msgLen {
			n := min(d.msgLen-d.got, len(b))
			d.got += n
			b = b[n:]
		}
		if d.got == d.msgLen {
			d.nhdr = 0
		}
	}
	return nil
}

// startMessage reads a NetBIOS session header (RFC 1002 §4.3.1; on 445 the
// same 4 bytes with a 24-bit length, MS-SMB2 §2.1).
func (s *session) startMessage(d *dirState, ts time.Time) error {
	d.nbType = d.hdr[0]
	d.msgLen = int(d.hdr[1])<<16 | int(d.hdr[2])<<8 | int(d.hdr[3])
	if cap(d.buf) > keepBuf {
		d.buf = nil // a large message's buffer is not kept for the flow's life
	}
	d.got, d.buf, d.ts = 0, d.buf[:0], ts
	d.decided, d.done, d.limited = false, false, false
	switch d.nbType {
	case 0x00:
		d.want = min(d.msgLen, s.cfg.MaxMessage)
		d.limited = d.msgLen > s.cfg.MaxMessage
	case 0x81, 0x82, 0x83, 0x84, 0x85:
		d.want = min(d.msgLen, 128)
		d.decided = true
	default:
		s.note(anomGap)
		d.lost = true
		d.nhdr = 0
		d.want = 0
		return nil
	}
	if d.msgLen == 0 {
		d.done = true
	}
	return nil
}

// decide shortens what is buffered of a message whose bulk is data the
// parser does not need: READ/WRITE data on files, directory listings,
// query results. Pipe data is kept (bounded) for the DCE/RPC decoder.
func (s *session) decide(dir flow.Dir, d *dirState) {
	b := d.buf
	if len(b) < 4 {
		return
	}
	switch {
	case b[0] == 0xFD:
		d.want = min(d.want, 52)
		return
	case b[0] == 0xFC:
		d.want = min(d.want, 16)
		return
	case b[0] != 0xFE || len(b) < 64:
		return
	}
	h := parseHeader(b)
	if h.next != 0 {
		return // compound: keep the chain (bounded by MaxMessage)
	}
	cut := func(n int) {
		if n < d.want {
			d.want = max(n, len(d.buf))
			d.limited = false
		}
	}
	body := b[64:]
	switch {
	case h.cmd == cmdWrite && !h.response() && len(body) >= 32:
		off := int(le16(body[2:]))
		n := int(le32(body[4:]))
		if s.pipeData(&h, fileIDAt(body[16:]), blobAt(b, off, n)) {
			cut(off + min(n, s.cfg.MaxPipeData))
		} else {
			cut(off)
		}
	case h.cmd == cmdRead && h.response() && len(body) >= 8:
		off := int(body[2])
		n := int(le32(body[4:]))
		if r := s.pending[h.msgID]; r != nil && s.pipeData(&h, r.fileID, blobAt(b, off, n)) {
			cut(off + min(n, s.cfg.MaxPipeData))
		} else {
			cut(max(off, 64+16))
		}
	case h.cmd == cmdIoctl && !h.response() && len(body) >= 32:
		if le32(body[4:]) == fsctlPipeTransceive {
			cut(int(le32(body[24:])) + min(int(le32(body[28:])), s.cfg.MaxPipeData))
		} else {
			cut(64 + 56)
		}
	case h.cmd == cmdIoctl && h.response() && len(body) >= 40:
		if le32(body[4:]) == fsctlPipeTransceive {
			cut(int(le32(body[32:])) + min(int(le32(body[36:])), s.cfg.MaxPipeData))
		} else {
			cut(64 + 48)
		}
	case h.response() && (h.cmd == cmdQueryDirectory || h.cmd == cmdQueryInfo || h.cmd == cmdChangeNotify):
		cut(64 + 8)
	}
}

// message processes a buffered message (its prefix when cut).
func (s *session) message(dir flow.Dir, d *dirState) {
	b := d.buf
	if d.limited {
		s.p.c.truncated.Add(1)
		s.note(anomTruncated)
	}
	switch d.nbType {
	case 0x81:
		s.nbRequest(b)
		return
	case 0x00:
	default:
		return
	}
	if len(b) < 4 {
		return
	}
	switch b[0] {
	case 0xFE:
		s.smb2(dir, d.ts, b, d.msgLen)
	case 0xFF:
		s.smb1Message(dir, d.ts, b, d.msgLen)
	case 0xFD:
		s.transform(d.ts, b)
	case 0xFC:
		s.p.c.compressed.Add(1)
	}
}

// nbRequest decodes a NetBIOS session request's called and calling names.
func (s *session) nbRequest(b []byte) {
	for off := 0; off+34 <= len(b) && len(s.nbNames) < 2; off += 34 {
		if n := nbName(b[off : off+34]); n != "" {
			s.nbNames = append(s.nbNames, n)
		}
	}
}

// nbName decodes a first-level encoded NetBIOS name (RFC 1001 §14.1),
// trimming padding and the suffix byte.
func nbName(b []byte) string {
	if b[0] != 0x20 {
		return ""
	}
	var out [16]byte
	for i := range 16 {
		hi, lo := b[1+2*i]-'A', b[2+2*i]-'A'
		if hi > 15 || lo > 15 {
			return ""
		}
		out[i] = hi<<4 | lo
	}
	name := out[:15]
	for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == 0) {
		name = name[:len(name)-1]
	}
	for _, c := range name {
		if c < 0x21 || c > 0x7e {
			return ""
		}
	}
	return string(name)
}

// Gap implements proto.Session.
func (s *session) Gap(dir flow.Dir, n int) {
	if int(dir) > 1 || n <= 0 {
		return
	}
	d := &s.dirs[dir]
	if d.lost {
		return
	}
	// Within the skipped part of a message: nothing lost that matters,
	// except pipe data.
	if d.nhdr == 4 && d.done && d.msgLen-d.got >= n {
		d.got += n
		if d.got == d.msgLen {
			d.nhdr = 0
		}
		return
	}
	s.p.c.gaps.Add(1)
	s.note(anomGap)
	d.lost = true
	d.nhdr = 0
	d.buf = d.buf[:0]
}

// End implements proto.Session.
func (s *session) End(ts time.Time, why event.EndReason) {
	if ts.Before(s.last) {
		ts = s.last
	}
	// Unanswered requests, oldest first.
	for _, id := range s.order {
		if r := s.pending[id]; r != nil && r.msgID == id {
			s.unanswered(r)
			delete(s.pending, id)
		}
	}
	s.order = s.order[:0]
	// Open files with activity, pipes' RPC state, trees' totals.
	ids := make([]fileID, 0, len(s.files))
	for id := range s.files {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b fileID) int { return s.files[a].seq - s.files[b].seq })
	for _, id := range ids {
		s.closeFile(s.files[id], ts, nil, "flow ended")
	}
	tids := make([]uint32, 0, len(s.trees))
	for id := range s.trees {
		tids = append(tids, id)
	}
	slices.Sort(tids)
	for _, id := range tids {
		s.treeTotals(s.trees[id], ts, nil, "flow ended")
	}
	s.smb1End(ts)
}

// newRecord starts a record of the flow at ts.
func (s *session) newRecord(action string, ts time.Time) *Record {
	r := &Record{}
	r.Conn = s.conn
	r.Timestamp = ts
	r.Protocol = "smb"
	r.Action = action
	if len(s.anoms) > 0 {
		r.Anomalies = s.anoms
		s.anoms = nil
	}
	return r
}

// withSession fills the record's session, dialect and user fields.
func (s *session) withSession(r *Record, sid uint64) {
	r.SessionID = sid
	if r.Version == "" {
		r.Version = s.version()
	}
	if a := s.sessions[sid]; a != nil {
		r.User, r.Domain = a.user, a.domain
		if a.encrypted {
			r.Encrypted = true
		}
	}
	if r.User != "" {
		r.RelatedUsers = append(r.RelatedUsers, r.User)
	}
}

func (s *session) version() string {
	if s.dialect != 0 && s.dialect != 0x02FF {
		return dialectName(s.dialect)
	}
	return "2"
}

func (s *session) out(r event.Record) {
	if s.nrec >= s.cfg.MaxRecords {
		s.p.c.recordsDropped.Add(1)
		return
	}
	s.nrec++
	s.emit(r)
}

// outNTLM emits the mamori.ntlm record of an SMB logon.
func (s *session) outNTLM(ts time.Time, auth, challenge ntlm.Message, version string, status uint32, answered bool) {
	r := ntlm.NewRecord(s.conn, ts, "smb", auth, challenge)
	r.Version = version
	if answered {
		r.Status = StatusName(status)
		r.Outcome = statusOutcome(status)
	} else {
		r.Outcome = "unknown"
		r.Reason = "no answer"
	}
	s.out(r)
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
