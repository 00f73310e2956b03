package rulestest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"mamori/pipeline/event"
)

// ScenarioConfig shapes a simulated hospital. Zero fields take defaults;
// Seed varies everything else (counts, periods, jitter, times, ports).
type ScenarioConfig struct {
	Seed         uint64
	Workstations int // clinical workstations (default 60–140)
	LearnDays    int // normal days before the attack day (default 8)
}

// Label is one labelled episode of a scenario: an attack a rule must
// report, or a near miss no rule may report.
type Label struct {
	Rule     string // rule id; for a near miss, the rule it could fool
	Name     string
	Actor    netip.Addr // the host (or vendor address) an alert names
	Peer     netip.Addr // optional: the other side
	From, To time.Time
	NearMiss bool
}

// Scenario is a simulated hospital: its site facts, normal days to learn
// and an attack day with labelled episodes and near misses, as flow
// records (and SMB records through the rules' accessor interfaces).
type Scenario struct {
	Site   string
	Learn  []event.Record
	Detect []event.Record
	Labels []Label
}

// A fixed address plan: HIS 10.1.0.0/16 (servers 10.1.0.0/24, workstations
// 10.1.10.0/23, admin PCs 10.1.200.0/29), PACS 10.2.0.0/16, department
// 10.3.0.0/16, devices 10.4.0.0/16, DMZ 10.5.0.0/24, vendor 10.9.0.0/24.
const scenarioSite = `
timezone: Asia/Tokyo
networks: {internal: [10.0.0.0/8]}
segments:
  - {name: his, cidrs: [10.1.0.0/16]}
  - {name: pacs, cidrs: [10.2.0.0/16]}
  - {name: department, cidrs: [10.3.0.0/16]}
  - {name: devices, cidrs: [10.4.0.0/16]}
  - {name: dmz, cidrs: [10.5.0.0/24]}
  - {name: vendor, cidrs: [10.9.0.0/24]}
servers:
  domain_controller: [10.1.0.10, 10.1.0.11]
  dns: [10.1.0.10, 10.1.0.11]
  file_server: [10.1.0.20]
  ehr: [10.1.0.30, 10.1.0.31]
  database: [10.1.0.35]
  hl7: [10.1.0.40]
  pacs: [10.2.0.5]
  lis: [10.3.20.5]
  backup: [10.1.0.50]
  antivirus: [10.5.0.20]
  print_server: [10.1.0.60]
  monitoring: [10.1.0.70]
  jump_host: [10.9.0.10]
admins: [10.1.200.0/29]
allowed_external:
  - {from: antivirus, to: [203.0.113.0/28], ports: [443], proto: tcp, note: pattern files}
  - {from: 10.1.0.10, to: [133.243.238.0/24], ports: [123], proto: udp, note: NTP}
maintenance:
  - vendor: ehr-vendor
    external: [198.51.100.10]
    via: 10.9.0.10
    reach: [10.1.0.30, 10.1.0.31, 10.1.0.35]
    windows: [{days: [tue, thu], start: "13:00", end: "17:00"}]
segment_policy:
  allow:
    - {from: "*", to: his, ports: [53, 88, 123, 389, 445, 443, 9100, 2575]}
    - {from: pacs, to: his, ports: [2575]}
    - {from: devices, to: [pacs], ports: [104]}
    - {from: his, to: [pacs, department, devices, dmz, vendor]}
    - {from: [department], to: [pacs, dmz]}
    - {from: vendor, to: his, ports: [22, 3389, 443]}
    - {from: "*", to: dmz}
`

var jstZone = time.FixedZone("JST", 9*3600)

type gen struct {
	r      *rand.Rand
	recs   []event.Record
	ws     []string // workstations
	night  []string // night-shift workstations
	admins []string
}

func (g *gen) flow(src, dst string, port uint16, at time.Time, opts ...Opt) {
	g.recs = append(g.recs, Flow(src, dst, port, at, opts...))
}

// jitter returns d ± frac·d.
func (g *gen) jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*g.r.Float64()-1)))
}

