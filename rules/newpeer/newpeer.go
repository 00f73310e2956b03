package newpeer

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
)

// Meta describes the rule.
var Meta = rules.Meta{
	ID:          "new-external-peer",
	Name:        "New external peer",
	Category:    "network_boundary",
	Description: "A host of the closed hospital network exchanged traffic with an outside address or domain that is neither in the learned baseline nor on the approved list.",
	Reference:   "https://attack.mitre.org/techniques/T1133/",
	Version:     "1",
	Technique:   []string{"T1133", "T1071"},
	Tactic:      []string{"TA0001", "TA0011"},
	Severity:    rules.Medium,
	Message: [2]string{
		"{host} {verb} {peer}, an outside address this network never used",
		"{host} が外部の {peer} と通信しました（{verb_ja}）。この宛先は学習期間中にも許可リストにもありません",
	},
}

// Detector is the rule's state. It is driven by one goroutine.
type Detector struct {
	cfg  Config
	site rules.Site
	base baseline.View

	names *rules.Names
	pairs pairTable                   // alerted (host, peer) pairs
	hosts map[netip.Addr]*hostState   // alerts per host in the last hour
	many  *rules.Episodes[netip.Addr] // folded "many new peers" episodes
	now   time.Time
	sweep time.Time // next sweep of expired state (once a minute)
}

type pairKey struct{ host, peer netip.Addr }

// pairTable holds the alerted and folded (host, peer) pairs: IPv4 pairs
// keyed by one word (both addresses: a small key the map hashes and
// compares at once, as most are), the others by their addresses. Each
// holds at most max_pairs.
type pairTable struct {
	v4 *rules.Episodes[uint64]
	v6 *rules.Episodes[pairKey]
}

// key4 is an IPv4 pair's word; ok is false for any other pair.
func key4(host, peer netip.Addr) (uint64, bool) {
	if !host.Is4() || !peer.Is4() {
		return 0, false
	}
	h, p := host.As4(), peer.As4()
	return uint64(binary.BigEndian.Uint32(h[:]))<<32 | uint64(binary.BigEndian.Uint32(p[:])), true
}

func newPairTable(quiet time.Duration, max int) pairTable {
	return pairTable{rules.NewEpisodes[uint64](quiet, max), rules.NewEpisodes[pairKey](quiet, max)}
}

func (t pairTable) Get(host, peer netip.Addr) *rules.Episode {
	if k, ok := key4(host, peer); ok {
		return t.v4.Get(k)
	}
	return t.v6.Get(pairKey{host, peer})
}

func (t pairTable) Remark(host, peer netip.Addr, at time.Time) bool {
	if k, ok := key4(host, peer); ok {
		return t.v4.Remark(k, at)
	}
	return t.v6.Remark(pairKey{host, peer}, at)
}

func (t pairTable) Mark(host, peer netip.Addr, at time.Time) {
	if k, ok := key4(host, peer); ok {
		t.v4.Mark(k, at)
		return
	}
	t.v6.Mark(pairKey{host, peer}, at)
}

func (t pairTable) Open(host, peer netip.Addr, a event.Alert) (*rules.Episode, bool) {
	if k, ok := key4(host, peer); ok {
		return t.v4.Open(k, a)
	}
	return t.v6.Open(pairKey{host, peer}, a)
}

func (t pairTable) Expire(now time.Time) {
	t.v4.Expire(now, nil)
	t.v6.Expire(now, nil)
}

func (t pairTable) Len() int { return t.v4.Len() + t.v6.Len() }

func (t pairTable) Evicted() uint64 { return t.v4.Evicted + t.v6.Evicted }

type hostState struct {
	alerts []time.Time // separate alerts in the last hour
	folded []netip.Addr
	count  int
	ports  []uint16
	flows  []event.FlowID
	cids   []event.CommunityID
	names  []string
	first  time.Time
	last   time.Time
}

// New returns the rule's detector. base may be nil (no baseline: every
// peer not approved is new).
func New(cfg Config, site rules.Site, base baseline.View) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	if err := site.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, site: site, base: base, names: rules.NewNames(16384),
		pairs: newPairTable(24*time.Hour, cfg.MaxPairs),
		hosts: map[netip.Addr]*hostState{},
		many:  rules.NewEpisodes[netip.Addr](time.Hour, 4096)}, nil
}

// UseNames implements rules.NameUser.
func (d *Detector) UseNames(n *rules.Names) { d.names = n }

