package scenario

import (
	"fmt"
	"net/netip"
	"time"
)

// Conversations of the hospital's services, each rendered as the packets
// a sensor on the core switch would see.

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

func (h *hospital) random32() (b [32]byte) {
	for i := range b {
		b[i] = byte(h.r.Uint32())
	}
	return b
}

// lookup is a DNS A query from cli to one of the DNS servers, answered
// with addrs (NXDOMAIN without).
func (h *hospital) lookup(t time.Time, cli netip.Addr, name string, addrs ...netip.Addr) {
	id := uint16(h.r.Uint32())
	srv := h.dc[h.r.IntN(len(h.dc))]
	h.w.udp(ap(cli, h.w.port()), ap(srv, 53), t, dnsQuery(id, name), dnsAnswer(id, name, addrs...))
}

// tlsSession is a TLS connection (SNI sni, none when "") that carries up
// and down bytes of application data over d.
func (h *hospital) tlsSession(t time.Time, cli, srv netip.Addr, port uint16, sni string, up, down int, d time.Duration) time.Time {
	c := h.w.tcp(ap(cli, h.w.port()), ap(srv, port), t)
	rnd := h.random32()
	c.cli(clientHello(sni, rnd))
	c.srv(serverHello(rnd))
	c.cli(clientFinished(rnd, 300+h.r.IntN(400)))
	c.srv(appData(500 + h.r.IntN(1500)))
	if up > 0 || down > 0 {
		c.bulk(true, up, d/2)
		c.bulk(false, down, d/2)
	} else {
		c.idle(d)
	}
	c.close()
	return c.t
}

// rdpSession is an RDP connection: X.224 negotiation with the user's
// mstshash cookie, the TLS handshake of CredSSP and a session of d.
func (h *hospital) rdpSession(t time.Time, cli, srv netip.Addr, port uint16, user string, d time.Duration, down int) {
	c := h.w.tcp(ap(cli, h.w.port()), ap(srv, port), t)
	c.cli(rdpRequest(user))
	c.srv(rdpConfirm(0))
	rnd := h.random32()
	c.cli(clientHello("", rnd))
	c.srv(serverHello(rnd))
	c.cli(clientFinished(rnd, 1200))
	c.bulk(false, down, d/2)
	c.bulk(true, down/20, d/2)
	c.close()
}

// rdpProbe is what a scanner does to a host that answers RDP: it asks for
// a connection and drops it after the confirm (or the refusal).
func (h *hospital) rdpProbe(t time.Time, cli, srv netip.Addr, port uint16, user string, refuse bool) {
	c := h.w.tcp(ap(cli, h.w.port()), ap(srv, port), t)
	c.cli(rdpRequest(user))
	if refuse {
		c.srv(rdpConfirm(5)) // HYBRID_REQUIRED_BY_SERVER
	} else {
		c.srv(rdpConfirm(0))
	}
	c.segment(true, nil, 0, rst|ack)
}

// rdpShort is one failed or abandoned RDP logon: negotiation, the TLS
// handshake, a little CredSSP and the server closing within seconds.
func (h *hospital) rdpShort(t time.Time, cli, srv netip.Addr, port uint16, user string) {
	c := h.w.tcp(ap(cli, h.w.port()), ap(srv, port), t)
	c.cli(rdpRequest(user))
	c.srv(rdpConfirm(0))
	rnd := h.random32()
	c.cli(clientHello("", rnd))
	c.srv(serverHello(rnd))
	c.cli(clientFinished(rnd, 400))
	c.srv(appData(300))
	c.idle(time.Duration(500+h.r.IntN(2000)) * time.Millisecond)
	c.close()
}

// httpPoll is a plain HTTP request with a Host header and its answer.
func (h *hospital) httpPoll(t time.Time, cli, srv netip.Addr, port uint16, host string, size int) {
	c := h.w.tcp(ap(cli, h.w.port()), ap(srv, port), t)
	c.cli(httpGet(host, fmt.Sprintf("/api/v2/poll?id=%08x", h.r.Uint32()), "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"))
	c.srv(httpOK(size))
	c.close()
}

