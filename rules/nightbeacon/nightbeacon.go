package nightbeacon

import (
	"fmt"
	"hash/maphash"
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
	ID:          "night-beacon",
	Name:        "Night-time beacon",
	Category:    "command_and_control",
	Description: "At night, a host calls the same outside peer (or looks up the same domain) again and again at a regular interval, which it does not normally do: malware calling home.",
	Reference:   "https://attack.mitre.org/techniques/T1071/",
	Version:     "1",
	Technique:   []string{"T1071", "T1573"},
	Tactic:      []string{"TA0011"},
	Severity:    rules.High,
	Message: [2]string{
		"{src} called {peer} every {period} at night ({n} times)",
		"{src} が夜間に {peer} へ {period} ごとに接続しています（{n} 回）",
	},
}

// DNSQuestion is implemented by DNS query records: the name asked.
type DNSQuestion interface {
	DNSQuestion() string
}

// maxBeats is how many beats a pair keeps.
const maxBeats = 32

// mergeGap: connections closer than this are one beat.
const mergeGap = 500 * time.Millisecond

// Detector is the rule's state. It is driven by one goroutine.
type Detector struct {
	cfg   Config
	site  rules.Site
	base  baseline.View
	night [baseline.HoursPerWeek]bool // hours of week that are (partly) night

	series map[key]*series
	seed   maphash.Seed         // of key.dom
	names  *rules.Names         // server names by flow, DNS names by address
	eps    *rules.Episodes[key] // by episodeKey
	// raisedBy is the series that last raised each open episode, for the
	// episode's final update (one entry per episode; dropped with it).
	raisedBy map[key]key
	now      time.Time
	sweep    time.Time // next sweep of expired state (once a minute)
	// oldest is at most the last beat of every series that its time
	// alone may drop (a series' last only grows; zero: there are none): a
	// sweep can find none of those to drop before oldest+4·MaxPeriod. The others (held) are past
	// that time but kept by their open episode: they can go only after an
	// episode closed (closed counts them, Evicted and Expired). Until
	// either, a sweep skips the walk over every series.
	oldest time.Time
	held   bool
	closed uint64 // eps.Evicted + eps.Expired at the last walk

	dropped uint64
	skipped uint64 // beats not scored (see series.slack, and beats of an alerted series)

	nightSet    bool // isNight's memory: the minute and its answer
	nightMinute int64
	nightNow    bool
	// scoreAll scores every beat, sweepAll walks every series at every
	// sweep (tests compare them with the skipping).
	scoreAll, sweepAll bool
}

type key struct {
	src, dst netip.Addr
	port     uint16
	proto    uint8
	// dom keys a series by the peer's registered domain instead of its
	// address (dst unset) when its name is known, so that a peer behind
	// rotating addresses is one series; with dns, the series is of DNS
	// questions. It is the domain's 64-bit hash with the detector's random
	// seed (0: none), so that a key holds no string: the map hashes and
	// compares its bytes at once, without reading a string elsewhere. (Two
	// domains of one host sharing a hash, one chance in 2⁶⁴ per pair of
	// them, would share a series.) The series holds the domain's name.
	dom uint64
	dns bool
}

// domKey is the key's dom for a registered domain ("": 0).
func (d *Detector) domKey(domain string) uint64 {
	if domain == "" {
		return 0
	}
	return maphash.String(d.seed, domain) | 1
}

// series is one pair's beats. Times are Unix nanoseconds (packet times
// lie well inside int64's range), and the fields every beat reads come
// first: a beat touches a cache line or two of it.
type series struct {
	times []int64 // the last maxBeats beats, ascending
	sizes []uint64
	total uint64 // beats seen in this series (times keeps the last maxBeats)
	tail  int64  // the last of times (when there are any)
	last  int64  // the latest beat seen (0: none yet)
	// slack is how many more intervals must come before the series can
	// pass the single-period test, which it failed when last scored (see
	// Score.Cluster); until then a beat is not scored.
	slack int
	// open: the series raised, or joined, an episode that may still be
	// open; each beat keeps it open (whether scored or not).
	open  bool
	flows []event.FlowID
	cids  []event.CommunityID
	dst   netip.Addr // the peer's last address
	name  string
	// domain is the registered domain that the key's dom stands for ("":
	// none).
	domain string
	// link (with linked) is, for a series of DNS questions, the series of
	// connections from the same host to the same domain that last beat:
	// the lookups are that beacon's, and its alert names the address.
	link   key
	linked bool
	// The first beats live in the series itself: one allocation and a few
	// cache lines for a pair that beats a few times only, as most do.
	timesBuf [4]int64
	sizesBuf [4]uint64
	flowsBuf [2]event.FlowID
}