// Observe implements rules.Detector.
func (d *Detector) Observe(r event.Record, raise rules.Raise) {
	f, ok := r.(*event.Flow)
	if !ok {
		if !d.names.Shared() {
			d.names.Observe(r)
		}
		return
	}
	src, dst := f.Source.IP.Unmap(), f.Destination.IP.Unmap()
	var host, peer netip.Addr
	inbound := false
	switch {
	case d.site.IsInternal(src) && d.site.IsExternal(dst):
		host, peer = src, dst
	case d.site.IsExternal(src) && d.site.IsInternal(dst):
		host, peer, inbound = dst, src, true
	default:
		d.names.Forget(f)
		return
	}
	if f.Start.After(d.now) {
		d.now = f.Start
	}
	failed := rules.FlowFailed(f)
	if inbound && failed && !d.cfg.InboundFailed {
		d.names.Forget(f)
		return
	}
	// A pair is either marked or open, never both: the marks, which most
	// flows of a host that folds hit, are asked first.
	if d.pairs.Remark(host, peer, f.End) {
		// A pair folded into its host's episode: never raised alone, only
		// its time counts (Expire).
		d.names.Forget(f)
		return
	}
	if ep := d.pairs.Get(host, peer); ep != nil {
		d.names.Forget(f) // an alerted pair: its names are known
		d.grow(ep, host, peer, f, inbound, failed, raise)
		return
	}
	names := d.names.Flow(f, peer)
	port, proto := f.Destination.Port, f.Transport
	if _, ok := d.site.Allowed(host, peer, names, port, proto); ok {
		return
	}
	for _, v := range d.site.Vendors() {
		if v.IsExternal(peer, names) {
			return // the maintenance-window rule's business
		}
	}
	if d.known(host, peer, names) {
		return
	}
	d.raiseNew(host, peer, names, f, inbound, failed, raise)
}

func (d *Detector) known(host, peer netip.Addr, names []string) bool {
	if d.base == nil || !d.base.Ready() {
		return false
	}
	if _, ok := d.base.Peer(host, peer); ok {
		return true
	}
	for _, n := range names {
		if d.base.UsedName(host, n, true) {
			return true
		}
	}
	return false
}

// severity of one flow to a new peer, and why: medium outbound, high
// inbound (medium to a public service port such as a DMZ's DNS or mail),
// low when never answered; +1 for a remote-access or file-sharing
// port, +1 for a large upload; night adds one only to what is already high
// (an ordinary HTTPS call at 04:00 is worth a look in the morning, not a
// call at night).
func (d *Detector) severity(f *event.Flow, inbound, failed bool) (int, []string) {
	var why []string
	return d.level(f, inbound, failed, &why), why
}

// level is the severity alone; the reasons are appended to *why unless
// why is nil (a flow of an alerted pair, which rarely raises it, costs no
// strings).
func (d *Detector) level(f *event.Flow, inbound, failed bool, why *[]string) int {
	because := func(s string) {
		if why != nil {
			*why = append(*why, s)
		}
	}
	sev := rules.Medium
	switch {
	case failed:
		sev = rules.Low
		because("never answered")
	case inbound && !slices.Contains(d.cfg.PublicPorts, f.Destination.Port):
		sev = rules.High
		because("inbound from outside")
	}
	if slices.Contains(d.cfg.RiskyPorts, f.Destination.Port) {
		sev++
		if why != nil {
			because("remote access or file sharing port " + strconv.Itoa(int(f.Destination.Port)))
		}
	}
	if failed {
		return sev
	}
	if up := d.upload(f, inbound); up >= d.cfg.LargeBytes {
		sev++
		if why != nil {
			because("large upload (" + strconv.FormatUint(up, 10) + " bytes)")
		}
	}
	if sev >= rules.High && d.site.IsNight(f.Start) {
		sev++
		because("at night")
	}
	return sev
}

// upload is what the internal host sent.
func (d *Detector) upload(f *event.Flow, inbound bool) uint64 {
	if inbound {
		return f.Destination.Bytes
	}
	return f.Source.Bytes
}

func (d *Detector) raiseNew(host, peer netip.Addr, names []string, f *event.Flow, inbound, failed bool, raise rules.Raise) {
	hs := d.hosts[host]
	if hs == nil {
		hs = &hostState{}
		d.hosts[host] = hs
	}
	cut := 0
	for cut < len(hs.alerts) && d.now.Sub(hs.alerts[cut]) > time.Hour {
		cut++
	}
	hs.alerts = append(hs.alerts[:0], hs.alerts[cut:]...)
	hs.last = later(hs.last, f.End)
	if len(hs.alerts) >= d.cfg.MaxPerHost {
		d.fold(host, peer, names, hs, f, raise)
		return
	}
	hs.alerts = append(hs.alerts, f.Start)

	sev, why := d.severity(f, inbound, failed)
	key := "peer/" + host.String() + ">" + peer.String()
	a := Meta.NewAlert(key, f.Start, f.End, sev)
	d.fill(&a, host, peer, names, f, inbound, failed, why)
	ep, _ := d.pairs.Open(host, peer, a)
	ep.Pending = rules.Bytes(f)
	ep.Raise(raise, 1)
}

