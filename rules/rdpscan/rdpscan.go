package rdpscan

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
)

// Meta describes the rule.
var Meta = rules.Meta{
	ID:          "rdp-scan",
	Name:        "RDP scan, brute force or new RDP pair",
	Category:    "discovery",
	Description: "One host tries remote desktop (RDP) on many hosts, many short RDP logons hit one host, or an RDP session joins a pair never seen before.",
	Reference:   "https://attack.mitre.org/techniques/T1046/",
	Version:     "1",
	Technique:   []string{"T1046", "T1021.001"},
	Tactic:      []string{"TA0007", "TA0008"},
	Severity:    rules.High,
	Message: [2]string{
		"{src} tried RDP (remote desktop) on {targets} hosts",
		"{src} が {targets} 台の端末にリモートデスクトップ(RDP)接続を試みました",
	},
}

// RDPCookie is implemented by RDP records: the user name of the X.224
// "Cookie: mstshash=" (empty when none).
type RDPCookie interface {
	RDPCookie() string
}

// Detector is the rule's state. It is driven by one goroutine.
type Detector struct {
	cfg   Config
	site  rules.Site
	base  baseline.View
	ports []uint16

	sources map[netip.Addr]*source
	pairs   map[pairKey]*pair
	tags    *rules.FlowTags
	eps     *rules.Episodes[epKey]
	known   *rules.Episodes[pairKey] // new pairs already alerted
	now     time.Time
	sweep   time.Time // next sweep of expired state (once a minute)

	droppedSources, droppedTargets, droppedPairs uint64
}

type source struct {
	targets  map[netip.Addr]*target
	last     time.Time
	ports    []uint16
	rdpPorts []uint16 // non-standard ports on which this source's flows were RDP
	cookies  []string
	flows    []event.FlowID
	cids     []event.CommunityID
	count    uint64
}

type target struct {
	first, last time.Time
	probe       bool // every attempt failed or was a probe
}

type pairKey struct{ src, dst netip.Addr }

// epKey names an open scan (dst unset) or brute-force episode.
type epKey struct {
	brute    bool
	src, dst netip.Addr
}

type pair struct {
	starts []time.Time // short sessions in the window
	last   time.Time
	flows  []event.FlowID
	cids   []event.CommunityID
	port   uint16
}

// maxRDPPorts bounds the non-standard RDP ports remembered per source.
const maxRDPPorts = 4

// probeBytes: a responder that sent less than this in a short connection
// gave no real session (negotiation, TLS handshake and refusal at most).
const probeBytes = 16 << 10

// New returns the rule's detector. base may be nil (no baseline).
func New(cfg Config, site rules.Site, base baseline.View) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	if err := site.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	cfg = cfg.withDefaults()
	return &Detector{
		cfg: cfg, site: site, base: base, ports: cfg.Ports,
		sources: map[netip.Addr]*source{}, pairs: map[pairKey]*pair{},
		tags:  rules.NewFlowTags(8192),
		eps:   rules.NewEpisodes[epKey](cfg.LongWindow, cfg.MaxSources),
		known: rules.NewEpisodes[pairKey](24*time.Hour, cfg.MaxPairs),
	}, nil
}

// Observe implements rules.Detector.
func (d *Detector) Observe(r event.Record, raise rules.Raise) {
	switch v := r.(type) {
	case *event.Flow:
		d.flow(v, raise)
	case rules.Based:
		b := v.BaseRecord()
		if b.Protocol != "rdp" {
			return
		}
		tag := rules.FlowTag{Protocol: "rdp"}
		if c, ok := r.(RDPCookie); ok {
			tag.Detail = c.RDPCookie()
		}
		d.tags.Put(b.FlowID, tag)
	}
}