// New returns the rule's detector. base may be nil (no baseline).
func New(cfg Config, site rules.Site, base baseline.View) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	if err := site.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	cfg = cfg.withDefaults()
	// An episode stays open as long as its series may go on (a gap of up
	// to 4·MaxPeriod: missed beats), and at least two hours.
	d := &Detector{cfg: cfg, site: site, base: base, series: map[key]*series{}, seed: maphash.MakeSeed(),
		names: rules.NewNamesSized(8192, maxNames),
		eps:   rules.NewEpisodes[key](max(2*time.Hour, 4*cfg.MaxPeriod), cfg.MaxPairs), raisedBy: map[key]key{}}
	start, end := d.site.NightHours()
	for h := range baseline.HoursPerWeek {
		m := (h % 24) * 60
		// night if any minute of the hour is night
		d.night[h] = inSpan(m, start, end) || inSpan(m+59, start, end)
	}
	return d, nil
}

func inSpan(m, start, end int) bool {
	if start <= end {
		return m >= start && m < end
	}
	return m >= start || m < end
}

const maxNames = 65_536

// UseNames implements rules.NameUser.
func (d *Detector) UseNames(n *rules.Names) { d.names = n }

// Observe implements rules.Detector.
func (d *Detector) Observe(r event.Record, raise rules.Raise) {
	if f, ok := r.(*event.Flow); ok {
		d.flow(f, raise)
		return
	}
	b, ok := r.(rules.Based)
	if !ok {
		return
	}
	if !d.names.Shared() {
		d.names.Observe(r)
	}
	if q, ok := r.(DNSQuestion); ok {
		d.dns(b.BaseRecord(), q.DNSQuestion(), raise)
	}
}

func (d *Detector) flow(f *event.Flow, raise rules.Raise) {
	if !f.Final && f.Reason == event.EndActive {
		return // an interim record of a long flow: its start was seen
	}
	if f.Transport != 6 && f.Transport != 17 || !d.isNight(f.Start) {
		d.names.Forget(f)
		return
	}
	src, dst := f.Source.IP.Unmap(), f.Destination.IP.Unmap()
	if !d.site.IsInternal(src) || !(d.site.IsExternal(dst) || d.cfg.InternalPeers && d.site.IsInternal(dst) && src != dst) {
		d.names.Forget(f)
		return
	}
	name := d.names.Name(f, dst)
	var nameBuf [1]string
	names := nameBuf[:0]
	if name != "" {
		names = append(names, name)
	}
	if _, ok := d.site.Allowed(src, dst, names, f.Destination.Port, f.Transport); ok {
		return
	}
	k := key{src: src, dst: dst, port: f.Destination.Port, proto: f.Transport}
	if d.known(k, name) {
		return
	}
	reg := registeredDomain(name)
	if reg != "" {
		k = key{src: src, dom: d.domKey(reg), port: f.Destination.Port, proto: f.Transport}
	}
	d.beat(k, reg, dst, f.Start, rules.Bytes(f), f.ID, f.CommunityID, name, raise)
}

func (d *Detector) dns(b *event.Base, q string, raise rules.Raise) {
	src := b.Source.Addr().Unmap()
	if !d.isNight(b.Timestamp) || !d.site.IsInternal(src) {
		return
	}
	q = baseline.NormalizeName(q)
	dom := baseline.RegisteredDomain(q)
	if dom == "" || d.site.IsInfrastructure(src) {
		return
	}
	if _, ok := d.site.Allowed(src, netip.Addr{}, []string{q}, 53, 17); ok {
		return
	}
	if d.base != nil && d.base.Ready() && d.base.UsedName(src, q, true) {
		return
	}
	k := key{src: src, dom: d.domKey(dom), port: 53, proto: 17, dns: true}
	d.beat(k, dom, netip.Addr{}, b.Timestamp, 0, b.FlowID, b.CommunityID, dom, raise)
}