// NewScenario builds a scenario. The attack day is the day after the
// learning days (a Tuesday with the defaults: the first day is a Monday).
func NewScenario(c ScenarioConfig) *Scenario {
	r := rand.New(rand.NewPCG(c.Seed, 0x6d616d6f7269))
	if c.Workstations == 0 {
		c.Workstations = 60 + r.IntN(81)
	}
	if c.LearnDays == 0 {
		c.LearnDays = 8
	}
	g := &gen{r: r}
	for i := range c.Workstations {
		g.ws = append(g.ws, fmt.Sprintf("10.1.%d.%d", 10+i/200, 10+i%200))
	}
	g.night = g.ws[:max(3, c.Workstations/10)] // wards work at night too
	g.admins = []string{"10.1.200.2", "10.1.200.3"}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, jstZone) // a Monday
	for d := range c.LearnDays {
		g.day(start.AddDate(0, 0, d))
	}
	s := &Scenario{Site: scenarioSite, Learn: Sorted(g.recs)}
	g.recs = nil
	day := start.AddDate(0, 0, c.LearnDays)
	g.day(day)
	g.day(day.AddDate(0, 0, 1)) // the next day, so that night episodes end
	s.Labels = g.attacks(day)
	s.Labels = append(s.Labels, g.nearMisses(day)...)
	s.Detect = Sorted(g.recs)
	return s
}

