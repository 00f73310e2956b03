package segmentpolicy

import (
	"fmt"
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
	ID:          "segment-policy",
	Name:        "Flow between segments not allowed by policy",
	Category:    "network_policy",
	Description: "Hosts of one network segment opened connections to another segment on a port that the declared segment policy does not allow.",
	Reference:   "https://attack.mitre.org/tactics/TA0008/",
	Version:     "1",
	Tactic:      []string{"TA0008"},
	Severity:    rules.Medium,
	Message: [2]string{
		"{from} → {to} on {port}: not allowed by the segment policy",
		"セグメント {from} → {to}（{port}）の通信はセグメントポリシーで許可されていません",
	},
}

// Detector is the rule's state. It is driven by one goroutine.
type Detector struct {
	cfg   Config
	site  rules.Site
	on    bool
	eps   *rules.Episodes[epKey]
	state map[epKey]*episode
	now   time.Time
}

type epKey struct {
	from, to string
	port     uint16
	proto    uint8
}

type episode struct {
	sources, targets []netip.Addr
	nsrc, ndst       int
	answered         bool
	count            uint64
	flows            []event.FlowID
	cids             []event.CommunityID
	first, last      time.Time
	night            bool
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
	return &Detector{cfg: cfg, site: site, on: site.HasSegmentPolicy(),
		eps: rules.NewEpisodes[epKey](cfg.Quiet, cfg.MaxEpisodes), state: map[epKey]*episode{}}, nil
}

// Observe implements rules.Detector.
func (d *Detector) Observe(r event.Record, raise rules.Raise) {
	f, ok := r.(*event.Flow)
	if !ok || !d.on || (f.Transport != 6 && f.Transport != 17) {
		return
	}
	if !f.Final && f.Reason == event.EndActive {
		return // judged at its first record… or its final one
	}
	src, dst := f.Source.IP.Unmap(), f.Destination.IP.Unmap()
	from, to := d.site.Segment(src), d.site.Segment(dst)
	if from == "" || to == "" || from == to || d.site.SegmentAllowed(from, to, f.Destination.Port, f.Transport) {
		return
	}
	if f.Start.After(d.now) {
		d.now = f.Start
	}
	k := epKey{from, to, f.Destination.Port, f.Transport}
	st := d.state[k]
	if st == nil || d.eps.Get(k) == nil {
		st = &episode{first: f.Start}
		d.state[k] = st
	}
	if !slices.Contains(st.sources, src) {
		st.nsrc++
		st.sources = rules.Sample(st.sources, src, 32)
	}
	if !slices.Contains(st.targets, dst) {
		st.ndst++
		st.targets = rules.Sample(st.targets, dst, 32)
	}
	st.answered = st.answered || !rules.FlowFailed(f)
	st.count++
	st.flows = rules.Sample(st.flows, f.ID, 16)
	if !f.CommunityID.IsZero() {
		st.cids = rules.Sample(st.cids, f.CommunityID, 16)
	}
	st.last = rules.Later(st.last, f.End)
	st.night = st.night || d.site.IsNight(f.Start)
	d.check(k, st, raise, false)
}

func (d *Detector) check(k epKey, st *episode, raise rules.Raise, final bool) {
	sev := Meta.Severity
	var why []string
	if !st.answered {
		sev = rules.Low
		why = append(why, "no connection was answered")
	}
	if st.night {
		sev++
		why = append(why, "at night")
	}
	port := strconv.Itoa(int(k.port)) + "/" + event.TransportName(k.proto)
	key := "segment/" + k.from + ">" + k.to + ":" + port
	ep, _ := d.eps.Open(k, Meta.NewAlert(key, st.first, st.last, sev))
	ep.Touch(st.last)
	n := uint64(st.nsrc + st.ndst)
	ep.Pending = max(ep.Pending, n)
	if !final && !ep.Due(n, sev) {
		return
	}
	a := ep.Alert
	rules.SetSeverity(&a, max(sev, ep.Severity))
	a.Action = "segment_policy_violation"
	srcs, dsts := sorted(st.sources), sorted(st.targets)
	a.Source = event.AlertEndpoint{}
	if st.nsrc == 1 {
		a.Source = event.AlertEndpoint{IP: srcs[0]}
	}
	a.Destination = event.AlertEndpoint{Port: k.port}
	if st.ndst == 1 {
		a.Destination.IP = dsts[0]
	}
	a.Transport = k.proto
	a.Direction = "internal"
	a.Related = append(slices.Clone(srcs), dsts...)
	a.Evidence = event.AlertEvidence{Count: st.count, TargetCount: st.ndst, Targets: dsts, Ports: []uint16{k.port},
		FlowIDs: st.flows, CommunityIDs: st.cids,
		Facts: []event.Fact{{Name: "from_segment", Value: k.from}, {Name: "to_segment", Value: k.to},
			{Name: "sources", Value: strconv.Itoa(st.nsrc)},
			{Name: "policy_line_that_would_allow_it", Value: "{from: " + k.from + ", to: " + k.to + ", ports: [" + strconv.Itoa(int(k.port)) + "], proto: " + event.TransportName(k.proto) + "}"}}}
	for _, w := range why {
		a.Evidence.Facts = append(a.Evidence.Facts, event.Fact{Name: "severity_raised", Value: w})
	}
	filter := event.TransportName(k.proto) + " port " + strconv.Itoa(int(k.port))
	if st.nsrc == 1 {
		filter = "host " + srcs[0].String() + " and " + filter
	}
	if st.ndst == 1 {
		filter = "host " + dsts[0].String() + " and " + filter
	}
	a.Pcap = event.PcapQuery{Filter: filter, From: st.first, To: st.last}
	a.Message = rules.Fill(Meta.Message[0], "from", k.from, "to", k.to, "port", port) + rules.Fill(
		" ({ns} hosts, e.g. {srcs}, reached {nd} hosts, e.g. {dsts}). Now: if this traffic is needed, add the line shown in the evidence to segment_policy; "+
			"if nobody expects it, find out which program on {src1} makes it and call the IT security contact.",
		"ns", strconv.Itoa(st.nsrc), "srcs", rules.AddrList(srcs, st.nsrc, 3), "nd", strconv.Itoa(st.ndst), "dsts", rules.AddrList(dsts, st.ndst, 3), "src1", srcs[0].String())
	a.MessageJA = rules.Fill(Meta.Message[1], "from", k.from, "to", k.to, "port", port) + rules.Fill(
		"（送信元 {ns} 台: {srcs}、宛先 {nd} 台: {dsts}）。今すぐ: 業務上必要な通信であれば、証拠欄に示した行を segment_policy に追加してください。"+
			"誰も想定していない通信であれば、{src1} のどのプログラムが通信しているか確認し、セキュリティ担当に連絡してください。",
		"ns", strconv.Itoa(st.nsrc), "srcs", rules.AddrListJA(srcs, st.nsrc, 3), "nd", strconv.Itoa(st.ndst), "dsts", rules.AddrListJA(dsts, st.ndst, 3), "src1", srcs[0].String())
	ep.Alert = a
	ep.Raise(raise, n)
}

func sorted(as []netip.Addr) []netip.Addr {
	out := slices.Clone(as)
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
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