// isNight is Site.IsNight remembered for one minute of packet time
// (records come in about time order; night starts and ends on a minute of
// the site's zone, whose offset from UTC is whole minutes).
func (d *Detector) isNight(t time.Time) bool {
	m := t.Unix() / 60
	if t.Unix() < 0 && t.Unix()%60 != 0 {
		m-- // floor, not truncation, before 1970
	}
	if !d.nightSet || m != d.nightMinute {
		d.nightSet, d.nightMinute, d.nightNow = true, m, d.site.IsNight(t)
	}
	return d.nightNow
}

// registeredDomain is baseline.RegisteredDomain, at no cost for a peer
// without a name (most of them).
func registeredDomain(name string) string {
	if name == "" {
		return ""
	}
	return baseline.RegisteredDomain(name)
}

// known reports whether the baseline saw the pair active at night, or the
// host using the peer's name.
func (d *Detector) known(k key, name string) bool {
	if d.base == nil || !d.base.Ready() {
		return false
	}
	if name != "" && d.base.UsedName(k.src, name, true) {
		return true
	}
	return d.base.EdgeActiveIn(baseline.EdgeKey{Client: k.src, Server: k.dst, Port: k.port, Proto: k.proto}, &d.night)
}

func (d *Detector) beat(k key, domain string, dst netip.Addr, at time.Time, size uint64, id event.FlowID, cid event.CommunityID, name string, raise rules.Raise) {
	if at.After(d.now) {
		d.now = at
	}
	s := d.series[k]
	if s == nil {
		if len(d.series) >= d.cfg.MaxPairs {
			d.evict()
		}
		s = &series{last: math.MinInt64, domain: domain}
		s.times, s.sizes, s.flows = s.timesBuf[:0], s.sizesBuf[:0], s.flowsBuf[:0]
		d.series[k] = s
		if d.oldest.IsZero() || at.Before(d.oldest) {
			d.oldest = at
		}
	}
	if name != "" {
		s.name = name
	}
	if dst.IsValid() {
		s.dst = dst
	}
	if k.dom != 0 && !k.dns {
		// Connections to a named peer: the host's lookups of that domain,
		// if it makes a series of them, are this beacon's.
		if ds := d.series[key{src: k.src, dom: k.dom, port: 53, proto: 17, dns: true}]; ds != nil {
			ds.link, ds.linked = k, true
		}
	}
	// Flow records come when flows end, not quite in start order: a beat
	// is put in its place, or merged with a neighbour less than mergeGap
	// away.
	// The usual beat comes after the last one (s.tail): then the beats
	// kept are not read at all.
	ns := at.UnixNano()
	i, prev := len(s.times), s.tail
	if i > 0 && ns <= prev {
		i, _ = slices.BinarySearch(s.times, ns)
		if i > 0 {
			prev = s.times[i-1]
		}
	}
	switch {
	case i > 0 && time.Duration(ns-prev) < mergeGap:
		s.sizes[i-1] += size
		s.last = max(s.last, ns)
		return
	case i < len(s.times) && time.Duration(s.times[i]-ns) < mergeGap:
		s.sizes[i] += size
		s.last = max(s.last, ns)
		return
	case i == 0 && len(s.times) > 0:
		return // older than the series kept: ignore
	case i == len(s.times) && i > 0 && time.Duration(ns-prev) > 4*d.cfg.MaxPeriod:
		s.times, s.sizes, s.total, s.slack = s.times[:0], s.sizes[:0], 0, 0 // a new series
		i = 0
	}
	// A beat after the last one adds one interval; one between two beats
	// replaces an interval by two. (Dropping the oldest beat below only
	// removes one.)
	if i > 0 && i < len(s.times) {
		s.slack -= 2
	} else {
		s.slack--
	}
	s.total++
	switch {
	case len(s.times) == maxBeats: // 0 < i ≤ maxBeats
		// Full: the oldest beat makes room in place (what inserting and
		// dropping it below would leave, without the arrays growing to
		// twice maxBeats).
		copy(s.times[:i-1], s.times[1:i])
		copy(s.sizes[:i-1], s.sizes[1:i])
		s.times[i-1], s.sizes[i-1] = ns, size
	case i == len(s.times):
		s.times, s.sizes = append(s.times, ns), append(s.sizes, size)
	default:
		s.times = slices.Insert(s.times, i, ns)
		s.sizes = slices.Insert(s.sizes, i, size)
	}
	s.tail = s.times[len(s.times)-1]
	if len(s.times) > maxBeats {
		s.times = slices.Delete(s.times, 0, 1)
		s.sizes = slices.Delete(s.sizes, 0, 1)
	}
	s.last = max(s.last, ns)
	s.flows = rules.Sample(s.flows, id, 16)
	if !cid.IsZero() {
		s.cids = rules.Sample(s.cids, cid, 16)
	}
	if s.open {
		// Every beat of an alerted series keeps its episode open, scored
		// or not: one long beacon is one alert.
		if ep := d.eps.Get(d.episodeKey(k)); ep != nil {
			ep.Touch(at)
			ep.Pending = max(ep.Pending, s.total)
			// Until its count doubles (or its severity may rise), the
			// alert is not raised again, whatever the score: not worth
			// scoring.
			if !ep.Due(s.total, Meta.Severity+1) && !d.scoreAll {
				d.skipped++
				return
			}
		} else {
			s.open = false
		}
	}
	if s.slack > 0 && !d.scoreAll {
		d.skipped++
		return // cannot pass the single-period test yet: not worth scoring
	}
	d.check(k, s, raise, false)
}

