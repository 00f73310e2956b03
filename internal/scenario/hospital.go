package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// host is one machine of the simulated hospital.
type host struct {
	ip    netip.Addr
	name  string // NetBIOS name, AE title of a modality
	user  string // who logs on there
	share string // the user's department share
}

// hospital is the simulated site: its address plan, servers, people and
// schedules, all drawn from the seed.
type hospital struct {
	r *rand.Rand
	w *wire

	domain, dnsDomain string
	his, pacs, dept   netip.Prefix
	devices, dmz, vnd netip.Prefix
	adminNet          netip.Prefix

	dc                               []netip.Addr
	fs, db, hl7, pacsSrv, lis        netip.Addr
	ehr                              []netip.Addr
	backup, av, printer, mon, jump   netip.Addr
	fsName, pacsAE, ehrName, pacsWeb string
	names                            map[netip.Addr]string

	ws         []*host
	nightShift int // ws[:nightShift] work around the clock
	admins     []*host
	modalities []*host
	deptPCs    []*host
	pump       netip.Addr

	avCloud, ntp, pumpCloud, vendorExt netip.Addr
	pumpCloud2                         netip.Addr // where the pump cloud moves on the attack day
	pumpMove                           time.Time
	avName, pumpName                   string
	vendorReach                        []netip.Addr
	windowDays                         []time.Weekday
	windowFrom, windowTo               int // minutes after midnight

	nightFrom, nightTo                        int // the site's night hours
	hl7Port, dicomPort, ehrPort, adminRDPPort uint16
	rdpServer                                 netip.Addr // the server whose RDP listens on adminRDPPort

	msgID     int
	used      map[*host]bool // workstations an episode uses
	deadlines []Deadline
}

func addr4(p netip.Prefix, c, d int) netip.Addr {
	b := p.Addr().As4()
	return netip.AddrFrom4([4]byte{b[0], b[1], byte(c), byte(d)})
}

// newHospital draws a hospital from r: segment numbers, server addresses,
// host counts, ports, names and the vendor's windows.
func newHospital(r *rand.Rand, c Config) *hospital {
	h := &hospital{r: r, names: map[netip.Addr]string{}}
	// Six distinct /16s inside 10.0.0.0/8.
	octs := r.Perm(200)
	seg := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(20 + octs[i]), 0, 0}), 16)
	}
	h.his, h.pacs, h.dept, h.devices = seg(0), seg(1), seg(2), seg(3)
	dmz, vnd := seg(4), seg(5)
	h.dmz = netip.PrefixFrom(addr4(dmz, 5+r.IntN(200), 0), 24)
	h.vnd = netip.PrefixFrom(addr4(vnd, 9+r.IntN(200), 0), 24)
	hospitals := []string{"KANTO-GH", "MINAMI-MC", "SAKURA-HP", "AOBA-UH", "KITA-CH"}
	h.domain = hospitals[r.IntN(len(hospitals))]
	h.dnsDomain = strings.ToLower(strings.ReplaceAll(h.domain, "-", "")) + ".local"

	srvNet := r.IntN(5)
	offs := r.Perm(200)
	srv := func(i int) netip.Addr { return addr4(h.his, srvNet, 10+offs[i]) }
	h.dc = []netip.Addr{srv(0), srv(1)}
	h.fs, h.db, h.hl7 = srv(2), srv(3), srv(4)
	h.ehr = []netip.Addr{srv(5), srv(6)}
	h.backup, h.printer, h.mon = srv(7), srv(8), srv(9)
	h.pacsSrv = addr4(h.pacs, r.IntN(3), 5+r.IntN(100))
	h.lis = addr4(h.dept, 20+r.IntN(10), 5+r.IntN(100))
	h.av = addr4(h.dmz, int(h.dmz.Addr().As4()[2]), 20+r.IntN(100))
	h.jump = addr4(h.vnd, int(h.vnd.Addr().As4()[2]), 10+r.IntN(100))
	for i, a := range h.dc {
		h.names[a] = fmt.Sprintf("DC%02d", i+1)
	}
	h.fsName = "FS01"
	h.names[h.fs] = h.fsName
	h.names[h.db] = "EHRDB01"
	h.names[h.ehr[0]], h.names[h.ehr[1]] = "EHRAP01", "EHRAP02"
	h.pacsAE = "PACS_" + strings.Split(h.domain, "-")[0]
	h.ehrName = "ehr." + h.dnsDomain
	h.pacsWeb = "pacs." + h.dnsDomain

	n := c.Workstations
	if n == 0 {
		n = 20 + r.IntN(31)
	}
	wsNet := 10 + r.IntN(40)
	first := 10 + r.IntN(40)
	departments := []string{"ward3", "ward5", "icu", "outpatient", "pharmacy", "lab", "radiology", "admin"}
	for i := range n {
		idx := first + i
		u := fmt.Sprintf("n%05d", 10000+r.IntN(80000))
		h.ws = append(h.ws, &host{ip: addr4(h.his, wsNet+idx/200, 10+idx%200), name: fmt.Sprintf("PC-%04d", 1000+i), user: u,
			share: departments[r.IntN(len(departments))]})
	}
	h.nightShift = max(2, n/8)
	admNet := 200 + r.IntN(40)
	h.adminNet = netip.PrefixFrom(addr4(h.his, admNet, 0), 29)
	for i := range 2 {
		h.admins = append(h.admins, &host{ip: addr4(h.his, admNet, 2+i), name: fmt.Sprintf("ADM-%02d", i+1), user: fmt.Sprintf("it-admin%d", i+1)})
	}
	mods := []string{"CT_ER", "CT1", "MR1", "CR1", "US1", "XA1", "MG1", "NM1"}
	nm := 3 + r.IntN(5)
	modNet := r.IntN(10)
	for i := range nm {
		h.modalities = append(h.modalities, &host{ip: addr4(h.devices, modNet, 10+i), name: mods[i]})
	}
	h.pump = addr4(h.devices, 2+r.IntN(10)+modNet, 5+r.IntN(50))
	for i := range 6 + r.IntN(10) {
		h.deptPCs = append(h.deptPCs, &host{ip: addr4(h.dept, 5, 20+i), name: fmt.Sprintf("LAB-%02d", i)})
	}

	h.avCloud = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + r.IntN(14))})
	h.ntp = netip.AddrFrom4([4]byte{133, 243, 238, byte(160 + r.IntN(10))})
	h.pumpCloud = netip.AddrFrom4([4]byte{192, 0, 2, byte(60 + r.IntN(60))})
	h.pumpCloud2 = netip.AddrFrom4([4]byte{192, 0, 2, byte(200 + r.IntN(50))})
	h.vendorExt = netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + r.IntN(200))})
	h.avName = "update.av-vendor.example"
	h.pumpName = "pumps-cloud.example.com"
	h.vendorReach = []netip.Addr{h.ehr[0], h.ehr[1], h.db}
	h.windowFrom = (9 + r.IntN(5)) * 60
	h.windowTo = h.windowFrom + (3+r.IntN(3))*60

	h.nightFrom, h.nightTo = 21+r.IntN(3), 5+r.IntN(3)
	h.hl7Port = []uint16{2575, 2575, 6661, 5100}[r.IntN(4)]
	h.dicomPort = []uint16{104, 104, 11112, 4242}[r.IntN(4)]
	h.ehrPort = []uint16{443, 443, 8443}[r.IntN(3)]
	h.adminRDPPort = []uint16{3389, 3389, 3390, 13389}[r.IntN(4)]
	h.rdpServer = h.ehr[1]
	return h
}