func (d *Detector) flow(f *event.Flow, raise rules.Raise) {
	tag, tagged := d.tags.Get(f.ID)
	if f.Final {
		d.tags.Drop(f.ID)
	}
	if f.Transport != 6 {
		return
	}
	src, dst := f.Source.IP.Unmap(), f.Destination.IP.Unmap()
	port := f.Destination.Port
	if !tagged && !slices.Contains(d.ports, port) {
		// A port is RDP for a source once the analyser recognised RDP
		// on it in one of the source's flows: a scan of a non-standard
		// port is mostly refused or unanswered attempts, which carry no
		// RDP bytes, around the few hosts that answer.
		if s := d.sources[src]; s == nil || !slices.Contains(s.rdpPorts, port) {
			return
		}
	}
	if f.Start.After(d.now) {
		d.now = f.Start
	}
	failed := rules.FlowFailed(f)
	short := rules.Duration(f) < d.cfg.ShortSession
	probe := failed || !rules.FlowAnswered(f) || (short && f.Destination.Bytes < probeBytes)

	s := d.source(src)
	if s != nil {
		if tagged && tag.Protocol == "rdp" && !slices.Contains(d.ports, port) && !slices.Contains(s.rdpPorts, port) && len(s.rdpPorts) < maxRDPPorts {
			s.rdpPorts = append(s.rdpPorts, port)
		}
		d.addTarget(s, f, dst, probe, tag.Detail)
		d.checkScan(src, s, raise, false)
	}
	if !failed && short {
		if p := d.pair(src, dst, f); p != nil {
			d.checkBrute(src, dst, p, raise, false)
		}
	}
	if !failed && !probe && rules.FlowAnswered(f) {
		d.newPair(src, dst, f, raise)
	}
}

func (d *Detector) source(src netip.Addr) *source {
	s := d.sources[src]
	if s == nil {
		if len(d.sources) >= d.cfg.MaxSources {
			d.droppedSources++
			return nil
		}
		s = &source{targets: map[netip.Addr]*target{}}
		d.sources[src] = s
	}
	return s
}

func (d *Detector) addTarget(s *source, f *event.Flow, dst netip.Addr, probe bool, cookie string) {
	at := f.Start
	for a, t := range s.targets {
		if d.now.Sub(t.last) > d.cfg.LongWindow {
			delete(s.targets, a)
		}
	}
	t := s.targets[dst]
	if t == nil {
		if len(s.targets) >= d.cfg.MaxTargets {
			d.droppedTargets++
			return
		}
		t = &target{first: at, last: at, probe: true}
		s.targets[dst] = t
	}
	t.probe = t.probe && probe
	if at.After(t.last) {
		t.last = at
	}
	if f.End.After(s.last) {
		s.last = f.End
	}
	s.count++
	s.ports = rules.Sample(s.ports, f.Destination.Port, 8)
	if cookie != "" {
		s.cookies = rules.Sample(s.cookies, cookie, 4)
	}
	s.flows = rules.Sample(s.flows, f.ID, 16)
	if !f.CommunityID.IsZero() {
		s.cids = rules.Sample(s.cids, f.CommunityID, 16)
	}
}

