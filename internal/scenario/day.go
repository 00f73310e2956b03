package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// day renders one normal day that starts at d (midnight in the site's
// zone); nothing starts at or after end.
func (h *hospital) day(d, end time.Time) {
	r := h.r
	dayEnd := d.Add(24 * time.Hour)
	if end.After(dayEnd) {
		end = dayEnd
	}
	at := func(m int) time.Time { return d.Add(time.Duration(m) * time.Minute) }
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday

	for i, ws := range h.ws {
		night := i < h.nightShift
		if weekend && !night && r.IntN(4) > 0 {
			continue
		}
		h.workday(ws, d, end, night, 8*60+r.IntN(60), 17*60+r.IntN(120))
	}

	// Domain controllers replicate; monitoring polls every server.
	for t := at(r.IntN(10)); t.Before(end); t = t.Add(30 * time.Minute) {
		h.exchange(t, h.dc[0], h.dc[1], 135, rpcEP, rpcEPR, 1, time.Second)
		h.exchange(t.Add(2*time.Second), h.dc[1], h.dc[0], 389, ldapReq, ldapRsp, 2, time.Second)
		for k, a := range h.servers() {
			h.w.udp(ap(h.mon, h.w.port()), ap(a, 161), t.Add(time.Duration(5+k)*time.Second), snmpGet, snmpRsp)
		}
	}
	// The antivirus server fetches pattern files every hour (allowed).
	for t := at(r.IntN(60)); t.Before(end); t = t.Add(jitter(r, time.Hour, 0.05)) {
		h.lookup(t, h.av, h.avName, h.avCloud)
		h.tlsSession(t.Add(30*time.Millisecond), h.av, h.avCloud, 443, h.avName, 2000, 200_000+r.IntN(300_000), 20*time.Second)
	}
	// The first DC keeps time with NTP (allowed).
	for t := at(r.IntN(17)); t.Before(end); t = t.Add(1024 * time.Second) {
		h.w.udp(ap(h.dc[0], 123), ap(h.ntp, 123), t, ntpPacket(false), ntpPacket(true))
	}
	// HL7: the EHR sends orders to the interface engine, which forwards
	// them to the LIS; one MLLP connection an hour each. The EHR also
	// queries its database.
	for t := at(r.IntN(5)); t.Before(end); t = t.Add(time.Hour) {
		h.hl7Link(t, h.ehr[0], h.hl7, "EHR", "HL7ENGINE", 55*time.Minute)
		h.hl7Link(t.Add(20*time.Second), h.hl7, h.lis, "HL7ENGINE", "LIS", 55*time.Minute)
		h.exchange(t.Add(time.Minute), h.ehr[0], h.db, 1433, tdsReq, tdsResp, 12, 50*time.Minute)
	}
	// Modalities send studies to the PACS, by day; the ER's CT at night
	// too.
	for m, mod := range h.modalities {
		for t := at(r.IntN(120)); t.Before(end); t = t.Add(time.Duration(30+r.IntN(120)) * time.Minute) {
			if m > 0 && (t.Hour() < 7 || t.Hour() > 20) {
				continue
			}
			h.dicomStore(t, mod, 1+r.IntN(3))
		}
	}
	// An infusion-pump gateway reports to its vendor's cloud every five
	// minutes, day and night (learned as normal).
	moved := false
	for t := at(r.IntN(5)); t.Before(end); t = t.Add(jitter(r, 5*time.Minute, 0.03)) {
		cloud := h.pumpCloud
		if !h.pumpMove.IsZero() && !t.Before(h.pumpMove) {
			cloud = h.pumpCloud2 // the cloud service moved; its name did not
		}
		if t.Minute() < 5 || cloud != h.pumpCloud && !moved {
			h.lookup(t.Add(-50*time.Millisecond), h.pump, h.pumpName, cloud)
			moved = cloud != h.pumpCloud
		}
		h.tlsSession(t, h.pump, cloud, 443, h.pumpName, 1500, 800, time.Second)
	}
	// Nightly backups of the servers over SMB.
	for i, a := range h.servers() {
		t := at(60 + 10*i + r.IntN(5))
		if !t.Before(end) {
			continue
		}
		c := h.w.tcp(ap(h.backup, h.w.port()), ap(a, 445), t)
		s := c.smbLogon(h.nameOf(a), h.domain, "svc-backup", "BACKUP01", statusOK)
		s.tree(`\\`+h.nameOf(a)+`\backup`, statusOK)
		f := s.open(`daily\export.bak`, fileOpen, accessRead, 40<<20)
		c.bulk(false, 20<<20+r.IntN(20<<20), time.Duration(5+r.IntN(10))*time.Minute)
		s.close(f)
		s.disconnect()
		c.close()
	}
	// Administrators, on weekdays: RDP to servers, software pushes.
	if !weekend {
		for _, a := range h.admins {
			for k := range 3 {
				srv := []netip.Addr{h.ehr[0], h.ehr[1], h.fs, h.db}[r.IntN(4)]
				t := at((9+2*k)*60 + r.IntN(60))
				if t.Before(end) {
					h.rdpSession(t, a.ip, srv, h.rdpPort(srv), a.user, time.Duration(10+r.IntN(40))*time.Minute, 2_000_000+r.IntN(10_000_000))
				}
			}
			for k := range 3 {
				t := at(10*60 + 10*k + r.IntN(5))
				if t.Before(end) {
					h.smbPush(t, a, h.ws[r.IntN(len(h.ws))], fmt.Sprintf("patch_kb%d.msi", 5000000+r.IntN(99999)))
				}
			}
		}
	}
	// The EHR vendor's maintenance inside its window.
	if slices.Contains(h.windowDays, d.Weekday()) {
		t := at(h.windowFrom + 20 + r.IntN(60))
		if t.Before(end) {
			h.vendorSession(t, h.ehr[0], 80*time.Minute)
		}
	}
}

