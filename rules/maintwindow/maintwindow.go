package maintwindow

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
)

// Meta describes the rule.
var Meta = rules.Meta{
	ID:          "maintenance-window",
	Name:        "Vendor maintenance outside the rules",
	Category:    "external_remote_services",
	Description: "A vendor's remote maintenance happens outside its approved windows, bypasses the declared VPN router or jump host, or reaches hosts the vendor is not listed for.",
	Reference:   "https://attack.mitre.org/techniques/T1133/",
	Version:     "1",
	Technique:   []string{"T1133", "T1078"},
	Tactic:      []string{"TA0001", "TA0003"},
	Severity:    rules.High,
	Message: [2]string{
		"vendor {vendor}: {what}",
		"保守業者 {vendor}: {what_ja}",
	},
}

type finding uint8

const (
	outsideWindow finding = iota
	bypass
	unlisted
)

var findings = [...]struct {
	action string
	sev    int
	techs  []string
	en, ja string
}{
	outsideWindow: {"vendor_outside_window", rules.High, []string{"T1133"},
		"remote maintenance outside its approved windows ({windows})",
		"承認された保守時間（{windows}）以外にリモート保守の通信がありました"},
	bypass: {"vendor_bypass", rules.Critical, []string{"T1133"},
		"its addresses reached hospital hosts directly, not through the declared VPN router or jump host",
		"指定のVPNルータ・踏み台を経由せずに院内の端末へ直接接続しました"},
	unlisted: {"vendor_unlisted_host", rules.High, []string{"T1078", "T1133"},
		"reached hosts it is not listed for",
		"保守対象として登録されていない端末に接続しました"},
}

// Detector is the rule's state. It is driven by one goroutine.
type Detector struct {
	cfg     Config
	site    rules.Site
	vendors []rules.VendorInfo
	names   *rules.Names
	eps     *rules.Episodes[epKey]
	state   map[epKey]*episode
	now     time.Time
}

type epKey struct {
	vendor  int
	finding finding
}

type episode struct {
	hosts []netip.Addr
	count uint64
	ports []uint16
	flows []event.FlowID
	cids  []event.CommunityID
	peers []netip.Addr // the vendor side (external addresses or via hosts)
	first time.Time
	last  time.Time
	night bool
	srv   bool
}

// New returns the rule's detector; the baseline is not used.
func New(cfg Config, site rules.Site, _ baseline.View) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	if err := site.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, site: site, vendors: site.Vendors(), names: rules.NewNames(4096),
		eps: rules.NewEpisodes[epKey](cfg.Quiet, cfg.MaxEpisodes), state: map[epKey]*episode{}}, nil
}

// inWindow reports whether t is inside one of v's windows, widened by the
// grace period.
func (d *Detector) inWindow(v *rules.VendorInfo, t time.Time) bool {
	loc := d.site.Location()
	return v.InWindow(t, loc) || v.InWindow(t.Add(d.cfg.Grace), loc) || v.InWindow(t.Add(-d.cfg.Grace), loc)
}

// UseNames implements rules.NameUser.
func (d *Detector) UseNames(n *rules.Names) { d.names = n }

// Observe implements rules.Detector.
func (d *Detector) Observe(r event.Record, raise rules.Raise) {
	if len(d.vendors) == 0 {
		return // nothing to watch: not even names
	}
	f, ok := r.(*event.Flow)
	if !ok {
		if !d.names.Shared() {
			d.names.Observe(r)
		}
		return
	}
	src, dst := f.Source.IP.Unmap(), f.Destination.IP.Unmap()
	if f.Start.After(d.now) {
		d.now = f.Start
	}
	// The vendor's outside addresses, either direction.
	var host, ext netip.Addr
	switch {
	case d.site.IsInternal(src) && d.site.IsExternal(dst):
		host, ext = src, dst
	case d.site.IsExternal(src) && d.site.IsInternal(dst):
		host, ext = dst, src
	}
	if ext.IsValid() {
		names := d.names.Flow(f, ext)
		for i := range d.vendors {
			v := &d.vendors[i]
			if !v.IsExternal(ext, names) {
				continue
			}
			switch {
			case v.HasVia() && !v.IsVia(host):
				d.add(i, bypass, host, ext, f, raise)
			case !v.HasVia() && !v.MayReach(host):
				d.add(i, unlisted, host, ext, f, raise)
			case !d.inWindow(v, f.Start):
				d.add(i, outsideWindow, host, ext, f, raise)
			}
		}
		return
	}
	d.names.Forget(f)
	// The via host (VPN router inside address, jump host) to internal hosts.
	if !d.site.IsInternal(src) || !d.site.IsInternal(dst) || src == dst || d.site.IsInfrastructure(dst) {
		return
	}
	var vias []int
	for i := range d.vendors {
		if d.vendors[i].IsVia(src) {
			vias = append(vias, i)
		}
	}
	if len(vias) == 0 {
		return
	}
	var reach []int // vendors of this via host that may reach dst
	for _, i := range vias {
		if d.vendors[i].MayReach(dst) {
			reach = append(reach, i)
		}
	}
	if len(reach) == 0 {
		d.add(vias[0], unlisted, dst, src, f, raise)
		return
	}
	for _, i := range reach {
		if d.inWindow(&d.vendors[i], f.Start) {
			return // one of the vendors allowed to reach dst is in its window
		}
	}
	d.add(reach[0], outsideWindow, dst, src, f, raise)
}