// day is one normal day.
func (g *gen) day(d time.Time) {
	r := g.r
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	at := func(h, m int) time.Time { return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	// Workstations: logon, EHR, files, printing, DNS.
	for i, w := range g.ws {
		nightShift := i < len(g.night)
		if weekend && !nightShift && r.IntN(4) > 0 {
			continue
		}
		from, to := 8*60+r.IntN(60), 17*60+r.IntN(120)
		if nightShift {
			from, to = 0, 24*60
		}
		t := d.Add(time.Duration(from) * time.Minute)
		end := d.Add(time.Duration(to) * time.Minute)
		for _, dc := range []string{"10.1.0.10", "10.1.0.11"} {
			g.flow(w, dc, 88, t, Dur(50*time.Millisecond))
			g.flow(w, dc, 389, t.Add(time.Second), Dur(200*time.Millisecond))
			g.flow(w, dc, 445, t.Add(2*time.Second), Dur(3*time.Second), Bytes(20000, 90000))
		}
		g.flow(w, "10.1.0.20", 445, t.Add(5*time.Second), Dur(time.Hour), Bytes(3e5, 5e6))
		for t = t.Add(time.Minute); t.Before(end); t = t.Add(time.Duration(3+r.IntN(25)) * time.Minute) {
			if nightShift && t.Hour() >= 1 && t.Hour() < 6 && r.IntN(3) > 0 {
				continue // quieter at night
			}
			g.flow(w, "10.1.0.10", 53, t, UDP(), Dur(2*time.Millisecond), Bytes(80, 200))
			ehr := []string{"10.1.0.30", "10.1.0.31"}[r.IntN(2)]
			g.flow(w, ehr, 443, t.Add(100*time.Millisecond), Dur(time.Duration(5+r.IntN(300))*time.Second), Bytes(uint64(5e3+r.IntN(2e5)), uint64(2e4+r.IntN(2e6))))
			if r.IntN(20) == 0 {
				g.flow(w, "10.1.0.60", 9100, t.Add(time.Second), Dur(4*time.Second), Bytes(2e5, 3e3))
			}
			if r.IntN(10) == 0 {
				g.flow(w, "10.2.0.5", 443, t.Add(2*time.Second), Dur(40*time.Second), Bytes(2e4, 4e7))
			}
		}
	}
	// Infrastructure, around the clock.
	for t := d; t.Before(d.Add(24 * time.Hour)); t = t.Add(15 * time.Minute) {
		g.flow("10.1.0.10", "10.1.0.11", 135, t, Dur(time.Second))
		g.flow("10.1.0.11", "10.1.0.10", 389, t.Add(time.Second), Dur(time.Second))
		for _, srv := range []string{"10.1.0.10", "10.1.0.11", "10.1.0.20", "10.1.0.30", "10.1.0.31", "10.1.0.35", "10.1.0.40", "10.2.0.5"} {
			g.flow("10.1.0.70", srv, 161, t.Add(2*time.Second), UDP(), Dur(10*time.Millisecond), Bytes(100, 400))
		}
	}
	for t := d.Add(time.Duration(r.IntN(60)) * time.Minute); t.Before(d.Add(24 * time.Hour)); t = t.Add(g.jitter(time.Hour, 0.05)) {
		g.flow("10.5.0.20", "203.0.113.5", 443, t, Dur(20*time.Second), Bytes(2e3, 3e5)) // AV updates (allowed)
	}
	for t := d; t.Before(d.Add(24 * time.Hour)); t = t.Add(1024 * time.Second) {
		g.flow("10.1.0.10", "133.243.238.164", 123, t, UDP(), Dur(20*time.Millisecond), Bytes(90, 90))
	}
	for t := d; t.Before(d.Add(24 * time.Hour)); t = t.Add(g.jitter(2*time.Minute, 0.5)) {
		g.flow("10.1.0.30", "10.1.0.40", 2575, t, Dur(time.Second), Bytes(2e3, 300)) // HL7 orders
		g.flow("10.1.0.40", "10.3.20.5", 2575, t.Add(time.Second), Dur(time.Second), Bytes(2e3, 300))
		g.flow("10.1.0.30", "10.1.0.35", 1433, t.Add(2*time.Second), Dur(time.Second), Bytes(3e3, 1e4))
	}
	// Modalities send images, more by day; the ER CT also at night.
	for m := range 6 {
		mod := fmt.Sprintf("10.4.1.%d", 10+m)
		for t := d.Add(time.Duration(r.IntN(120)) * time.Minute); t.Before(d.Add(24 * time.Hour)); t = t.Add(time.Duration(20+r.IntN(90)) * time.Minute) {
			if (t.Hour() < 7 || t.Hour() > 20) && m > 0 {
				continue
			}
			g.flow(mod, "10.2.0.5", 104, t, Dur(time.Duration(10+r.IntN(60))*time.Second), Bytes(uint64(1e7+r.IntN(1e8)), 4e3))
		}
	}
	// An infusion-pump gateway reports to its vendor's cloud every 5 min,
	// day and night (learned as normal).
	for t := d; t.Before(d.Add(24 * time.Hour)); t = t.Add(g.jitter(5*time.Minute, 0.03)) {
		g.flow("10.4.2.5", "192.0.2.80", 443, t, Dur(time.Second), Bytes(1500, 800))
	}
	// Backups of the servers at night, over SMB.
	for i, srv := range []string{"10.1.0.10", "10.1.0.11", "10.1.0.20", "10.1.0.30", "10.1.0.31", "10.1.0.35", "10.1.0.40"} {
		g.flow("10.1.0.50", srv, 445, at(1, 10*i), Dur(20*time.Minute), Bytes(1e6, 2e9))
	}
	// Admins: RDP to a few servers, SMB to some PCs (software pushes).
	if !weekend {
		for _, a := range g.admins {
			for k := range 3 {
				g.flow(a, []string{"10.1.0.30", "10.1.0.31", "10.1.0.20", "10.1.0.35"}[r.IntN(4)], 3389, at(9+k*2, r.IntN(60)), Dur(time.Duration(10+r.IntN(50))*time.Minute), Bytes(2e6, 3e7))
			}
			for k := range 4 {
				g.flow(a, g.ws[r.IntN(len(g.ws))], 445, at(10, 10*k), Dur(time.Minute), Bytes(5e6, 2e4))
			}
		}
	}
	// The EHR vendor's maintenance inside its window (Tuesday, Thursday).
	if d.Weekday() == time.Tuesday || d.Weekday() == time.Thursday {
		t := at(13, 30+r.IntN(60))
		g.flow("198.51.100.10", "10.9.0.10", 443, t, Dur(90*time.Minute), Bytes(2e6, 3e7))
		g.flow("10.9.0.10", "10.1.0.30", 3389, t.Add(time.Minute), Dur(80*time.Minute), Bytes(2e6, 3e7))
		g.flow("10.9.0.10", "10.1.0.10", 88, t.Add(30*time.Second), Dur(time.Second))
	}
}

// attacks adds the attack episodes of the attack day d and labels them.
func (g *gen) attacks(d time.Time) []Label {
	r := g.r
	var labels []Label
	pick := func() string { return g.ws[len(g.night)+r.IntN(len(g.ws)-len(g.night))] }
	addr := netip.MustParseAddr
	at := func(h, m int) time.Time { return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }

	// rdp-scan: a workstation tries 3389 on 25–150 hosts of another /24.
	{
		src := pick()
		n := 25 + r.IntN(126)
		t0 := at(10+r.IntN(6), r.IntN(60))
		span := time.Duration(20+r.IntN(200)) * time.Second
		for i := range n {
			t := t0.Add(span * time.Duration(i) / time.Duration(n))
			dst := fmt.Sprintf("10.3.%d.%d", 1+i/250, 1+i%250)
			switch k := r.IntN(10); {
			case k < 5:
				g.flow(src, dst, 3389, t, State("REJ"), Dur(time.Millisecond))
			case k < 9:
				g.flow(src, dst, 3389, t, State("S0"), Dur(3*time.Second))
			default:
				g.flow(src, dst, 3389, t, Dur(300*time.Millisecond), Bytes(400, 1500)) // probed
			}
		}
		labels = append(labels, Label{Rule: "rdp-scan", Name: "rdp scan", Actor: addr(src), From: t0, To: t0.Add(span)})
	}
	// smb-lateral: PsExec from a workstation to 6–15 PCs it never used.
	{
		src := pick()
		n := 6 + r.IntN(10)
		t0 := at(14+r.IntN(4), r.IntN(60))
		for i := range n {
			dst := g.ws[(len(g.ws)/2+i*7)%len(g.ws)]
			if dst == src {
				continue
			}
			t := t0.Add(time.Duration(i) * time.Duration(5+r.IntN(40)) * time.Second)
			g.recs = append(g.recs, smbTree(src, dst, "ADMIN$", t), smbFile(src, dst, "ADMIN$", "write", `svc_update.exe`, t.Add(time.Second)),
				smbRPC(src, dst, "svcctl", "CreateServiceW", t.Add(2*time.Second)))
			g.flow(src, dst, 445, t, Dur(8*time.Second), Bytes(9e4, 2e4))
		}
		labels = append(labels, Label{Rule: "smb-lateral", Name: "psexec spread", Actor: addr(src), From: t0, To: t0.Add(15 * time.Minute)})
	}
	// smb-lateral: flow-only fan-out (SMB scan, most refused).
	{
		src := pick()
		n := 8 + r.IntN(30)
		t0 := at(11, r.IntN(60))
		for i := range n {
			g.flow(src, fmt.Sprintf("10.1.%d.%d", 40+i/200, 10+i%200), 445, t0.Add(time.Duration(i)*time.Second), State([]string{"REJ", "S0", "SF"}[r.IntN(3)]))
		}
		labels = append(labels, Label{Rule: "smb-lateral", Name: "smb fan-out", Actor: addr(src), From: t0, To: t0.Add(time.Minute)})
	}
	// night-beacon: a workstation calls a C2 at night with jitter and missed beats.
	{
		src := pick()
		period := time.Duration(30+r.IntN(870)) * time.Second
		jit := 0.2 * r.Float64()
		t0 := at(23, r.IntN(60)) // 23:xx, into the next morning
		c2 := fmt.Sprintf("45.%d.%d.%d", 10+r.IntN(200), r.IntN(250), 1+r.IntN(250))
		size := uint64(800 + r.IntN(4000))
		t := t0
		for t.Before(at(30, 0)) { // until 06:00 the next day
			if r.Float64() > 0.1 {
				g.flow(src, c2, 443, t, Dur(400*time.Millisecond), Bytes(size, size*2))
			}
			t = t.Add(g.jitter(period, jit))
		}
		labels = append(labels, Label{Rule: "night-beacon", Name: fmt.Sprintf("beacon %v ±%.0f%%", period, jit*100), Actor: addr(src), Peer: addr(c2), From: t0, To: t0.Add(8 * period)})
		labels = append(labels, Label{Rule: "new-external-peer", Name: "beacon's peer", Actor: addr(src), Peer: addr(c2), From: t0, To: t0.Add(time.Hour)})
	}
	// new-external-peer: the database uploads 80 MB to an unknown address.
	{
		t0 := at(12+r.IntN(5), r.IntN(60))
		g.flow("10.1.0.35", "185.220.101.7", 443, t0, Dur(10*time.Minute), Bytes(8e7, 2e5))
		labels = append(labels, Label{Rule: "new-external-peer", Name: "exfiltration", Actor: addr("10.1.0.35"), Peer: addr("185.220.101.7"), From: t0, To: t0.Add(10 * time.Minute)})
	}
	// maintenance-window: the vendor at 02:00, and straight to the DB.
	{
		t0 := at(2, r.IntN(50))
		g.flow("198.51.100.10", "10.9.0.10", 443, t0, Dur(time.Hour), Bytes(2e6, 3e7))
		g.flow("10.9.0.10", "10.1.0.30", 3389, t0.Add(2*time.Minute), Dur(50*time.Minute), Bytes(2e6, 3e7))
		labels = append(labels, Label{Rule: "maintenance-window", Name: "vendor at night", Actor: addr("198.51.100.10"), From: t0, To: t0.Add(time.Hour)})
		t1 := at(15, r.IntN(60))
		g.flow("198.51.100.10", "10.1.0.35", 1433, t1, Dur(5*time.Minute), Bytes(1e4, 5e6))
		labels = append(labels, Label{Rule: "maintenance-window", Name: "vendor bypasses the jump host", Actor: addr("198.51.100.10"), Peer: addr("10.1.0.35"), From: t1, To: t1.Add(5 * time.Minute)})
	}
	// segment-policy: a department PC opens RDP into the device segment.
	{
		t0 := at(9+r.IntN(8), r.IntN(60))
		g.flow("10.3.5.20", "10.4.2.5", 3389, t0, Dur(10*time.Minute), Bytes(1e6, 1e7))
		labels = append(labels, Label{Rule: "segment-policy", Name: "department to devices", Actor: addr("10.3.5.20"), From: t0, To: t0.Add(10 * time.Minute)},
			Label{Rule: "rdp-scan", Name: "department to devices: an RDP pair never seen", Actor: addr("10.3.5.20"), Peer: addr("10.4.2.5"), From: t0, To: t0.Add(10 * time.Minute)})
	}
	return labels
}

// nearMisses adds traffic that looks like an attack but is not, labelled
// with the rule it could fool.
func (g *gen) nearMisses(d time.Time) []Label {
	r := g.r
	addr := netip.MustParseAddr
	at := func(h, m int) time.Time { return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	var labels []Label
	// An admin patches 20 PCs over SMB (admin shares and all).
	{
		a := g.admins[0]
		t0 := at(12, r.IntN(60))
		for i := range 20 {
			dst := g.ws[(i*11)%len(g.ws)]
			t := t0.Add(time.Duration(i) * 30 * time.Second)
			g.recs = append(g.recs, smbTree(a, dst, "ADMIN$", t), smbFile(a, dst, "ADMIN$", "write", `patch.msi`, t.Add(time.Second)),
				smbRPC(a, dst, "svcctl", "CreateServiceW", t.Add(2*time.Second)))
			g.flow(a, dst, 445, t, Dur(20*time.Second), Bytes(5e6, 2e4))
		}
		labels = append(labels, Label{Rule: "smb-lateral", Name: "admin software push", Actor: addr(a), From: t0, To: t0.Add(15 * time.Minute), NearMiss: true})
	}
	// An admin opens real RDP sessions on 12 servers and PCs.
	{
		a := g.admins[1]
		t0 := at(9, r.IntN(60))
		for i := range 12 {
			g.flow(a, g.ws[(i*5)%len(g.ws)], 3389, t0.Add(time.Duration(i)*40*time.Second), Dur(15*time.Minute), Bytes(2e6, 3e7))
		}
		labels = append(labels, Label{Rule: "rdp-scan", Name: "admin RDP round", Actor: addr(a), From: t0, To: t0.Add(20 * time.Minute), NearMiss: true})
	}
	// A user mistypes a host name four times.
	{
		src := g.ws[len(g.ws)-1]
		t0 := at(10, r.IntN(60))
		for i := range 4 {
			g.flow(src, fmt.Sprintf("10.1.0.%d", 150+i), 3389, t0.Add(time.Duration(i)*20*time.Second), State("REJ"))
		}
		labels = append(labels, Label{Rule: "rdp-scan", Name: "mistyped hosts", Actor: addr(src), From: t0, To: t0.Add(2 * time.Minute), NearMiss: true})
	}
	// A new workstation is installed and used normally.
	{
		w := "10.1.60.5"
		t0 := at(9, r.IntN(30))
		for _, dc := range []string{"10.1.0.10", "10.1.0.11"} {
			g.flow(w, dc, 88, t0, Dur(50*time.Millisecond))
			g.flow(w, dc, 445, t0.Add(time.Second), Dur(3*time.Second))
		}
		g.flow(w, "10.1.0.20", 445, t0.Add(5*time.Second), Dur(time.Hour))
		for t := t0.Add(time.Minute); t.Before(at(17, 0)); t = t.Add(time.Duration(5+r.IntN(20)) * time.Minute) {
			g.flow(w, "10.1.0.30", 443, t, Dur(time.Minute), Bytes(1e4, 1e5))
		}
		labels = append(labels, Label{Rule: "smb-lateral", Name: "new workstation", Actor: addr(w), From: t0, To: at(17, 0), NearMiss: true})
	}
	// A night-shift nurse works in the EHR at night, irregularly.
	{
		w := g.night[0]
		labels = append(labels, Label{Rule: "night-beacon", Name: "night shift EHR use", Actor: addr(w), From: at(0, 0), To: at(6, 0), NearMiss: true})
	}
	// The pump gateway's regular night-time calls home (in the baseline)
	// and the antivirus server's hourly updates (allowed).
	labels = append(labels,
		Label{Rule: "night-beacon", Name: "pump gateway (learned)", Actor: addr("10.4.2.5"), From: at(0, 0), To: at(30, 0), NearMiss: true},
		Label{Rule: "night-beacon", Name: "antivirus updates (allowed)", Actor: addr("10.5.0.20"), From: at(0, 0), To: at(30, 0), NearMiss: true},
		Label{Rule: "new-external-peer", Name: "antivirus updates (allowed)", Actor: addr("10.5.0.20"), From: at(0, 0), To: at(30, 0), NearMiss: true},
		Label{Rule: "smb-lateral", Name: "nightly backups", Actor: addr("10.1.0.50"), From: at(0, 0), To: at(30, 0), NearMiss: true},
		Label{Rule: "maintenance-window", Name: "vendor inside its window", Actor: addr("198.51.100.10"), Peer: addr("10.9.0.10"), From: at(13, 0), To: at(17, 30), NearMiss: true},
	)
	// The vendor inside its window on the attack day (a Tuesday).
	if d.Weekday() != time.Tuesday && d.Weekday() != time.Thursday {
		labels = labels[:len(labels)-1]
	}
	return labels
}

// smbRec stands in for an SMB record with the accessors the smb-lateral
// rule reads.
type smbRec struct {
	event.Base
	tree, share, op, name, pipe, call string
}

func (r *smbRec) Dataset() string                               { return "mamori.smb" }
func (r *smbRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *smbRec) SMBTree() (string, string) {
	if r.tree == "" {
		return "", ""
	}
	return r.tree, "STATUS_SUCCESS"
}
func (r *smbRec) SMBFile() (string, string, string, string) { return r.op, r.share, r.name, "" }
func (r *smbRec) DCERPC() (string, string)                  { return r.pipe, r.call }

func newSMB(src, dst string, at time.Time) *smbRec {
	r := &smbRec{}
	r.Source = netip.AddrPortFrom(netip.MustParseAddr(src), 50123)
	r.Destination = netip.AddrPortFrom(netip.MustParseAddr(dst), 445)
	r.Transport, r.Protocol, r.Timestamp = 6, "smb", at
	return r
}

func smbTree(src, dst, share string, at time.Time) event.Record {
	r := newSMB(src, dst, at)
	r.tree = `\\` + dst + `\` + share
	return r
}

func smbFile(src, dst, share, op, name string, at time.Time) event.Record {
	r := newSMB(src, dst, at)
	r.share, r.op, r.name = `\\`+dst+`\`+share, op, name
	return r
}

func smbRPC(src, dst, pipe, call string, at time.Time) event.Record {
	r := newSMB(src, dst, at)
	r.pipe, r.call = pipe, call
	return r
}

// Score matches alerts to labels, per rule: an alert matches a label of
// its rule when it names the label's actor (source, destination or
// related) and its evidence starts within the label's span (with an
// hour's slack). It returns per-rule recall (labelled attacks found),
// precision (alert episodes that match an attack) and the near-miss
// alerts.
func (s *Scenario) Score(alerts []event.Alert) (recall, precision map[string]float64, nearMiss []string, unmatched []string) {
	recall, precision = map[string]float64{}, map[string]float64{}
	episodes := map[string]event.Alert{}
	var order []string
	for _, a := range alerts {
		id := a.AlertID()
		if _, ok := episodes[id]; !ok {
			order = append(order, id)
		}
		episodes[id] = a
	}
	matches := func(l Label, a event.Alert) bool {
		if a.Rule.ID != l.Rule {
			return false
		}
		named := a.Source.IP == l.Actor || a.Destination.IP == l.Actor || slices.Contains(a.Related, l.Actor)
		if l.Peer.IsValid() {
			named = named && (a.Source.IP == l.Peer || a.Destination.IP == l.Peer || slices.Contains(a.Related, l.Peer))
		}
		return named && !a.First.Before(l.From.Add(-time.Hour)) && !a.First.After(l.To.Add(time.Hour))
	}
	found, total := map[string]int{}, map[string]int{}
	for _, l := range s.Labels {
		if l.NearMiss {
			continue
		}
		total[l.Rule]++
		for _, id := range order {
			if matches(l, episodes[id]) {
				found[l.Rule]++
				break
			}
		}
	}
	for rule, n := range total {
		recall[rule] = float64(found[rule]) / float64(n)
	}
	good, all := map[string]int{}, map[string]int{}
	for _, id := range order {
		a := episodes[id]
		all[a.Rule.ID]++
		ok := false
		for _, l := range s.Labels {
			if !l.NearMiss && matches(l, a) {
				ok = true
				break
			}
		}
		if ok {
			good[a.Rule.ID]++
		} else {
			unmatched = append(unmatched, fmt.Sprintf("%s %s %s: %s", a.Rule.ID, a.Action, a.Key, firstWords(a.Message, 20)))
		}
		for _, l := range s.Labels {
			if l.NearMiss && matches(l, a) {
				nearMiss = append(nearMiss, l.Name+": "+a.Rule.ID+" "+a.Key)
			}
		}
	}
	for rule, n := range all {
		precision[rule] = float64(good[rule]) / float64(n)
	}
	return recall, precision, nearMiss, unmatched
}

func firstWords(s string, n int) string {
	w := strings.Fields(s)
	if len(w) > n {
		w = w[:n]
	}
	return strings.Join(w, " ")
}