// vendorSession is the vendor's VPN into its jump host and RDP from
// there to target, with the jump host's logon at the DC.
func (h *hospital) vendorSession(t time.Time, target netip.Addr, d time.Duration) {
	h.tlsSession(t, h.vendorExt, h.jump, 443, "", 200_000, 3_000_000, d+10*time.Minute)
	h.exchange(t.Add(30*time.Second), h.jump, h.dc[0], 88, krbReq, krbResp, 2, time.Second)
	h.rdpSession(t.Add(time.Minute), h.jump, target, h.rdpPort(target), "ehrvendor", d, 3_000_000)
}

// workday is one user's day at a workstation from minute from to minute
// to: logon, file shares, the EHR all day, printing, PACS images.
func (h *hospital) workday(ws *host, d, end time.Time, night bool, from, to int) {
	r := h.r
	if night {
		from, to = r.IntN(30), 24*60-1
	}
	t := d.Add(time.Duration(from) * time.Minute)
	stop := d.Add(time.Duration(to) * time.Minute)
	if stop.After(end) {
		stop = end
	}
	if !t.Before(stop) {
		return
	}
	h.logon(t, ws)
	h.fileWork(t.Add(20*time.Second), ws, 1+r.IntN(4))
	for t = t.Add(time.Minute); t.Before(stop); t = t.Add(time.Duration(10+r.IntN(40)) * time.Minute) {
		if night && t.Hour() >= 1 && t.Hour() < 6 && r.IntN(3) > 0 {
			continue // quieter at night
		}
		ehr := h.ehr[r.IntN(2)]
		h.lookup(t, ws.ip, h.ehrName, ehr)
		h.tlsSession(t.Add(5*time.Millisecond), ws.ip, ehr, h.ehrPort, h.ehrName, 5000+r.IntN(50_000), 20_000+r.IntN(500_000), time.Duration(5+r.IntN(120))*time.Second)
		if r.IntN(15) == 0 {
			h.exchange(t.Add(3*time.Minute), ws.ip, h.printer, 9100, pjl, []byte("@PJL USTATUS JOB\r\n"), 1, time.Second)
		}
		if r.IntN(8) == 0 {
			h.pacsView(t.Add(2*time.Minute), ws)
		}
	}
}

// pacsView is a web viewer fetching images from the PACS over HTTP.
func (h *hospital) pacsView(t time.Time, ws *host) {
	h.lookup(t, ws.ip, h.pacsWeb, h.pacsSrv)
	c := h.w.tcp(ap(ws.ip, h.w.port()), ap(h.pacsSrv, 80), t.Add(10*time.Millisecond))
	c.cli(httpGet(h.pacsWeb, fmt.Sprintf("/wado?requestType=WADO&studyUID=1.2.392.%d", h.r.IntN(1e9)), "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"))
	size := 200_000 + h.r.IntN(2_000_000)
	c.send(false, []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/dicom\r\nContent-Length: %d\r\n\r\n", size)))
	c.bulk(false, size, 2*time.Second)
	c.close()
}

func (h *hospital) nameOf(a netip.Addr) string {
	if n, ok := h.names[a]; ok {
		return n
	}
	return a.String()
}

// servers are the HIS servers that monitoring polls and backups copy.
func (h *hospital) servers() []netip.Addr {
	return []netip.Addr{h.dc[0], h.dc[1], h.fs, h.db, h.hl7, h.ehr[0], h.ehr[1]}
}

// jitter returns d ± frac·d.
func jitter(r *rand.Rand, d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*r.Float64()-1)))
}