func (h *hospital) dcName(a netip.Addr) string { return h.names[a] }

func (h *hospital) internal(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 10 }

// rdpPort is the port RDP listens on at a server.
func (h *hospital) rdpPort(a netip.Addr) uint16 {
	if a == h.rdpServer {
		return h.adminRDPPort
	}
	return 3389
}

// site is the hospital's configuration (site facts) as YAML.
func (h *hospital) site() string {
	days := make([]string, len(h.windowDays))
	for i, d := range h.windowDays {
		days[i] = strings.ToLower(d.String()[:3])
	}
	hm := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	list := func(as ...netip.Addr) string {
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = a.String()
		}
		return strings.Join(s, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Simulated hospital %s (mamori internal/scenario).
timezone: Asia/Tokyo
night: {start: "%02d:00", end: "%02d:00"}
networks: {internal: [10.0.0.0/8]}
segments:
  - {name: his, cidrs: [%s]}
  - {name: pacs, cidrs: [%s]}
  - {name: department, cidrs: [%s]}
  - {name: devices, cidrs: [%s]}
  - {name: dmz, cidrs: [%s]}
  - {name: vendor, cidrs: [%s]}
servers:
  domain_controller: [%s]
  dns: [%s]
  file_server: [%s]
  ehr: [%s]
  database: [%s]
  hl7: [%s]
  pacs: [%s]
  lis: [%s]
  backup: [%s]
  antivirus: [%s]
  print_server: [%s]
  monitoring: [%s]
  jump_host: [%s]
admins: [%s]
allowed_external:
  - {from: antivirus, to: [%s/28], ports: [443], proto: tcp, note: pattern files}
  - {from: %s, to: [133.243.238.0/24], ports: [123], proto: udp, note: NTP}
maintenance:
  - vendor: ehr-vendor
    external: [%s]
    via: %s
    reach: [%s]
    windows: [{days: [%s], start: "%s", end: "%s"}]
segment_policy:
  allow:
    - {from: "*", to: his, ports: [53, 88, 123, 389, 445, 443, %d, 9100, %d]}
    - {from: pacs, to: his, ports: [%d]}
    - {from: devices, to: [pacs], ports: [%d]}
    - {from: his, to: [pacs, department, devices, dmz, vendor]}
    - {from: [department], to: [pacs, dmz]}
    - {from: vendor, to: his, ports: [22, 3389, 443, %d]}
    - {from: "*", to: dmz}
`, h.domain, h.nightFrom, h.nightTo, h.his, h.pacs, h.dept, h.devices, h.dmz, h.vnd,
		list(h.dc...), list(h.dc...), h.fs, list(h.ehr...), h.db, h.hl7, h.pacsSrv, h.lis, h.backup, h.av, h.printer, h.mon, h.jump,
		h.adminNet, netip.PrefixFrom(h.avCloud, 28).Masked().Addr(), h.dc[0],
		h.vendorExt, h.jump, list(h.vendorReach...), strings.Join(days, ", "), hm(h.windowFrom), hm(h.windowTo),
		h.ehrPort, h.hl7Port, h.hl7Port, h.dicomPort, h.adminRDPPort)
	return b.String()
}