// checkScan raises or updates the scan episode of src when its targets
// make a scan; final forces the update of an ending episode.
func (d *Detector) checkScan(src netip.Addr, s *source, raise rules.Raise, final bool) {
	n := len(s.targets) // within the long window
	if n < d.cfg.MinTargets {
		return
	}
	probes, servers := 0, 0
	nShort, probesShort := 0, 0 // within the window
	var first, last time.Time
	for a, t := range s.targets {
		if t.probe {
			probes++
		}
		if d.now.Sub(t.last) <= d.cfg.Window {
			nShort++
			if t.probe {
				probesShort++
			}
		}
		if d.site.IsServer(a) {
			servers++
		}
		if first.IsZero() || t.first.Before(first) {
			first = t.first
		}
		last = rules.Later(last, t.last)
	}
	fast := nShort >= d.cfg.MinTargets && probesShort >= int(math.Ceil(d.cfg.MinFailedRatio*float64(nShort)))
	slow := n >= d.cfg.LongMinTargets && probes >= int(math.Ceil(d.cfg.MinFailedRatio*float64(n)))
	if !fast && !slow && !final {
		return
	}
	last = rules.Later(last, s.last)

	key := "scan/" + src.String()
	sev := Meta.Severity
	var why []string
	if d.site.IsJumpHost(src) {
		sev++
		why = append(why, "the source is the VPN router or jump host")
	}
	if servers > 0 {
		sev++
		why = append(why, strconv.Itoa(servers)+" targets are servers")
	}
	night := d.site.IsNight(first)
	if night {
		sev++
		why = append(why, "at night")
	}
	ep, _ := d.eps.Open(epKey{src: src}, Meta.NewAlert(key, first, last, sev))
	ep.Touch(last)
	ep.Pending = uint64(n)
	if !final && !ep.Due(uint64(n), sev) {
		return
	}
	addrs := make([]netip.Addr, 0, n)
	for a := range s.targets {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	a := ep.Alert
	a.Action = "rdp_scan"
	rules.SetSeverity(&a, max(sev, ep.Severity))
	a.Source = event.AlertEndpoint{IP: src}
	if len(s.ports) == 1 {
		a.Destination = event.AlertEndpoint{Port: s.ports[0]}
	}
	a.Transport = 6
	a.Protocol = "rdp"
	a.Related = append([]netip.Addr{src}, addrs[:min(len(addrs), 32)]...)
	a.RelatedUsers = s.cookies
	a.Evidence = event.AlertEvidence{
		Count: s.count, TargetCount: n, Targets: addrs[:min(len(addrs), 32)],
		Ports: s.ports, FlowIDs: s.flows, CommunityIDs: s.cids,
		Facts: []event.Fact{
			{Name: "failed_or_probe_targets", Value: strconv.Itoa(probes)},
			{Name: "window", Value: d.cfg.Window.String()},
		},
	}
	for _, w := range why {
		a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "severity_raised", Value: w})
	}
	if len(s.cookies) > 0 {
		a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "rdp_cookies", Value: fmt.Sprint(s.cookies)})
	}
	a.Pcap = event.PcapQuery{Filter: "host " + src.String() + " and " + rules.PortFilter("tcp", s.ports), From: first, To: last}
	span := last.Sub(first)
	a.Message = rules.Fill(Meta.Message[0], "src", src.String(), "targets", strconv.Itoa(n)) + rules.Fill(
		" within {span} ({probes} of them refused, unanswered or only probed): {list}. "+
			"This is how ransomware operators look for their next victim. Now: find the computer at {src} and unplug its network cable "+
			"(do not switch it off, do not run a virus scan on it: both destroy evidence), then call the IT security contact. "+
			"Check that RDP is closed on PCs that do not need it.",
		"span", rules.Span(span), "probes", strconv.Itoa(probes), "list", rules.AddrList(addrs, n, 8), "src", src.String())
	a.MessageJA = rules.Fill(Meta.Message[1], "src", src.String(), "targets", strconv.Itoa(n)) + rules.Fill(
		"（{span}の間、うち {probes} 台は拒否・無応答・探査のみ）: {list}。"+
			"ランサムウェア攻撃者が次の標的を探すときの典型的な動きです。今すぐ: {src} の端末を特定し、LANケーブルを抜いてネットワークから隔離してください"+
			"（電源は切らない・ウイルススキャンはしない: 証拠が消えます）。その後、情報システム部門のセキュリティ担当に連絡してください。"+
			"RDPが不要な端末ではRDPを無効にしてください。",
		"span", rules.SpanJA(span), "probes", strconv.Itoa(probes), "list", rules.AddrListJA(addrs, n, 8), "src", src.String())
	ep.Alert = a
	ep.Raise(raise, uint64(n))
}

func (d *Detector) pair(src, dst netip.Addr, f *event.Flow) *pair {
	k := pairKey{src, dst}
	p := d.pairs[k]
	if p == nil {
		if len(d.pairs) >= d.cfg.MaxPairs {
			d.droppedPairs++
			return nil
		}
		p = &pair{port: f.Destination.Port}
		d.pairs[k] = p
	}
	cut := 0
	for cut < len(p.starts) && d.now.Sub(p.starts[cut]) > d.cfg.Window {
		cut++
	}
	p.starts = append(p.starts[:0], p.starts[cut:]...)
	if len(p.starts) < 4*d.cfg.BruteAttempts {
		p.starts = append(p.starts, f.Start)
	}
	p.last = rules.Later(p.last, f.End)
	p.flows = rules.Sample(p.flows, f.ID, 16)
	if !f.CommunityID.IsZero() {
		p.cids = rules.Sample(p.cids, f.CommunityID, 16)
	}
	return p
}

