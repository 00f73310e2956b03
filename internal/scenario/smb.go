package scenario

// smbClient drives an SMB2 conversation over a rendered connection:
// every request is answered before the next one (credits of one).
type smbClient struct {
	c     *conn
	style smbStyle
	msg   uint64
	sid   uint64
	tid   uint32
	fid   byte
	rpc   uint32
}

func (s *smbClient) call(cmd uint16, req []byte, status uint32, resp []byte) {
	s.c.cli(smb2(cmd, false, 0, s.msg, s.sid, s.tid, req))
	if status != statusOK && status != statusMoreProc && resp == nil {
		resp = fixed(9, 9) // error response
	}
	s.c.srv(smb2(cmd, true, status, s.msg, s.sid, s.tid, resp))
	s.msg++
}

// smbStyle is how a client speaks SMB: over NetBIOS (port 139) or
// direct TCP, offering SMB 3.1.1 or not, compounding CREATE, WRITE and
// CLOSE or not.
type smbStyle struct {
	netbios, v311, compound bool
}

// smbLogon negotiates SMB 3.0.2 (or 3.1.1 in style) and logs on with NTLM as domain\user
// from workstation ws; server names the server in the CHALLENGE. A
// failed logon (status not 0) leaves the session unusable.
func (c *conn) smbLogon(server, domain, user, ws string, status uint32, style ...smbStyle) *smbClient {
	s := &smbClient{c: c}
	if len(style) > 0 {
		s.style = style[0]
	}
	if s.style.netbios {
		c.cli(nbSessionRequest(server, ws))
		c.srv([]byte{0x82, 0, 0, 0})
	}
	s.call(smbNegotiate, negotiateReq(s.style.v311), statusOK, negotiateResp(s.style.v311))
	s.c.cli(smb2(smbSessionSetup, false, 0, s.msg, 0, 0, secBlob(25, 24, 12, spnegoInit(ntlmNegotiate()))))
	s.sid = uint64(c.w.r.Uint32())<<16 | 0x41
	s.c.srv(smb2(smbSessionSetup, true, statusMoreProc, s.msg, s.sid, 0, secBlob(9, 8, 4, spnegoResp(1, ntlmChallenge(domain, server)))))
	s.msg++
	var resp []byte
	if status == statusOK {
		resp = secBlob(9, 8, 4, spnegoResp(0, nil))
	}
	s.call(smbSessionSetup, secBlob(25, 24, 12, spnegoResp(-1, ntlmAuth(domain, user, ws))), status, resp)
	return s
}

// tree connects to a UNC path; it reports whether the server granted it.
func (s *smbClient) tree(path string, status uint32) bool {
	pipe := len(path) > 5 && path[len(path)-5:] == `\IPC$`
	s.tid = 0
	s.c.cli(smb2(smbTreeConnect, false, 0, s.msg, s.sid, 0, treeConnectReq(path)))
	if status != statusOK {
		s.c.srv(smb2(smbTreeConnect, true, status, s.msg, s.sid, 0, fixed(9, 9)))
		s.msg++
		return false
	}
	s.tid = uint32(s.c.w.r.IntN(0xfff) + 1)
	s.c.srv(smb2(smbTreeConnect, true, statusOK, s.msg, s.sid, s.tid, treeConnectResp(pipe)))
	s.msg++
	return true
}

func (s *smbClient) disconnect() {
	s.call(smbTreeDisconnect, fixed(4, 4), statusOK, fixed(4, 4))
}

func (s *smbClient) newFid() [16]byte {
	s.fid++
	var f [16]byte
	f[0], f[8] = s.fid, byte(s.tid)
	f[4] = byte(s.sid)
	return f
}

// Create dispositions and access masks (MS-SMB2 §2.2.13).
const (
	fileOpen        = 1
	fileOverwriteIf = 5
	accessRead      = 0x00120089
	accessWrite     = 0x0012019f
	accessDelete    = 0x00130197
)

// open opens (or creates) a file and returns its id.
func (s *smbClient) open(name string, disposition, access uint32, size uint64) [16]byte {
	f := s.newFid()
	action := uint32(1) // opened
	if disposition == fileOverwriteIf {
		action = 2 // created
	}
	s.call(smbCreate, createReq(name, disposition, 0x40, access), statusOK, createResp(action, f, size))
	return f
}

func (s *smbClient) write(f [16]byte, data []byte) {
	s.call(smbWrite, writeReq(f, data), statusOK, writeResp(len(data)))
}

func (s *smbClient) read(f [16]byte, n int) {
	s.call(smbRead, readReq(f, uint32(n)), statusOK, readResp(make([]byte, n)))
}

func (s *smbClient) rename(f [16]byte, to string) {
	s.call(smbSetInfo, renameReq(f, to), statusOK, fixed(2, 2))
}

func (s *smbClient) close(f [16]byte) {
	s.call(smbClose, closeReq(f), statusOK, fixed(60, 60))
}

// putFile creates name, writes data to it and closes it.
func (s *smbClient) putFile(name string, data []byte) {
	if s.style.compound {
		f, rel := s.newFid(), [16]byte{}
		for i := range rel {
			rel[i] = 0xff
		}
		m := s.msg
		s.c.cli(chain(smb2PDU(smbCreate, false, 0, m, s.sid, s.tid, createReq(name, fileOverwriteIf, 0x40, accessWrite)),
			smb2PDU(smbWrite, false, 0, m+1, s.sid, s.tid, writeReq(rel, data)),
			smb2PDU(smbClose, false, 0, m+2, s.sid, s.tid, closeReq(rel))))
		s.c.srv(chain(smb2PDU(smbCreate, true, 0, m, s.sid, s.tid, createResp(2, f, 0)),
			smb2PDU(smbWrite, true, 0, m+1, s.sid, s.tid, writeResp(len(data))),
			smb2PDU(smbClose, true, 0, m+2, s.sid, s.tid, fixed(60, 60))))
		s.msg += 3
		return
	}
	f := s.open(name, fileOverwriteIf, accessWrite, 0)
	s.write(f, data)
	s.close(f)
}

// getFile opens name, reads n bytes and closes it.
func (s *smbClient) getFile(name string, n int) {
	f := s.open(name, fileOpen, accessRead, uint64(n))
	s.read(f, n)
	s.close(f)
}

// psexec is what PsExec does on IPC$ once its service binary is on
// ADMIN$: the svcctl pipe, a bind, OpenSCManagerW, CreateServiceW and
// StartServiceW.
func (s *smbClient) psexec(machine, service, path string) {
	f := s.open("svcctl", fileOpen, 0x0012019f, 0)
	s.rpc++
	bind := rpcBind(s.rpc)
	s.write(f, bind)
	s.call(smbRead, readReq(f, 1024), statusOK, readResp(rpcBindAck(s.rpc)))
	handle := make([]byte, 20)
	handle[0], handle[19] = 0xaa, byte(s.rpc)
	pipe := func(opnum uint16, stub, out []byte) {
		s.rpc++
		s.call(smbIoctl, ioctlReq(f, rpcRequest(s.rpc, opnum, stub)), statusOK, ioctlResp(f, rpcResponse(s.rpc, out)))
	}
	pipe(15, openSCManagerW(machine), cat(handle, make([]byte, 4)))
	pipe(12, createServiceW(handle, service, path), cat(make([]byte, 4), handle, make([]byte, 4)))
	pipe(19, cat(handle, make([]byte, 8)), make([]byte, 4))
	s.close(f)
}