func (d *Detector) evict() {
	var oldK key
	var old *series
	for k, s := range d.series {
		if old == nil || s.last < old.last {
			oldK, old = k, s
		}
	}
	delete(d.series, oldK)
	d.dropped++
}

// needSingle is a necessary count of single intervals (of one period)
// for a series of n intervals to pass the single-period test, one that
// never falls as n grows (the skipping of beats relies on that). The test
// (2·Single + Multiple ≥ 2·(n − max(1, n/5)), Single + Multiple ≤ n)
// needs Single ≥ n − 2·max(1, n/5), which falls by one at each multiple
// of five: the next multiple of five bounds it for every longer series.
func needSingle(n int) int {
	f := func(n int) int { return n - 2*max(1, n/5) }
	return min(f(n), f((n+4)/5*5))
}

// episodeKey is the episode a series' alert belongs to: a peer known by
// its domain is one episode per (host, domain), whether the beats are
// connections (on any port) or DNS questions; a bare address is one per
// series.
func (d *Detector) episodeKey(k key) key {
	if k.dom == 0 {
		return k
	}
	return key{src: k.src, dom: k.dom}
}

func (d *Detector) check(k key, s *series, raise rules.Raise, final bool) {
	n := len(s.times)
	if n < d.cfg.MinBeats {
		return
	}
	var w scorer
	sc := w.period(s.times, d.cfg.MaxJitter, needSingle(n-1))
	if sc.Intervals == 0 {
		return
	}
	// The single-period test: all but one in five intervals of a single
	// period, where an interval spanning one or two missed beats (k = 2
	// or 3) counts half. At five intervals: five or four single, or three
	// single and two spanning missed beats. Half, because random traffic
	// fits a period with holes in it more easily than one without.
	needReg := sc.Intervals - max(1, sc.Intervals/5)
	if need := needSingle(sc.Intervals); sc.Single < need {
		// Each interval that comes adds at most one to the best cluster
		// of single intervals, and need never falls while the series
		// lasts: until need-Cluster more have come, Single stays short.
		s.slack = need - sc.Cluster
		return
	}
	if 2*sc.Single+sc.Multiple < 2*needReg {
		return
	}
	if sc.Period < d.cfg.MinPeriod || sc.Period > d.cfg.MaxPeriod {
		return
	}
	w.rest(&sc, s.sizes, d.cfg.MaxJitter)
	// Even sizes and even timing alert at MinBeats; uneven sizes need twice
	// the beats with the timing alone. A series that passed with missed
	// beats needs evener sizes (a size score of 0.75: the sizes' MAD
	// within 12.5% of their median): random traffic fits a period with
	// holes in it more easily than one without.
	switch {
	case sc.Size >= 0.5 && (sc.Multiple == 0 || sc.Size >= 0.75) && sc.Total >= d.cfg.MinScore:
	case n >= 2*d.cfg.MinBeats && sc.Timing >= d.cfg.MinScore:
	default:
		return
	}
	first, last := time.Unix(0, s.times[0]).UTC(), time.Unix(0, s.times[n-1]).UTC()
	ek := d.episodeKey(k)
	// A series of DNS questions whose host also connected to the domain
	// during it is that connection beacon's: its alert names the address
	// it connected to (and shares the connections' episode).
	dst, port, name, dnsOnly := s.dst, k.port, s.name, k.dns
	if k.dns && s.linked {
		if c := d.series[s.link]; c != nil && c.last >= s.times[0] {
			dst, port, dnsOnly = c.dst, s.link.port, false
			if c.name != "" {
				name = c.name
			}
		}
	}
	domain := s.domain
	peer := k.dst.String()
	if k.dom != 0 {
		peer = domain
	}
	sev := Meta.Severity
	if sc.Total >= 0.85 && n >= 2*d.cfg.MinBeats {
		sev++
	}
	ep := d.eps.Get(ek)
	if ep == nil {
		keyStr := "beacon/" + k.src.String() + ">" + peer + ":" + strconv.Itoa(int(port))
		ep, _ = d.eps.Open(ek, Meta.NewAlert(keyStr, first, last, sev))
	}
	s.open = true
	ep.Touch(last)
	first = ep.Alert.First // the series may have slid past its first beats
	ep.Pending = max(ep.Pending, s.total)
	if !final && !ep.Due(s.total, sev) {
		return
	}
	a := ep.Alert
	rules.SetSeverity(&a, max(sev, ep.Severity))
	a.Action = "night_beacon"
	a.Threat = rules.Threat(Meta.Technique, Meta.Tactic)
	a.Source = event.AlertEndpoint{IP: k.src}
	if dnsOnly {
		a.Action = "night_dns_beacon"
		a.Destination = event.AlertEndpoint{Domain: domain, Port: 53}
		a.Threat = rules.Threat([]string{"T1071.004"}, Meta.Tactic)
		a.Related = []netip.Addr{k.src}
	} else {
		a.Destination = event.AlertEndpoint{IP: dst, Port: port, Domain: name}
		a.Related = []netip.Addr{k.src, dst}
	}
	if name != "" {
		a.RelatedHosts = []string{name}
	}
	a.Transport = k.proto
	if k.dns && !dnsOnly {
		a.Transport = s.link.proto
	}
	a.Direction = "outbound"
	if d.site.IsInternal(dst) {
		a.Direction = "internal"
	}
	ports := []uint16{port}
	if port != k.port {
		ports = append(ports, k.port) // the connections' port, and DNS's
	}
	facts := []event.Fact{
		{Name: "period", Value: sc.Period.Round(10 * time.Millisecond).String()},
		{Name: "score", Value: strconv.FormatFloat(sc.Total, 'f', 2, 64)},
		{Name: "regular_intervals", Value: strconv.FormatFloat(sc.Regular, 'f', 2, 64)},
		{Name: "jitter", Value: strconv.FormatFloat(sc.Dispersion, 'f', 3, 64)},
		{Name: "bowley_skew", Value: strconv.FormatFloat(sc.Skew, 'f', 2, 64)},
		{Name: "size_score", Value: strconv.FormatFloat(sc.Size, 'f', 2, 64)},
	}
	if k.dns && !dnsOnly {
		facts = append(facts, event.Fact{Name: "beats", Value: "dns_lookups"})
	}
	a.Evidence = event.AlertEvidence{Count: s.total, FlowIDs: s.flows, CommunityIDs: s.cids, Ports: ports, Facts: facts}
	switch {
	case k.dns && dnsOnly:
		a.Pcap = event.PcapQuery{Filter: "host " + k.src.String() + " and port 53", From: first, To: last}
	case k.dns:
		a.Pcap = event.PcapQuery{Filter: "host " + k.src.String() + " and (port 53 or host " + dst.String() + ")", From: first, To: last}
	case k.dom != 0:
		a.Pcap = event.PcapQuery{Filter: "host " + k.src.String() + " and port " + strconv.Itoa(int(k.port)), From: first, To: last}
	default:
		a.Pcap = event.PcapQuery{Filter: "host " + k.src.String() + " and host " + k.dst.String() + " and port " + strconv.Itoa(int(k.port)), From: first, To: last}
	}
	peerText := peer + ":" + strconv.Itoa(int(port))
	switch {
	case k.dom != 0 && !dnsOnly && dst.IsValid():
		peerText = name + ":" + strconv.Itoa(int(port)) + " (" + dst.String() + ")"
	case name != "" && k.dom == 0:
		peerText += " (" + name + ")"
	}
	block := peer
	if k.dom != 0 && !dnsOnly && dst.IsValid() {
		block = domain + " / " + dst.String()
	}
	loc := d.site.Location()
	period := rules.Span(sc.Period)
	total := strconv.FormatUint(s.total, 10)
	a.Message = rules.Fill(Meta.Message[0], "src", k.src.String(), "peer", peerText, "period", period, "n", total) + rules.Fill(
		", from {from} to {to}, with almost no variation: this is what malware calling its controller looks like, and this host does not normally do it at night. "+
			"Now: unplug {src} from the network (do not switch it off, do not run a virus scan on it: both destroy evidence), ask the firewall administrator to block {peer}, "+
			"and call the IT security contact.",
		"from", first.In(loc).Format("15:04"), "to", last.In(loc).Format("15:04"), "src", k.src.String(), "peer", block)
	a.MessageJA = rules.Fill(Meta.Message[1], "src", k.src.String(), "peer", peerText, "period", rules.SpanJA(sc.Period), "n", total) + rules.Fill(
		"（{from}〜{to}、間隔がほぼ一定）。マルウェアが指令サーバと通信するときの特徴で、この端末は通常夜間にこの通信をしません。"+
			"今すぐ: {src} のLANケーブルを抜いて隔離してください（電源は切らない・ウイルススキャンはしない: 証拠が消えます）。ファイアウォール管理者に {peer} への通信の遮断を依頼し、セキュリティ担当に連絡してください。",
		"from", first.In(loc).Format("15:04"), "to", last.In(loc).Format("15:04"), "src", k.src.String(), "peer", block)
	ep.Alert = a
	ep.Raise(raise, s.total)
	d.raisedBy[ek] = k
}