// checkBrute raises or updates the brute-force episode of src → dst;
// final forces the update of an ending episode.
func (d *Detector) checkBrute(src, dst netip.Addr, p *pair, raise rules.Raise, final bool) {
	n := len(p.starts)
	if n < d.cfg.BruteAttempts {
		return
	}
	first := p.starts[0]
	key := "brute/" + src.String() + ">" + dst.String()
	sev := Meta.Severity
	if d.site.IsServer(dst) || d.site.IsJumpHost(src) {
		sev++
	}
	if d.site.IsNight(first) {
		sev++
	}
	ep, _ := d.eps.Open(epKey{brute: true, src: src, dst: dst}, Meta.NewAlert(key, first, p.last, sev))
	ep.Touch(p.last)
	ep.Pending = max(ep.Pending, uint64(n))
	if !final && !ep.Due(uint64(n), sev) {
		return
	}
	n = max(n, int(ep.Pending))
	a := ep.Alert
	a.Action = "rdp_bruteforce"
	a.Threat = rules.Threat([]string{"T1110", "T1021.001"}, []string{"TA0006", "TA0008"})
	rules.SetSeverity(&a, max(sev, ep.Severity))
	a.Source = event.AlertEndpoint{IP: src}
	a.Destination = event.AlertEndpoint{IP: dst, Port: p.port}
	a.Transport, a.Protocol = 6, "rdp"
	a.Related = []netip.Addr{src, dst}
	a.Evidence = event.AlertEvidence{Count: uint64(n), FlowIDs: p.flows, CommunityIDs: p.cids,
		Facts: []event.Fact{{Name: "short_sessions_in_window", Value: strconv.Itoa(n)}, {Name: "window", Value: d.cfg.Window.String()}}}
	a.Pcap = event.PcapQuery{Filter: "host " + src.String() + " and host " + dst.String() + " and tcp port " + strconv.Itoa(int(p.port)), From: first, To: p.last}
	a.Message = rules.Fill("{src} opened {n} short RDP (remote desktop) sessions to {dst} within {span}: someone is guessing passwords. "+
		"Now: check the Windows security log on {dst} for failed logons (event 4625), disconnect {src} from the network if it is not a known admin PC "+
		"(do not switch it off), and call the IT security contact.",
		"src", src.String(), "dst", dst.String(), "n", strconv.Itoa(n), "span", rules.Span(p.last.Sub(first)))
	a.MessageJA = rules.Fill("{src} から {dst} へ {span} の間に {n} 回の短いリモートデスクトップ(RDP)接続がありました。パスワードの総当たり攻撃の可能性があります。"+
		"今すぐ: {dst} のWindowsセキュリティログでログオン失敗(イベント4625)を確認し、{src} が管理用端末でなければLANケーブルを抜いて隔離してください（電源は切らない）。その後、セキュリティ担当に連絡してください。",
		"src", src.String(), "dst", dst.String(), "n", strconv.Itoa(n), "span", rules.SpanJA(p.last.Sub(first)))
	ep.Alert = a
	ep.Raise(raise, uint64(n))
}

