package smb

import (
	"strings"
	"time"

	"mamori/pipeline/proto/internal/dcerpc"
	"mamori/pipeline/proto/internal/ntlm"
)

// pipeData reports, while framing a READ/WRITE message, whether its data
// (of which head is the start, when already read) should be buffered for
// the DCE/RPC decoder: the file is a pipe, or is a file of unknown kind
// (its tree or its CREATE was not seen) whose data starts with a DCE/RPC
// header.
func (s *session) pipeData(h *header, id fileID, head []byte) bool {
	f := s.files[id]
	if f != nil && f.pipe {
		return true
	}
	if f != nil && !f.pipeMaybe || id == relatedFileID {
		return false
	}
	return dcerpc.Looks(head)
}

// isPipe reports whether f is a named pipe, deciding a maybe-pipe by
// whether data starts with a DCE/RPC header.
func (s *session) isPipe(f *file, data []byte) bool {
	if f.pipe {
		return true
	}
	if f.pipeMaybe && len(data) > 0 {
		f.pipeMaybe = false
		if dcerpc.Looks(data) {
			f.pipe = true
		}
	}
	return f.pipe
}

// adoptPipe tracks a pipe whose CREATE the capture missed.
func (s *session) adoptPipe(r *request, ts time.Time) *file {
	if len(s.files) >= s.cfg.MaxFiles {
		s.p.c.filesFull.Add(1)
		s.note(anomFilesFull)
		return nil
	}
	s.fileSeq++
	f := &file{id: r.fileID, seq: s.fileSeq, ts: ts, treeID: r.treeID, sessionID: r.sessionID, pipe: true}
	s.files[r.fileID] = f
	return f
}

// pipeIO hands a pipe READ/WRITE/IOCTL buffer (at off, n bytes long, of a
// PDU of pduLen bytes whose prefix pdu was buffered) to the pipe's
// DCE/RPC decoder; the part not buffered is a gap to it.
func (s *session) pipeIO(f *file, client bool, ts time.Time, pdu []byte, off, n, pduLen int) {
	if n <= 0 || off < 64 || off > pduLen {
		return
	}
	var data []byte
	if off < len(pdu) {
		data = pdu[off:min(off+n, len(pdu))]
	}
	s.pipeData2(f, client, ts, data, n)
}

// pipeData2 hands n bytes of pipe data, of which data (a prefix) was
// buffered, to the pipe's DCE/RPC decoder.
func (s *session) pipeData2(f *file, client bool, ts time.Time, data []byte, n int) {
	if n <= 0 {
		return
	}
	if f.rpc == nil {
		if s.pipes >= s.cfg.MaxPipes {
			s.p.c.pipesFull.Add(1)
			s.note(anomPipesFull)
			return
		}
		s.pipes++
		f.rpc = dcerpc.NewConn(dcerpc.Limits{MaxPDU: s.cfg.MaxPipeData})
	}
	f.rpc.Data(client, ts, data, func(ev *dcerpc.Event) { s.rpcRecord(f, ev) })
	if miss := n - len(data); miss > 0 {
		f.rpc.Gap(client, miss)
	}
}

func (s *session) rpcFlush(f *file) {
	f.rpc.Flush(func(ev *dcerpc.Event) { s.rpcRecord(f, ev) })
	s.p.c.rpcOversize.Add(f.rpc.Stats.Oversize)
}

// pipeName turns a CREATE name into the pipe's name: "svcctl" from
// "svcctl", "\PIPE\svcctl" or "\svcctl".
func pipeName(name string) string {
	name = strings.TrimPrefix(name, `\`)
	if len(name) > 5 && strings.EqualFold(name[:5], `PIPE\`) {
		name = name[5:]
	}
	return name
}

// rpcRecord turns a DCE/RPC bind or call into a record.
func (s *session) rpcRecord(f *file, ev *dcerpc.Event) {
	if ev.Kind == dcerpc.KindAuth {
		r := ntlm.NewRecord(s.conn, ev.Time, "dcerpc", ev.NTLM, ev.Challenge)
		r.Version = ev.NTLMVersion
		r.Outcome = "unknown"
		s.out(r)
		return
	}
	action := "dcerpc_call"
	if ev.Kind == dcerpc.KindBind {
		action = "dcerpc_bind"
	}
	rec := s.newRecord(action, ev.Time)
	rec.Command = "dcerpc"
	if !ev.Answer.IsZero() {
		rec.Duration = ev.Answer.Sub(ev.Time)
	}
	rec.TreeID = f.treeID
	if f.smb1 {
		s.smb1Context(rec, uint16(f.treeID), uint16(f.sessionID))
	} else {
		if t := s.trees[f.treeID]; t != nil {
			rec.Share = t.path
			rec.ShareType = shareTypeName(t.shareType)
		}
		s.withSession(rec, f.sessionID)
	}
	p := &RPC{Pipe: pipeName(f.name), Interface: ev.Interface, Opnum: -1, Result: ev.Result, Args: ev.Args}
	if ev.UUID != (dcerpc.UUID{}) {
		p.UUID = ev.UUID.String()
		p.Version = ev.Version
	}
	switch ev.Kind {
	case dcerpc.KindBind:
		for _, u := range ev.UUIDs {
			p.UUIDs = append(p.UUIDs, u.String())
		}
		switch ev.Result {
		case dcerpc.ResultAccepted:
			rec.Outcome = "success"
		case dcerpc.ResultRejected:
			rec.Outcome = "failure"
		default:
			rec.Outcome = "unknown"
			rec.Reason = "no answer"
		}
	case dcerpc.KindCall:
		p.Opnum = int32(ev.Opnum)
		p.Operation = ev.Operation
		p.AuthLevel = dcerpc.AuthLevelName(ev.AuthLevel)
		p.Fragments = ev.Fragments
		switch ev.Result {
		case dcerpc.ResultResponse:
			rec.Outcome = "success"
			if ev.HasReturn {
				p.ReturnCode = hex32(ev.ReturnCode)
			}
		case dcerpc.ResultFault:
			rec.Outcome = "failure"
			p.Fault = hex32(ev.Fault)
		default:
			rec.Outcome = "unknown"
			rec.Reason = "no answer"
		}
		if ev.Evicted {
			rec.Reason = "evicted"
		}
	}
	rec.RPC = p
	s.out(rec)
}