// exchange is a TCP connection that carries opaque request/answer pairs
// (Kerberos, LDAP, SQL, printing…) count times over d.
func (h *hospital) exchange(t time.Time, cli, srv netip.Addr, port uint16, req, resp []byte, count int, d time.Duration) {
	c := h.w.tcp(ap(cli, h.w.port()), ap(srv, port), t)
	for i := range count {
		c.cli(req)
		c.srv(resp)
		if i < count-1 {
			c.idle(d / time.Duration(count))
		}
	}
	c.close()
}

// Opaque payloads of protocols mamori does not parse, shaped like theirs.
var (
	krbReq  = cat([]byte{0, 0, 0, 0xf0, 0x6a, 0x81, 0xed, 0x30, 0x81, 0xea}, make([]byte, 230))
	krbResp = cat([]byte{0, 0, 0x05, 0xd0, 0x6b, 0x82, 0x05, 0xcc, 0x30, 0x82}, make([]byte, 1480))
	ldapReq = cat([]byte{0x30, 0x84, 0, 0, 0, 0x60, 0x02, 0x01, 0x01, 0x63}, make([]byte, 96))
	ldapRsp = cat([]byte{0x30, 0x84, 0, 0, 0x01, 0x20, 0x02, 0x01, 0x01, 0x64}, make([]byte, 288))
	tdsReq  = tds(1, cat([]byte{22, 0, 0, 0, 18, 0, 0, 0, 2, 0}, make([]byte, 8), []byte{1, 0, 0, 0}, utf16le("SELECT TOP 50 * FROM orders WHERE status = 1")))
	tdsResp = tds(4, []byte{0xfd, 0x10, 0, 0xc1, 0, 50, 0, 0, 0, 0, 0, 0, 0})
	rpcEP   = cat([]byte{5, 0, 11, 3, 0x10, 0, 0, 0, 0x48, 0, 0, 0}, make([]byte, 60))
	rpcEPR  = cat([]byte{5, 0, 12, 3, 0x10, 0, 0, 0, 0x44, 0, 0, 0}, make([]byte, 56))
	snmpGet = cat([]byte{0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06}, []byte("public"), []byte{0xa0, 0x1c}, make([]byte, 28))
	snmpRsp = cat([]byte{0x30, 0x2e, 0x02, 0x01, 0x01, 0x04, 0x06}, []byte("public"), []byte{0xa2, 0x21}, make([]byte, 33))
	pjl     = []byte("\x1b%-12345X@PJL JOB NAME=\"order\"\r\n@PJL ENTER LANGUAGE=PCL\r\n")
)

// tds is a TDS packet (MS-TDS §2.2.3): an SQL batch (1) or a tabular
// result (4).
func tds(typ byte, body []byte) []byte {
	return cat([]byte{typ, 1}, u16(uint16(8+len(body))), []byte{0, 0x37, 1, 0}, body)
}

func ntpPacket(server bool) []byte {
	b := make([]byte, 48)
	b[0] = 0x23 // v4, client
	if server {
		b[0], b[1] = 0x24, 2
	}
	return b
}

// logon is a workstation's Windows logon: the DC's address looked up,
// Kerberos, LDAP, and SMB to SYSVOL for the group policy.
func (h *hospital) logon(t time.Time, ws *host) {
	dc := h.dc[h.r.IntN(len(h.dc))]
	h.lookup(t, ws.ip, h.dcName(dc)+"."+h.dnsDomain, dc)
	h.exchange(t.Add(50*time.Millisecond), ws.ip, dc, 88, krbReq, krbResp, 2, time.Second)
	h.exchange(t.Add(time.Second), ws.ip, dc, 389, ldapReq, ldapRsp, 3, 2*time.Second)
	c := h.w.tcp(ap(ws.ip, h.w.port()), ap(dc, 445), t.Add(2*time.Second))
	s := c.smbLogon(h.dcName(dc), h.domain, ws.user, ws.name, statusOK)
	s.tree(`\\`+h.dcName(dc)+`\IPC$`, statusOK)
	s.tree(`\\`+h.dcName(dc)+`\SYSVOL`, statusOK)
	s.getFile(h.dnsDomain+`\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\gpt.ini`, 60)
	s.getFile(h.dnsDomain+`\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\Machine\Registry.pol`, 2400)
	s.disconnect()
	c.close()
}