func (d *Detector) newPair(src, dst netip.Addr, f *event.Flow, raise rules.Raise) {
	if !*d.cfg.NewPairs || d.base == nil || !d.base.Ready() || d.site.IsAdmin(src) {
		return
	}
	if _, ok := d.base.Edge(baseline.EdgeKey{Client: src, Server: dst, Port: f.Destination.Port, Proto: 6}); ok {
		return
	}
	if d.eps.Get(epKey{src: src}) != nil {
		return // the scan alert already tells
	}
	if ep := d.known.Get(pairKey{src, dst}); ep != nil {
		ep.Touch(f.End)
		return
	}
	key := "pair/" + src.String() + ">" + dst.String()
	sev := rules.Medium
	var why []string
	if d.site.IsServer(dst) {
		sev++
		why = append(why, "the target is a server")
	}
	if d.site.IsJumpHost(src) {
		sev++
		why = append(why, "the source is the VPN router or jump host")
	}
	if d.site.IsNight(f.Start) {
		sev++
		why = append(why, "at night")
	}
	a := Meta.NewAlert(key, f.Start, f.End, sev)
	a.Action = "rdp_new_pair"
	a.Threat = rules.Threat([]string{"T1021.001"}, []string{"TA0008"})
	a.Source = event.AlertEndpoint{IP: src}
	a.Destination = event.AlertEndpoint{IP: dst, Port: f.Destination.Port}
	a.Transport, a.Protocol, a.Direction = 6, "rdp", f.Direction
	a.Related = []netip.Addr{src, dst}
	a.Evidence = event.AlertEvidence{Count: 1}
	rules.FlowEvidence(&a.Evidence, f, 1)
	a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "bytes", Value: strconv.FormatUint(rules.Bytes(f), 10)},
		event.Fact{Name: "duration", Value: rules.Duration(f).Round(time.Second).String()})
	for _, w := range why {
		a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "severity_raised", Value: w})
	}
	a.Pcap = event.PcapQuery{Filter: "host " + src.String() + " and host " + dst.String() + " and tcp port " + strconv.Itoa(int(f.Destination.Port)), From: f.Start, To: f.End}
	a.Message = rules.Fill("{src} used remote desktop (RDP) on {dst} for {dur}; these two computers never did so during the baseline. "+
		"Now: ask the owner of {src} whether this was planned work; if nobody knows, unplug {src} from the network (do not switch it off) and call the IT security contact.",
		"src", src.String(), "dst", dst.String(), "dur", rules.Span(rules.Duration(f)))
	a.MessageJA = rules.Fill("{src} から {dst} へリモートデスクトップ(RDP)接続がありました（{dur}）。学習期間中にはこの組み合わせの接続はありませんでした。"+
		"今すぐ: {src} の利用者に予定された作業か確認してください。誰も把握していなければ、{src} のLANケーブルを抜いて隔離し（電源は切らない）、セキュリティ担当に連絡してください。",
		"src", src.String(), "dst", dst.String(), "dur", rules.SpanJA(rules.Duration(f)))
	ep, _ := d.known.Open(pairKey{src, dst}, a)
	ep.Raise(raise, 1)
}

// Tick implements rules.Detector: it ends quiet episodes (raising their
// final update when they grew) and expires sources and pairs older than
// the window.
func (d *Detector) Tick(now time.Time, raise rules.Raise) {
	if now.After(d.now) {
		d.now = now
	}
	d.eps.Expire(d.now, func(k epKey, ep *rules.Episode) {
		if k.brute {
			if p := d.pairs[pairKey{k.src, k.dst}]; p != nil {
				d.checkBrute(k.src, k.dst, p, raise, true)
			}
		} else if s := d.sources[k.src]; s != nil {
			d.checkScan(k.src, s, raise, true)
		}
	})
	d.known.Expire(d.now, nil)
	if d.now.Before(d.sweep) {
		return
	}
	d.sweep = d.now.Add(time.Minute)
	for a, s := range d.sources {
		if d.now.Sub(s.last) > d.cfg.LongWindow {
			delete(d.sources, a)
		}
	}
	for k, p := range d.pairs {
		if d.now.Sub(p.last) > d.cfg.Window {
			delete(d.pairs, k)
		}
	}
}

// Stats implements rules.Stats.
func (d *Detector) Stats() []event.MetricValue {
	return []event.MetricValue{
		{Name: "sources", Value: uint64(len(d.sources))},
		{Name: "pairs", Value: uint64(len(d.pairs))},
		{Name: "episodes", Value: uint64(d.eps.Len())},
		{Name: "dropped_sources", Value: d.droppedSources},
		{Name: "dropped_targets", Value: d.droppedTargets},
		{Name: "dropped_pairs", Value: d.droppedPairs},
		{Name: "evicted_episodes", Value: d.eps.Evicted},
		{Name: "evicted_flow_tags", Value: d.tags.Evicted},
	}
}