// grow updates an alerted pair: it re-raises only when the severity rises
// (the peer answered at last, a large upload, a risky port).
func (d *Detector) grow(ep *rules.Episode, host, peer netip.Addr, f *event.Flow, inbound, failed bool, raise rules.Raise) {
	ep.Touch(f.End)
	ep.Alert.Evidence.Count++
	rules.FlowEvidence(&ep.Alert.Evidence, f, 8)
	if d.level(f, inbound, failed, nil) <= ep.Severity {
		return
	}
	sev, why := d.severity(f, inbound, failed)
	a := ep.Alert
	d.fill(&a, host, peer, a.RelatedHosts, f, inbound, failed, why)
	a.Evidence.Count = ep.Alert.Evidence.Count
	a.First = ep.Alert.First
	rules.SetSeverity(&a, sev)
	ep.Alert = a
	ep.Raise(raise, ep.Raised+1)
}

func (d *Detector) fill(a *event.Alert, host, peer netip.Addr, names []string, f *event.Flow, inbound, failed bool, why []string) {
	port, proto := f.Destination.Port, f.Transport
	a.Action = "new_external_peer"
	techs := []string{"T1071"}
	if inbound {
		techs = []string{"T1133"}
	}
	up := d.upload(f, inbound)
	if up >= d.cfg.LargeBytes {
		techs = append(techs, "T1048")
	}
	a.Threat = rules.Threat(techs, Meta.Tactic)
	domain := ""
	if len(names) > 0 {
		domain = names[0]
	}
	if inbound {
		a.Source = event.AlertEndpoint{IP: peer, Domain: domain}
		a.Destination = event.AlertEndpoint{IP: host, Port: port}
		a.Direction = "inbound"
	} else {
		a.Source = event.AlertEndpoint{IP: host}
		a.Destination = event.AlertEndpoint{IP: peer, Port: port, Domain: domain}
		a.Direction = "outbound"
	}
	a.Transport = proto
	a.Related = []netip.Addr{host, peer}
	a.RelatedHosts = names
	a.Evidence = event.AlertEvidence{Count: max(a.Evidence.Count, 1), Ports: []uint16{port}}
	rules.FlowEvidence(&a.Evidence, f, 8)
	a.Evidence.Facts = append(a.Evidence.Facts,
		event.Fact{Name: "bytes_sent_by_internal_host", Value: strconv.FormatUint(up, 10)},
		event.Fact{Name: "bytes_total", Value: strconv.FormatUint(rules.Bytes(f), 10)},
		event.Fact{Name: "conn_state", Value: f.ConnState})
	for _, w := range why {
		a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "severity_raised", Value: w})
	}
	a.Pcap = event.PcapQuery{Filter: "host " + host.String() + " and host " + peer.String(), From: f.Start, To: f.End}
	peerText := peer.String()
	if domain != "" {
		peerText += " (" + domain + ")"
	}
	peerText += " port " + strconv.Itoa(int(port)) + "/" + event.TransportName(proto)
	verb, verbJA := "connected to", "内部から外部への接続"
	switch {
	case failed:
		verb, verbJA = "tried to connect to", "接続を試みたが応答なし"
	case inbound:
		verb, verbJA = "was reached from", "外部から内部への接続"
	}
	when := f.Start.In(d.site.Location()).Format("2006-01-02 15:04")
	a.Message = rules.Fill(Meta.Message[0], "host", host.String(), "verb", verb, "peer", peerText) +
		rules.Fill(" (at {when}, {bytes} bytes sent by {host}). It is not on the approved list (allowed_external). "+
			"Now: ask who uses {host} whether this was expected (a new vendor service, an update). If nobody knows, ask the firewall administrator to block {peer}"+
			"{inbound}, and call the IT security contact. If it is legitimate, add it to allowed_external so it stays silent.",
			"when", when, "bytes", strconv.FormatUint(up, 10), "host", host.String(), "peer", peer.String(),
			"inbound", map[bool]string{true: " and check how it got in (firewall rules, VPN, port forwarding)", false: ""}[inbound])
	a.MessageJA = rules.Fill(Meta.Message[1], "host", host.String(), "verb_ja", verbJA, "peer", peerText) +
		rules.Fill("（{when}、{host} からの送信 {bytes} バイト）。"+
			"今すぐ: {host} の利用者・管理者に想定された通信か（新しい保守サービスや更新など）確認してください。誰も把握していなければ、ファイアウォール管理者に {peer} との通信の遮断を依頼し{inbound}、セキュリティ担当に連絡してください。"+
			"正当な通信であれば設定の allowed_external に追加すると今後は通知されません。",
			"when", when, "bytes", strconv.FormatUint(up, 10), "host", host.String(), "peer", peer.String(),
			"inbound", map[bool]string{true: "、外部からどう入ってきたか（ファイアウォール設定、VPN、ポート転送）を確認し", false: ""}[inbound])
}