// fileWork is a user opening and saving a few documents on the file
// server's department share.
func (h *hospital) fileWork(t time.Time, ws *host, files int) {
	c := h.w.tcp(ap(ws.ip, h.w.port()), ap(h.fs, 445), t)
	s := c.smbLogon(h.fsName, h.domain, ws.user, ws.name, statusOK)
	s.tree(`\\`+h.fsName+`\`+ws.share, statusOK)
	for i := range files {
		name := fmt.Sprintf(`%s\%s_%d.%s`, ws.user, docNames[h.r.IntN(len(docNames))], h.r.IntN(900)+100, docExts[h.r.IntN(len(docExts))])
		if i%2 == 0 {
			s.getFile(name, 2000+h.r.IntN(6000))
		} else {
			s.putFile(name, make([]byte, 1000+h.r.IntN(4000)))
		}
		c.idle(time.Duration(5+h.r.IntN(60)) * time.Second)
	}
	s.disconnect()
	c.close()
}

var (
	docNames = []string{"shift", "order", "report", "minutes", "inventory", "roster", "summary", "budget"}
	docExts  = []string{"xlsx", "docx", "pdf", "txt"}
)

// dicomStore is a modality sending a study of images to the PACS.
func (h *hospital) dicomStore(t time.Time, mod *host, images int) {
	c := h.w.tcp(ap(mod.ip, h.w.port()), ap(h.pacsSrv, h.dicomPort), t)
	c.cli(dicomAssociate(true, h.pacsAE, mod.name))
	c.srv(dicomAssociate(false, h.pacsAE, mod.name))
	for i := range images {
		inst := fmt.Sprintf("1.2.392.200036.9116.2.%d.%d.%d", h.r.IntN(1e6), t.Unix()%1e6, i+1)
		c.cli(cStoreRQ(uint16(i+1), inst))
		size := 500_000 + h.r.IntN(200_000)
		head := pdata(2, make([]byte, 256), size)
		c.send(true, head)
		c.bulk(true, size, 200*time.Millisecond)
		c.srv(cStoreRSP(uint16(i+1), inst))
	}
	c.cli(dicomPDU(5, make([]byte, 4)))
	c.srv(dicomPDU(6, make([]byte, 4)))
	c.close()
}

// hl7Link is an MLLP connection from one interface engine to another
// that carries a message (and its ACK) every few minutes for d.
func (h *hospital) hl7Link(t time.Time, from, to netip.Addr, fromApp, toApp string, d time.Duration) {
	c := h.w.tcp(ap(from, h.w.port()), ap(to, h.hl7Port), t)
	end := t.Add(d)
	for c.t.Before(end) {
		h.msgID++
		id := fmt.Sprintf("%s%08d", fromApp[:2], h.msgID)
		typ := []string{"ORM^O01^ORM_O01", "ADT^A01^ADT_A01", "ADT^A08^ADT_A01", "ORU^R01^ORU_R01"}[h.r.IntN(4)]
		c.cli(hl7Message(fromApp, toApp, typ, id, c.t))
		c.srv(hl7Ack(toApp, fromApp, id, c.t))
		c.idle(time.Duration(40+h.r.IntN(200)) * time.Second)
	}
	c.close()
}

// smbPush is an administrator's software deployment to a PC: the
// installer copied to ADMIN$ and run through a service, as PsExec or a
// management tool does.
func (h *hospital) smbPush(t time.Time, admin *host, dst *host, file string) {
	c := h.w.tcp(ap(admin.ip, h.w.port()), ap(dst.ip, 445), t)
	s := c.smbLogon(dst.name, h.domain, admin.user, admin.name, statusOK)
	s.tree(`\\`+dst.name+`\ADMIN$`, statusOK)
	s.putFile(`Temp\`+file, make([]byte, 6000))
	s.tree(`\\`+dst.name+`\IPC$`, statusOK)
	s.psexec(dst.name, "PSEXESVC", `%SystemRoot%\PSEXESVC.exe`)
	c.idle(time.Duration(5+h.r.IntN(20)) * time.Second)
	c.close()
}