func (d *Detector) add(vendor int, fd finding, host, peer netip.Addr, f *event.Flow, raise rules.Raise) {
	k := epKey{vendor, fd}
	st := d.state[k]
	if st == nil || d.eps.Get(k) == nil {
		st = &episode{first: f.Start}
		d.state[k] = st
	}
	st.hosts = rules.Sample(st.hosts, host, 32)
	st.peers = rules.Sample(st.peers, peer, 8)
	st.ports = rules.Sample(st.ports, f.Destination.Port, 8)
	st.flows = rules.Sample(st.flows, f.ID, 16)
	if !f.CommunityID.IsZero() {
		st.cids = rules.Sample(st.cids, f.CommunityID, 16)
	}
	st.count++
	if f.Start.Before(st.first) {
		st.first = f.Start
	}
	st.last = rules.Later(st.last, f.End)
	st.night = st.night || d.site.IsNight(f.Start)
	st.srv = st.srv || d.site.IsServer(host)
	d.check(k, st, raise, false)
}

func (d *Detector) check(k epKey, st *episode, raise rules.Raise, final bool) {
	v := &d.vendors[k.vendor]
	fd := findings[k.finding]
	sev := fd.sev
	var why []string
	if st.night {
		sev++
		why = append(why, "at night")
	}
	if st.srv && k.finding == unlisted {
		sev++
		why = append(why, "a server was reached")
	}
	key := "maint/" + v.Name + "/" + fd.action
	ep, _ := d.eps.Open(k, Meta.NewAlert(key, st.first, st.last, sev))
	ep.Touch(st.last)
	n := uint64(len(st.hosts))
	ep.Pending = max(ep.Pending, n)
	if !final && !ep.Due(n, sev) {
		return
	}
	a := ep.Alert
	rules.SetSeverity(&a, max(sev, ep.Severity))
	a.Action = fd.action
	a.Threat = rules.Threat(fd.techs, Meta.Tactic)
	hosts := slices.Clone(st.hosts)
	slices.SortFunc(hosts, func(a, b netip.Addr) int { return a.Compare(b) })
	a.Source = event.AlertEndpoint{IP: st.peers[0]}
	a.Destination = event.AlertEndpoint{}
	if len(hosts) == 1 {
		a.Destination = event.AlertEndpoint{IP: hosts[0]}
		if len(st.ports) == 1 {
			a.Destination.Port = st.ports[0]
		}
	}
	a.Related = append(slices.Clone(st.peers), hosts...)
	a.RelatedHosts = []string{v.Name}
	a.Evidence = event.AlertEvidence{Count: st.count, TargetCount: len(hosts), Targets: hosts, Ports: st.ports,
		FlowIDs: st.flows, CommunityIDs: st.cids,
		Facts: []event.Fact{{Name: "vendor", Value: v.Name}, {Name: "approved_windows", Value: v.WindowText()}}}
	for _, w := range why {
		a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "severity_raised", Value: w})
	}
	filter := "host " + st.peers[0].String()
	if len(hosts) == 1 {
		filter += " and host " + hosts[0].String()
	}
	a.Pcap = event.PcapQuery{Filter: filter, From: st.first, To: st.last}
	loc := d.site.Location()
	when := st.first.In(loc).Format("Mon 2006-01-02 15:04")
	list, listJA := rules.AddrList(hosts, len(hosts), 6), rules.AddrListJA(hosts, len(hosts), 6)
	a.Message = rules.Fill(Meta.Message[0], "vendor", v.Name, "what", rules.Fill(fd.en, "windows", v.WindowText())) +
		rules.Fill(" (from {when}, {from} to {list}). Now: call the vendor's registered contact and ask whether their engineer is working now. "+
			"If they cannot confirm it, disconnect the vendor's VPN or jump host (do not switch off the devices being maintained) and call the IT security contact. "+
			"Do not let an unconfirmed session go on.",
			"when", when, "from", rules.AddrList(st.peers, len(st.peers), 3), "list", list)
	a.MessageJA = rules.Fill(Meta.Message[1], "vendor", v.Name, "what_ja", rules.Fill(fd.ja, "windows", v.WindowText())) +
		rules.Fill("（{when} から、{from} → {list}）。今すぐ: 業者の登録窓口に電話し、現在作業中の技術者がいるか確認してください。"+
			"確認できなければ業者用VPN・踏み台を切断し（保守対象の機器の電源は切らない）、セキュリティ担当に連絡してください。確認できない接続を続けさせないでください。",
			"when", st.first.In(loc).Format("2006-01-02 15:04"), "from", rules.AddrListJA(st.peers, len(st.peers), 3), "list", listJA)
	ep.Alert = a
	ep.Raise(raise, n)
}

// Tick implements rules.Detector.
func (d *Detector) Tick(now time.Time, raise rules.Raise) {
	if now.After(d.now) {
		d.now = now
	}
	rules.ExpireStates(d.eps, d.now, d.state, func(k epKey, st *episode) { d.check(k, st, raise, true) })
}

// Stats implements rules.Stats.
func (d *Detector) Stats() []event.MetricValue {
	return []event.MetricValue{
		{Name: "episodes", Value: uint64(d.eps.Len())},
		{Name: "evicted_episodes", Value: d.eps.Evicted},
	}
}
