package scenario

import (
	"fmt"
	"net/netip"
	"time"

	"mamori/rules/rulestest"
)

// attacks renders the attack episodes of day d and labels them. Their
// meaning follows the rules' definitions (rules/*/doc.go).
func (h *hospital) attacks(d time.Time) []rulestest.Label {
	r := h.r
	var labels []rulestest.Label
	at := func(hour, m int) time.Time {
		return d.Add(time.Duration(hour)*time.Hour + time.Duration(m)*time.Minute)
	}
	pick := h.pick
	label := func(rule, name string, actor, peer netip.Addr, from, to time.Time) {
		labels = append(labels, rulestest.Label{Rule: rule, Name: name, Actor: actor, Peer: peer, From: from, To: to})
	}

	// rdp-scan: a workstation tries RDP on 12–150 hosts of the department
	// segment, within seconds to minutes (or slowly, over most of an
	// hour), by day or at night: most refuse or do not answer, some answer
	// the X.224 request. Sometimes on a non-standard port, where only the
	// hosts that answer RDP tell it is RDP.
	{
		src := pick()
		n := 12 + r.IntN(139)
		span := time.Duration(20+r.IntN(220)) * time.Second
		slow := r.IntN(4) == 0
		if slow {
			n = 30 + r.IntN(40)
			span = time.Duration(15+r.IntN(35)) * time.Minute
		}
		port := uint16(3389)
		if r.IntN(3) == 0 {
			port = h.adminRDPPort + uint16(1+r.IntN(3))
		}
		hour := 9 + r.IntN(9)
		if r.IntN(4) == 0 {
			hour = r.IntN(5)
		}
		t0 := at(hour, r.IntN(60))
		base := 100 + r.IntN(100)
		recognised, learned := 0, port == 3389
		var tenth time.Time
		for i := range n {
			t := t0.Add(span * time.Duration(i) / time.Duration(n))
			dst := addr4(h.dept, base+i/250, 1+i%250)
			k := r.IntN(20)
			cli, srv := ap(src.ip, h.w.port()), ap(dst, port)
			switch {
			case k < 9:
				h.w.refused(cli, srv, t)
			case k < 15:
				h.w.unanswered(cli, srv, t)
			default:
				h.rdpProbe(t, src.ip, dst, port, "Administr", k%2 == 0)
				learned = true
			}
			if learned {
				if recognised++; recognised == 10 {
					tenth = t
				}
			}
		}
		name := fmt.Sprintf("rdp scan of %d hosts on port %d over %v", n, port, span.Round(time.Second))
		label("rdp-scan", name, src.ip, netip.Addr{}, t0, t0.Add(span))
		if !slow && !tenth.IsZero() && tenth.Sub(t0) <= 10*time.Minute {
			h.deadlines = append(h.deadlines, Deadline{Label: len(labels) - 1, By: tenth.Add(time.Minute), Why: "an RDP scan within 60 s of its 10th target"})
		}
	}
	// smb-lateral: PsExec from a workstation to 6–15 PCs it never used,
	// with stolen domain credentials.
	{
		src := pick()
		n := min(6+r.IntN(10), h.free()-10) // leave hosts for the other episodes
		t0 := at(14+r.IntN(4), r.IntN(60))
		t := t0
		style := smbStyle{netbios: r.IntN(4) == 0, v311: r.IntN(2) == 0, compound: r.IntN(2) == 0}
		share := []string{"ADMIN$", "C$"}[r.IntN(2)]
		for range n {
			dst := pick()
			h.psexecTo(t, src, dst, "svc-helpdesk", style, share)
			t = t.Add(time.Duration(5+r.IntN(40)) * time.Second)
		}
		label("smb-lateral", fmt.Sprintf("psexec spread to %d hosts via %s %+v", n, share, style), src.ip, netip.Addr{}, t0, t0.Add(15*time.Minute))
	}
	// smb-lateral: an SMB sweep of a subnet, most hosts refused.
	{
		src := pick()
		n := 8 + r.IntN(30)
		t0 := at(11, r.IntN(60))
		for i := range n {
			t := t0.Add(time.Duration(i) * time.Second)
			dst := addr4(h.his, 245+i/200, 10+i%200)
			cli, srv := ap(src.ip, h.w.port()), ap(dst, 445)
			switch r.IntN(3) {
			case 0:
				h.w.refused(cli, srv, t)
			case 1:
				h.w.unanswered(cli, srv, t)
			default:
				c := h.w.tcp(cli, srv, t)
				s := &smbClient{c: c}
				s.call(smbNegotiate, negotiateReq(false), statusOK, negotiateResp(false))
				c.close()
			}
		}
		label("smb-lateral", "smb sweep", src.ip, netip.Addr{}, t0, t0.Add(time.Minute))
	}
	// smb-lateral: ransomware encrypting a department share from one PC:
	// each file read, rewritten and renamed with a new extension.
	{
		src := pick()
		n := 20 + r.IntN(40)
		t0 := at(16+r.IntN(3), r.IntN(60))
		ext := []string{"lockbit", "locked", "akira", "crypt"}[r.IntN(4)]
		h.encryptShare(t0, src, n, ext)
		label("smb-lateral", "ransomware renames ."+ext, src.ip, netip.Addr{}, t0, t0.Add(5*time.Minute))
	}
	// night-beacon: a workstation calls a C2 server at night, with jitter
	// and missed beats, until the morning.
	{
		src := pick()
		period := time.Duration(30+r.IntN(870)) * time.Second
		if r.IntN(4) == 0 {
			period = time.Duration(20+r.IntN(31)) * time.Minute // a slow beacon: 7 to 20 beats a night, under the rule's maximum period (75m)
		}
		jit := 0.2 * r.Float64()
		t0 := at(23, r.IntN(60))
		c2 := netip.AddrFrom4([4]byte{45, byte(10 + r.IntN(200)), byte(r.IntN(250)), byte(1 + r.IntN(250))})
		name := fmt.Sprintf("cdn-%d.%s", r.IntN(1000), []string{"example.net", "example.org", "example.com"}[r.IntN(3)])
		size := 800 + r.IntN(4000)
		style := r.IntN(3)
		port := uint16(443)
		if style == 1 {
			port = []uint16{80, 8080}[r.IntN(2)]
		}
		if style != 2 {
			h.lookup(t0.Add(-100*time.Millisecond), src.ip, name, c2)
		}
		beats, missed := 0, 0
		var eighth time.Time
		for t := t0; t.Before(at(30, 0)); t = t.Add(jitter(r, period, jit)) {
			if r.Float64() < 0.1 {
				if beats < 8 {
					missed++
				}
				continue // a missed beat
			}
			if beats++; beats == 8 {
				eighth = t
			}
			switch style {
			case 0: // TLS with SNI, the name looked up once
				h.tlsSession(t, src.ip, c2, port, name, size, size*2, 400*time.Millisecond)
			case 1: // HTTP polling, the name looked up every time
				h.lookup(t.Add(-30*time.Millisecond), src.ip, name, c2)
				h.httpPoll(t, src.ip, c2, port, name, size)
			default: // TLS to a bare address
				h.tlsSession(t, src.ip, c2, port, "", size, size*2, 400*time.Millisecond)
			}
		}
		label("night-beacon", fmt.Sprintf("beacon %v ±%.0f%% style %d port %d", period, jit*100, style, port), src.ip, c2, t0, at(30, 0))
		// Missed beats or not, the 8th beat is the deadline: the rule
		// counts an interval that spans a missed beat as one of two
		// periods (an alert at the 6th beat with up to two missed).
		if !eighth.IsZero() {
			h.deadlines = append(h.deadlines, Deadline{Label: len(labels) - 1, By: eighth.Add(time.Minute), Why: fmt.Sprintf("a beacon within a few periods (by its 8th beat, %d missed before it)", missed)})
		}
		label("new-external-peer", "beacon's peer", src.ip, c2, t0, t0.Add(time.Hour))
	}
	// new-external-peer: the database uploads 80 MB to an unknown address.
	{
		t0 := at(12+r.IntN(5), r.IntN(60))
		peer := netip.AddrFrom4([4]byte{185, 220, 101, byte(1 + r.IntN(250))})
		h.tlsSession(t0, h.db, peer, 443, "", 80_000_000, 200_000, 10*time.Minute)
		label("new-external-peer", "exfiltration", h.db, peer, t0, t0.Add(10*time.Minute))
	}
	// maintenance-window: the vendor at 02:00, and straight to the DB.
	{
		t0 := at(2, r.IntN(50))
		h.vendorSession(t0, h.ehr[0], 50*time.Minute)
		label("maintenance-window", "vendor at night", h.vendorExt, netip.Addr{}, t0, t0.Add(time.Hour))
		t1 := at(h.windowTo/60+2+r.IntN(2), r.IntN(60))
		h.exchange(t1, h.vendorExt, h.db, 1433, tdsReq, tdsResp, 5, 5*time.Minute)
		label("maintenance-window", "vendor bypasses the jump host", h.vendorExt, h.db, t1, t1.Add(5*time.Minute))
	}
	// rdp-scan: brute force, many short RDP logons from one PC to one
	// server within minutes.
	{
		src := pick()
		dst := h.rdpServer
		n := 12 + r.IntN(30)
		t0 := at(r.IntN(24), r.IntN(60))
		t := t0
		for range n {
			h.rdpShort(t, src.ip, dst, h.adminRDPPort, []string{"administrator", "admin", "user"}[r.IntN(3)])
			t = t.Add(time.Duration(3+r.IntN(15)) * time.Second)
		}
		label("rdp-scan", fmt.Sprintf("rdp brute force, %d logons", n), src.ip, dst, t0, t)
	}
	// maintenance-window: the vendor, inside its window, goes from the jump
	// host to a server it is not listed for (SSH to the HL7 engine).
	{
		t0 := d.Add(time.Duration(h.windowFrom+5+r.IntN(h.windowTo-h.windowFrom-60)) * time.Minute)
		h.exchange(t0, h.jump, h.hl7, 22, []byte("SSH-2.0-PuTTY_Release_0.81\r\n"), []byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n"), 4, 8*time.Minute)
		label("maintenance-window", "vendor reaches an unlisted host", h.jump, h.hl7, t0, t0.Add(10*time.Minute))
	}
	// new-external-peer: someone on the internet logs on by RDP to a PC
	// (a forgotten port forward); an RDP pair never seen, too.
	{
		dst := pick()
		ext := netip.AddrFrom4([4]byte{92, byte(r.IntN(250)), byte(r.IntN(250)), byte(1 + r.IntN(250))})
		t0 := at(r.IntN(24), r.IntN(60))
		h.rdpSession(t0, ext, dst.ip, 3389, "administrator", time.Duration(5+r.IntN(30))*time.Minute, 4_000_000)
		label("new-external-peer", "inbound RDP from the internet", dst.ip, ext, t0, t0.Add(30*time.Minute))
		label("rdp-scan", "inbound RDP from the internet: a pair never seen", dst.ip, ext, t0, t0.Add(30*time.Minute))
	}
	// segment-policy: a department PC opens RDP into the device segment
	// (and rdp-scan: an RDP pair never seen before).
	{
		src := h.deptPCs[r.IntN(len(h.deptPCs))]
		t0 := at(9+r.IntN(8), r.IntN(60))
		h.rdpSession(t0, src.ip, h.pump, 3389, "labuser", 10*time.Minute, 5_000_000)
		label("segment-policy", "department to devices", src.ip, netip.Addr{}, t0, t0.Add(10*time.Minute))
		label("rdp-scan", "department to devices: an RDP pair never seen", src.ip, h.pump, t0, t0.Add(10*time.Minute))
	}
	return labels
}

// nearMisses renders traffic that looks like an attack but is not,
// labelled with the rule it could fool.
func (h *hospital) nearMisses(d time.Time) []rulestest.Label {
	r := h.r
	at := func(hour, m int) time.Time {
		return d.Add(time.Duration(hour)*time.Hour + time.Duration(m)*time.Minute)
	}
	var labels []rulestest.Label
	near := func(rule, name string, actor, peer netip.Addr, from, to time.Time) {
		labels = append(labels, rulestest.Label{Rule: rule, Name: name, Actor: actor, Peer: peer, From: from, To: to, NearMiss: true})
	}
	// An admin patches 20 PCs over SMB (admin shares, services and all).
	{
		a := h.admins[0]
		t0 := at(12, r.IntN(60))
		for i := range min(20, len(h.ws)) {
			h.smbPush(t0.Add(time.Duration(i)*30*time.Second), a, h.ws[(i*11)%len(h.ws)], "patch.msi")
		}
		near("smb-lateral", "admin software push", a.ip, netip.Addr{}, t0, t0.Add(15*time.Minute))
	}
	// An admin opens real RDP sessions on 12 PCs.
	{
		a := h.admins[1]
		t0 := at(9, r.IntN(60))
		for i := range 12 {
			h.rdpSession(t0.Add(time.Duration(i)*40*time.Second), a.ip, h.ws[(i*5)%len(h.ws)].ip, 3389, a.user, 15*time.Minute, 3_000_000)
		}
		near("rdp-scan", "admin RDP round", a.ip, netip.Addr{}, t0, t0.Add(20*time.Minute))
	}
	// A user mistypes a host name four times.
	{
		src := h.pick()
		t0 := at(10, r.IntN(60))
		for i := range 4 {
			h.w.refused(ap(src.ip, h.w.port()), ap(addr4(h.his, int(h.dc[0].As4()[2]), 230+i), 3389), t0.Add(time.Duration(i)*20*time.Second))
		}
		near("rdp-scan", "mistyped hosts", src.ip, netip.Addr{}, t0, t0.Add(2*time.Minute))
	}
	// A new workstation is installed and used normally.
	{
		w := &host{ip: addr4(h.his, int(h.ws[0].ip.As4()[2])+3, 5), name: "PC-NEW01", user: "n99999", share: "ward3"}
		t0 := at(9, r.IntN(30))
		h.workday(w, d, d.Add(24*time.Hour), false, 9*60+r.IntN(30), 17*60)
		near("smb-lateral", "new workstation", w.ip, netip.Addr{}, t0, at(17, 0))
	}
	// A clerk saves a batch of scanned forms to the share: many files
	// written, none renamed.
	{
		w := h.pick()
		t0 := at(15, r.IntN(60))
		c := h.w.tcp(ap(w.ip, h.w.port()), ap(h.fs, 445), t0)
		s := c.smbLogon(h.fsName, h.domain, w.user, w.name, statusOK)
		s.tree(`\\`+h.fsName+`\`+w.share, statusOK)
		for i := range 40 {
			s.putFile(fmt.Sprintf(`scans\form_%04d.pdf`, i), make([]byte, 3000))
		}
		c.close()
		near("smb-lateral", "batch of scanned forms", w.ip, netip.Addr{}, t0, t0.Add(10*time.Minute))
	}
	// The vendor starts ten minutes before its window (within the grace).
	{
		t0 := d.Add(time.Duration(h.windowFrom-10) * time.Minute)
		h.vendorSession(t0, h.ehr[0], 30*time.Minute)
		near("maintenance-window", "vendor 10 minutes early (grace)", h.vendorExt, netip.Addr{}, t0, t0.Add(40*time.Minute))
	}
	// A user mistypes a password five times over RDP.
	{
		src := h.pick()
		t0 := at(11+r.IntN(5), r.IntN(60))
		for i := range 5 {
			h.rdpShort(t0.Add(time.Duration(i)*20*time.Second), src.ip, h.rdpServer, h.adminRDPPort, src.user)
		}
		near("rdp-scan", "five failed RDP logons", src.ip, netip.Addr{}, t0, t0.Add(2*time.Minute))
	}
	// The pump gateway's cloud moves to a new address under the same name.
	near("new-external-peer", "pump cloud moved (same name)", h.pump, h.pumpCloud2, h.pumpMove, h.pumpMove.Add(24*time.Hour))
	near("night-beacon", "pump cloud moved (same name)", h.pump, h.pumpCloud2, h.pumpMove, h.pumpMove.Add(24*time.Hour))
	near("night-beacon", "night shift EHR use", h.ws[0].ip, netip.Addr{}, at(0, 0), at(6, 0))
	near("night-beacon", "pump gateway (learned)", h.pump, netip.Addr{}, at(0, 0), at(30, 0))
	near("night-beacon", "antivirus updates (allowed)", h.av, netip.Addr{}, at(0, 0), at(30, 0))
	near("new-external-peer", "antivirus updates (allowed)", h.av, netip.Addr{}, at(0, 0), at(30, 0))
	near("smb-lateral", "nightly backups", h.backup, netip.Addr{}, at(0, 0), at(30, 0))
	near("maintenance-window", "vendor inside its window", h.vendorExt, h.jump, d.Add(time.Duration(h.windowFrom)*time.Minute), d.Add(time.Duration(h.windowTo+30)*time.Minute))
	return labels
}

// psexecTo is PsExec run from src on dst with user's (stolen) password:
// its service binary copied to ADMIN$, then created and started as a
// service over svcctl.
func (h *hospital) psexecTo(t time.Time, src, dst *host, user string, style smbStyle, share string) {
	port := uint16(445)
	if style.netbios {
		port = 139
	}
	c := h.w.tcp(ap(src.ip, h.w.port()), ap(dst.ip, port), t)
	s := c.smbLogon(dst.name, h.domain, user, src.name, statusOK, style)
	s.tree(`\\`+dst.ip.String()+`\`+share, statusOK)
	file := `PSEXESVC.exe`
	if share == "C$" {
		file = `Windows\PSEXESVC.exe`
	}
	s.putFile(file, cat([]byte("MZ\x90\x00"), make([]byte, 4000)))
	s.tree(`\\`+dst.ip.String()+`\IPC$`, statusOK)
	s.psexec(dst.ip.String(), "PSEXESVC", `%SystemRoot%\PSEXESVC.exe`)
	c.idle(time.Duration(2+h.r.IntN(10)) * time.Second)
	c.close()
}

// encryptShare is ransomware on src encrypting n files of its user's
// share on the file server: each read, rewritten and renamed to .ext.
func (h *hospital) encryptShare(t time.Time, src *host, n int, ext string) {
	r := h.r
	c := h.w.tcp(ap(src.ip, h.w.port()), ap(h.fs, 445), t)
	s := c.smbLogon(h.fsName, h.domain, src.user, src.name, statusOK)
	s.tree(`\\`+h.fsName+`\`+src.share, statusOK)
	for i := range n {
		name := fmt.Sprintf(`%s\%s_%d.%s`, []string{"common", "forms", "archive"}[i%3], docNames[r.IntN(len(docNames))], i, docExts[r.IntN(len(docExts))])
		f := s.open(name, fileOpen, accessDelete|accessWrite, 8000)
		s.read(f, 4000)
		s.write(f, make([]byte, 4000))
		s.rename(f, name+"."+ext)
		s.close(f)
		c.idle(time.Duration(200+r.IntN(2000)) * time.Millisecond)
	}
	c.close()
}

// free is how many day-shift workstations no episode uses yet.
func (h *hospital) free() int { return len(h.ws) - h.nightShift - len(h.used) }

// pick returns a day-shift workstation that no other episode or near
// miss uses (as actor or target), so that labels never share a host.
func (h *hospital) pick() *host {
	if h.free() <= 0 {
		panic("scenario: too few workstations for the episodes")
	}
	if h.used == nil {
		h.used = map[*host]bool{}
	}
	for {
		w := h.ws[h.nightShift+h.r.IntN(len(h.ws)-h.nightShift)]
		if !h.used[w] {
			h.used[w] = true
			return w
		}
	}
}