// fold adds a new peer to the host's "many new peers" episode.
func (d *Detector) fold(host, peer netip.Addr, names []string, hs *hostState, f *event.Flow, raise rules.Raise) {
	// Remember the pair so that it is not new again (a mark, not an
	// episode: a host folding is one that reaches many peers).
	d.pairs.Mark(host, peer, f.End)
	if hs.count == 0 {
		hs.first = f.Start
	}
	hs.count++
	hs.folded = rules.Sample(hs.folded, peer, 32)
	hs.ports = rules.Sample(hs.ports, f.Destination.Port, 16)
	hs.flows = rules.Sample(hs.flows, f.ID, 16)
	if !f.CommunityID.IsZero() {
		hs.cids = rules.Sample(hs.cids, f.CommunityID, 16)
	}
	for _, n := range names {
		hs.names = rules.Sample(hs.names, n, 16)
	}
	d.raiseMany(host, hs, raise, false)
}

func (d *Detector) raiseMany(host netip.Addr, hs *hostState, raise rules.Raise, final bool) {
	key := "peers/" + host.String()
	sev := rules.High
	ep, _ := d.many.Open(host, Meta.NewAlert(key, hs.first, hs.last, sev))
	ep.Touch(hs.last)
	ep.Pending = uint64(hs.count)
	if !final && !ep.Due(uint64(hs.count), sev) {
		return
	}
	a := ep.Alert
	a.Action = "many_new_external_peers"
	a.Source = event.AlertEndpoint{IP: host}
	a.Direction = ""
	a.Related = append([]netip.Addr{host}, hs.folded...)
	a.RelatedHosts = hs.names
	a.Evidence = event.AlertEvidence{Count: uint64(hs.count), TargetCount: hs.count + d.cfg.MaxPerHost,
		Targets: hs.folded, Ports: hs.ports, FlowIDs: hs.flows, CommunityIDs: hs.cids,
		Facts: []event.Fact{{Name: "separate_alerts_before", Value: strconv.Itoa(d.cfg.MaxPerHost)}}}
	a.Pcap = event.PcapQuery{Filter: "host " + host.String() + " and not net " + strings.Join(prefixes(d.site), " and not net "), From: hs.first, To: hs.last}
	if len(d.site.Internal) == 0 {
		a.Pcap.Filter = "host " + host.String()
	}
	n := strconv.Itoa(hs.count + d.cfg.MaxPerHost)
	a.Message = rules.Fill("{host} talked to {n} outside addresses this network never used within the hour ({list}, …). "+
		"A closed hospital network should not do this: it may be infected, or someone uses it to browse or to send data out. "+
		"Now: unplug {host} from the network (do not switch it off) and call the IT security contact.",
		"host", host.String(), "n", n, "list", rules.AddrList(hs.folded, len(hs.folded), 5))
	a.MessageJA = rules.Fill("{host} が1時間以内に、これまで使われていない外部の宛先 {n} 件と通信しました（{list} など）。"+
		"閉域であるべき病院ネットワークでは異常です。感染、または不正な閲覧・データ送信の可能性があります。今すぐ: {host} のLANケーブルを抜いて隔離し（電源は切らない）、セキュリティ担当に連絡してください。",
		"host", host.String(), "n", n, "list", rules.AddrListJA(hs.folded, len(hs.folded), 5))
	ep.Alert = a
	ep.Raise(raise, uint64(hs.count))
}

func prefixes(s rules.Site) []string {
	out := make([]string, len(s.Internal))
	for i, p := range s.Internal {
		out[i] = p.String()
	}
	return out
}

// Tick implements rules.Detector.
func (d *Detector) Tick(now time.Time, raise rules.Raise) {
	if now.After(d.now) {
		d.now = now
	}
	d.many.Expire(d.now, func(host netip.Addr, ep *rules.Episode) {
		if hs := d.hosts[host]; hs != nil {
			d.raiseMany(host, hs, raise, true)
		}
	})
	d.pairs.Expire(d.now)
	if d.now.Before(d.sweep) {
		return
	}
	d.sweep = d.now.Add(time.Minute)
	for h, hs := range d.hosts {
		if d.now.Sub(hs.last) > time.Hour && d.many.Get(h) == nil {
			delete(d.hosts, h)
		}
	}
}

// Stats implements rules.Stats.
func (d *Detector) Stats() []event.MetricValue {
	return []event.MetricValue{
		{Name: "alerted_pairs", Value: uint64(d.pairs.Len())},
		{Name: "hosts", Value: uint64(len(d.hosts))},
		{Name: "evicted_pairs", Value: d.pairs.Evicted()},
		{Name: "evicted_names", Value: d.names.Evicted()},
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