// Tick implements rules.Detector.
func (d *Detector) Tick(now time.Time, raise rules.Raise) {
	if now.After(d.now) {
		d.now = now
	}
	d.eps.Expire(d.now, func(ek key, ep *rules.Episode) {
		k, ok := d.raisedBy[ek]
		if s := d.series[k]; ok && s != nil {
			d.check(k, s, raise, true)
		}
	})
	if len(d.raisedBy) > d.eps.Len() {
		for ek := range d.raisedBy {
			if d.eps.Get(ek) == nil {
				delete(d.raisedBy, ek)
			}
		}
	}
	if d.now.Before(d.sweep) {
		return
	}
	d.sweep = d.now.Add(time.Minute)
	closed := d.eps.Evicted + d.eps.Expired
	if (d.oldest.IsZero() || d.now.Sub(d.oldest) <= 4*d.cfg.MaxPeriod) && (!d.held || closed == d.closed) && !d.sweepAll {
		return // no series can have expired
	}
	d.oldest, d.held, d.closed = time.Time{}, false, closed
	nowNs, span := d.now.UnixNano(), int64(4*d.cfg.MaxPeriod)
	oldest, kept := int64(0), false
	for k, s := range d.series {
		switch {
		case nowNs-s.last <= span:
			if !kept || s.last < oldest {
				oldest, kept = s.last, true
			}
		case !s.open || d.eps.Get(d.episodeKey(k)) == nil:
			delete(d.series, k)
		default:
			d.held = true
		}
	}
	if kept {
		d.oldest = time.Unix(0, oldest).UTC()
	}
}

// Stats implements rules.Stats.
func (d *Detector) Stats() []event.MetricValue {
	return []event.MetricValue{
		{Name: "pairs", Value: uint64(len(d.series))},
		{Name: "episodes", Value: uint64(d.eps.Len())},
		{Name: "dropped_pairs", Value: d.dropped},
		{Name: "evicted_episodes", Value: d.eps.Evicted},
		{Name: "evicted_flow_tags", Value: d.names.Evicted()},
	}
}
