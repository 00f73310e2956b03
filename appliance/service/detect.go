package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"time"

	"mamori/appliance/config"
	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/all"
	"mamori/pipeline/worker"
	"mamori/rules"
	rulesall "mamori/rules/all"
	"mamori/sensor"
)

// DetectOptions say what the records stage after the worker does.
type DetectOptions struct {
	// Baseline is a baseline file to detect with (and, with Learn, to keep
	// learning into). Empty: detect without a baseline.
	Baseline string
	// Detect runs the rules.
	Detect bool
	// Learn learns what did not alert into the baseline.
	Learn bool
	// Save writes the baseline (atomically) here at the end; empty: not
	// saved.
	Save string
	// MissingOK starts an empty baseline when Baseline does not exist.
	MissingOK bool
	// LearnFor (the live service: baseline.learn_for) is how much packet
	// time the baseline must span before the rules that compare with it
	// (new-external-peer, night-beacon, and the baseline parts of the
	// others) start; until then the others run without a baseline. 0:
	// detect with the baseline at once.
	LearnFor time.Duration
	// SaveEvery (the live service: baseline.save_every) saves the
	// baseline to Save this often in packet time, from a copy, in the
	// background. 0: only at the end.
	SaveEvery time.Duration
}

// baselineRules need a learned baseline to say anything useful: they stay
// off while the live service is still learning.
var baselineRules = []string{"new-external-peer", "night-beacon"}

// Stage is the records stage after the worker: every record goes to out
// first, then through the detectors (their alerts go to out as well), and
// what can be learned is held back for Config.Baseline.HoldBack of packet
// time before it is learned, so that records of alerted traffic are
// dropped instead of becoming "normal". It is driven by one goroutine
// (the worker's Output) and is not safe for concurrent use.
type Stage struct {
	out     worker.Output
	dets    []rulesall.Named
	model   *baseline.Model
	site    rules.Site
	cfg     baseline.Config
	learn   bool
	detect  bool
	saveTo  string
	tick    time.Duration
	now     time.Time
	next    time.Time
	obs     []baseline.Obs
	held    heldRing // FIFO, oldest first
	taint   map[netip.Addr]span
	taintP  map[pairKey]span
	outErr  error
	alerts  map[string]event.Alert // latest of each episode, for the table
	order   []string               // alert ids in first-raise order
	counts  StageCounts
	started bool
	raiseFn rules.Raise // s.raise, made once (a method value allocates)

	rulesCfg  rulesall.Config
	learnFor  time.Duration
	learning  bool // still learning: the baseline rules are off
	saveEvery time.Duration
	nextSave  time.Time
	saving    chan error // the background save in flight, if any
	saveErr   error
}

// StageCounts are the stage's counters.
type StageCounts struct {
	Alerts       uint64    // alerts written (every update counts)
	Episodes     uint64    // distinct alerts (episodes)
	Learned      uint64    // observations learned
	Dropped      uint64    // observations dropped as part of alerted traffic
	HeldOverflow uint64    // observations learned early because the hold-back queue was full
	BySeverity   [5]uint64 // alerts written (updates too) by event.severity
}

type held struct {
	o  baseline.Obs
	at time.Time // when it may be learned
}

type pairKey struct{ a, b netip.Addr }

type span struct{ from, until time.Time }

// taintHold is how long after an alert's last evidence its hosts' traffic
// stays unlearned.
const taintHold = time.Hour

// maxTable bounds the alerts kept for the end-of-run table.
const maxTable = 10_000

// NewStage builds the records stage for cfg. out receives every record and
// every alert; it must not block for long.
func NewStage(cfg *config.Config, o DetectOptions, out worker.Output) (*Stage, error) {
	site, err := cfg.Site.WithInternal(cfg.Networks.Internal)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	s := &Stage{out: out, site: site, cfg: cfg.Baseline, learn: o.Learn, detect: o.Detect, saveTo: o.Save,
		tick: 10 * time.Second, taint: map[netip.Addr]span{}, taintP: map[pairKey]span{}, alerts: map[string]event.Alert{}}
	s.raiseFn = s.raise
	if s.cfg.HoldBack == 0 {
		s.cfg.HoldBack = baseline.DefaultConfig().HoldBack
	}
	if s.cfg.MaxHoldBack == 0 {
		s.cfg.MaxHoldBack = baseline.DefaultConfig().MaxHoldBack
	}
	if o.Baseline != "" {
		m, err := baseline.Load(o.Baseline, cfg.Baseline)
		switch {
		case err == nil:
			if m.Timezone() != site.Location().String() {
				return nil, fmt.Errorf("baseline %s counts hours in %s but the configuration's timezone is %s: learn it again or set timezone", o.Baseline, m.Timezone(), site.Location())
			}
			s.model = m
		case errors.Is(err, fs.ErrNotExist) && o.MissingOK:
		default:
			return nil, err
		}
	}
	if s.model == nil && (o.Learn || o.Baseline != "") {
		s.model = baseline.New(cfg.Baseline, site.Location(), cfg.Networks.Internal)
	}
	s.rulesCfg, s.learnFor, s.saveEvery = cfg.Rules, o.LearnFor, o.SaveEvery
	if o.Detect {
		s.learning = o.LearnFor > 0 && s.model != nil && s.span() < o.LearnFor
		if err := s.build(); err != nil {
			return nil, fmt.Errorf("%s: rules: %w", cfg.File, err)
		}
	}
	return s, nil
}

func (s *Stage) span() time.Duration {
	from, to := s.model.Span()
	return to.Sub(from)
}

// build makes the detectors: all of them with the baseline, or, while
// learning, those that need none, without it.
func (s *Stage) build() error {
	c := s.rulesCfg
	var view baseline.View
	if s.model != nil && !s.learning {
		view = s.model
	}
	if s.learning {
		c.Disable = append(slices.Clone(c.Disable), baselineRules...)
	}
	dets, err := rulesall.Detectors(c, s.site, view)
	if err != nil {
		return err
	}
	s.dets = dets
	return nil
}

// Model is the baseline the stage detects with or learns into (nil when
// it does neither).
func (s *Stage) Model() *baseline.Model { return s.model }

// Record is the worker's Output: it writes r, runs the detectors on it and
// holds back what can be learned from it.
func (s *Stage) Record(r event.Record) error {
	if s.outErr != nil {
		return s.outErr
	}
	if err := s.out(r); err != nil {
		s.outErr = err
		return err
	}
	if _, ok := r.(*event.Metric); ok {
		return nil
	}
	s.advance(r.Time())
	for _, d := range s.dets {
		d.Observe(r, s.raiseFn)
	}
	if s.learn && s.model != nil {
		s.obs = baseline.Extract(r, s.obs[:0])
		for i := range s.obs {
			s.hold(s.obs[i])
		}
	}
	return s.outErr
}

// Tick advances packet time without a record (live capture's idle ticks).
func (s *Stage) Tick(now time.Time) error {
	s.advance(now)
	return s.outErr
}

func (s *Stage) advance(t time.Time) {
	if !s.started {
		s.started, s.now, s.next = true, t, t.Add(s.tick)
	}
	if !t.After(s.now) {
		return
	}
	s.now = t
	for !s.now.Before(s.next) {
		for _, d := range s.dets {
			d.Tick(s.next, s.raiseFn)
		}
		s.next = s.next.Add(s.tick)
		if s.now.Sub(s.next) > time.Hour {
			s.next = s.now // a gap in the capture: do not tick through it
		}
	}
	s.release(false)
	s.expireTaint()
	if s.learning && s.span() >= s.learnFor {
		s.learning = false
		s.build() // the configuration was checked when the stage was made
	}
	if s.saveEvery > 0 && s.saveTo != "" && s.model != nil {
		if s.nextSave.IsZero() {
			s.nextSave = s.now.Add(s.saveEvery)
		} else if !s.now.Before(s.nextSave) {
			s.nextSave = s.now.Add(s.saveEvery)
			s.saveInBackground()
		}
	}
}

// saveInBackground saves a copy of the baseline from a goroutine the stage
// owns (Finish waits for it); a save still running is not doubled.
func (s *Stage) saveInBackground() {
	if s.saving != nil {
		select {
		case err := <-s.saving:
			s.saving = nil
			if err != nil {
				s.saveErr = err
			}
		default:
			return // the last one is still writing
		}
	}
	snap, path := s.model.Clone(), s.saveTo
	done := make(chan error, 1)
	s.saving = done
	go func() { done <- snap.Save(path) }()
}

// Learning reports whether the stage is still learning (the baseline
// rules are off).
func (s *Stage) Learning() bool { return s.learning }

func (s *Stage) raise(a event.Alert) {
	if s.outErr != nil {
		return
	}
	if err := s.out(&a); err != nil {
		s.outErr = err
	}
	s.counts.Alerts++
	s.counts.BySeverity[min(max(a.Severity, 0), 4)]++
	id := a.AlertID()
	if _, ok := s.alerts[id]; !ok {
		s.counts.Episodes++
		if len(s.order) < maxTable {
			s.order = append(s.order, id)
		}
	}
	if len(s.alerts) < maxTable || s.alerts[id].Rule.ID != "" {
		s.alerts[id] = a
	}
	s.taintAlert(&a)
}

// taintAlert marks the alert's traffic as not to be learned: the pair for
// an alert about one source and one destination, the source host
// otherwise, from HoldBack before its first evidence to taintHold after
// its last.
func (s *Stage) taintAlert(a *event.Alert) {
	sp := span{a.First.Add(-s.cfg.HoldBack), a.Last.Add(taintHold)}
	src, dst := a.Source.IP.Unmap(), a.Destination.IP.Unmap()
	switch {
	case src.IsValid() && dst.IsValid():
		k := pairKey{src, dst}
		if src.Compare(dst) > 0 {
			k = pairKey{dst, src}
		}
		s.taintP[k] = widen(s.taintP[k], sp)
	case src.IsValid():
		s.taint[src] = widen(s.taint[src], sp)
	case dst.IsValid():
		s.taint[dst] = widen(s.taint[dst], sp)
	}
}

func widen(old, sp span) span {
	if old.until.IsZero() {
		return sp
	}
	if sp.from.Before(old.from) {
		old.from = sp.from
	}
	if sp.until.After(old.until) {
		old.until = sp.until
	}
	return old
}

func (s *Stage) tainted(o *baseline.Obs) bool {
	if len(s.taint) == 0 && len(s.taintP) == 0 {
		return false // nothing alerted: no lookups
	}
	in := func(sp span, ok bool) bool {
		return ok && !o.Time.Before(sp.from) && !o.Time.After(sp.until)
	}
	if sp, ok := s.taint[o.Client]; in(sp, ok) {
		return true
	}
	if sp, ok := s.taint[o.Server]; in(sp, ok) {
		return true
	}
	k := pairKey{o.Client, o.Server}
	if o.Client.Compare(o.Server) > 0 {
		k = pairKey{o.Server, o.Client}
	}
	sp, ok := s.taintP[k]
	return in(sp, ok)
}

func (s *Stage) expireTaint() {
	if len(s.taint)+len(s.taintP) < 1024 {
		return
	}
	for k, sp := range s.taint {
		if s.now.After(sp.until) {
			delete(s.taint, k)
		}
	}
	for k, sp := range s.taintP {
		if s.now.After(sp.until) {
			delete(s.taintP, k)
		}
	}
}

func (s *Stage) hold(o baseline.Obs) {
	at := o.Time
	if o.End.After(at) {
		at = o.End
	}
	if s.held.n >= s.cfg.MaxHoldBack {
		s.counts.HeldOverflow++
		s.model.Overflow.HoldBack++
		s.learnOne(&s.held.front().o)
		s.held.pop()
	}
	s.held.push(held{o, at.Add(s.cfg.HoldBack)})
}

// release learns the held observations whose time has come (all of them
// when flush).
func (s *Stage) release(flush bool) {
	for s.held.n > 0 && (flush || !s.held.front().at.After(s.now)) {
		s.learnOne(&s.held.front().o)
		s.held.pop()
	}
}

// heldRing is a growable ring buffer of held observations: no copying as
// the queue slides.
type heldRing struct {
	buf     []held
	head, n int
}

func (r *heldRing) front() *held { return &r.buf[r.head] }

func (r *heldRing) push(h held) {
	if r.n == len(r.buf) {
		grown := make([]held, max(1024, 2*len(r.buf)))
		for i := range r.n {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = h
	r.n++
}

func (r *heldRing) pop() {
	r.buf[r.head] = held{} // drop the strings it refers to
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}

func (s *Stage) learnOne(o *baseline.Obs) {
	if s.tainted(o) {
		s.counts.Dropped++
		return
	}
	s.model.Learn(o)
	s.counts.Learned++
}

// Finish ends the run: the detectors close their episodes (raising final
// updates), what is held back is learned, and the baseline is saved when
// asked. It returns an error when records could not be written or the
// baseline could not be saved.
func (s *Stage) Finish() error {
	if s.saving != nil {
		if err := <-s.saving; err != nil && s.saveErr == nil {
			s.saveErr = err
		}
		s.saving = nil
	}
	if s.started {
		for _, d := range s.dets {
			d.Tick(s.now.Add(48*time.Hour), s.raiseFn)
		}
	}
	if s.learn && s.model != nil {
		s.release(true)
	}
	if s.outErr != nil {
		return s.outErr
	}
	if s.saveTo != "" && s.model != nil {
		if err := s.model.Save(s.saveTo); err != nil {
			return err
		}
	}
	return s.saveErr
}

// Counts returns the stage's counters.
func (s *Stage) Counts() StageCounts { return s.counts }

// Alerts returns the latest version of each alert raised, in first-raise
// order (at most 10,000).
func (s *Stage) Alerts() []event.Alert {
	out := make([]event.Alert, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.alerts[id])
	}
	return out
}

// MetricGroups are the stage's counters for the run's summary record:
// "detect" and one "rule_<id>" group per detector that reports counters.
func (s *Stage) MetricGroups() []event.MetricGroup {
	v := func(n string, x uint64) event.MetricValue { return event.MetricValue{Name: n, Value: x} }
	c := s.counts
	g := []event.MetricGroup{{Name: "detect", Values: []event.MetricValue{
		v("alerts", c.Alerts), v("episodes", c.Episodes), v("low", c.BySeverity[1]), v("medium", c.BySeverity[2]),
		v("high", c.BySeverity[3]), v("critical", c.BySeverity[4]),
		v("learned", c.Learned), v("dropped_alerted", c.Dropped), v("hold_back_overflow", c.HeldOverflow),
	}}}
	if s.model != nil {
		st := s.model.Stats()
		o := s.model.Overflow
		g = append(g, event.MetricGroup{Name: "baseline", Values: []event.MetricValue{
			v("hosts", uint64(st.Hosts)), v("edges", uint64(st.Edges)), v("peers", uint64(st.Peers)), v("names", uint64(st.Names)),
			v("overflow_hosts", o.Hosts), v("overflow_edges", o.Edges), v("overflow_peers", o.Peers), v("overflow_names", o.Names),
		}})
	}
	for _, d := range s.dets {
		if st, ok := d.Detector.(rules.Stats); ok {
			g = append(g, event.MetricGroup{Name: "rule_" + strings.ReplaceAll(d.ID, "-", "_"), Values: st.Stats()})
		}
	}
	return g
}

// WriteAlertTable prints alerts for people: time (site zone), severity,
// rule, hosts and the first sentence of the message.
func WriteAlertTable(w io.Writer, alerts []event.Alert, loc *time.Location, ja bool) {
	if len(alerts) == 0 {
		fmt.Fprintln(w, "  no alerts")
		return
	}
	sorted := slices.Clone(alerts)
	slices.SortStableFunc(sorted, func(a, b event.Alert) int {
		if a.Severity != b.Severity {
			return b.Severity - a.Severity
		}
		return a.First.Compare(b.First)
	})
	fmt.Fprintf(w, "  %-16s %-8s %-20s %-33s %s\n", "TIME", "SEVERITY", "RULE", "HOSTS", "WHAT")
	for _, a := range sorted {
		hosts := rules.Addr(a.Source.IP)
		switch {
		case a.Destination.IP.IsValid():
			hosts += " → " + a.Destination.IP.String()
		case a.Evidence.TargetCount > 1:
			hosts += fmt.Sprintf(" → %d hosts", a.Evidence.TargetCount)
		case a.Destination.Domain != "":
			hosts += " → " + a.Destination.Domain
		}
		msg := a.Message
		if ja {
			msg = a.MessageJA
		}
		fmt.Fprintf(w, "  %-16s %-8s %-20s %-33s %s\n", a.First.In(loc).Format("2006-01-02 15:04"),
			event.SeverityName(a.Severity), a.Rule.ID, hosts, firstSentence(msg, 110))
	}
}

// firstSentence cuts a message at its first sentence (or max runes).
func firstSentence(s string, maxRunes int) string {
	for _, sep := range []string{". ", "。"} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i+len(sep)-1]
		}
	}
	r := []rune(s)
	if len(r) > maxRunes {
		return string(r[:maxRunes-1]) + "…"
	}
	return s
}

// LearnOptions say what `mamori baseline learn` reads and writes.
type LearnOptions struct {
	Config *config.Config
	Files  []string
	// Output is the baseline file to write (atomically).
	Output string
	// Merge learns on top of the existing Output file when there is one.
	Merge    bool
	Stderr   io.Writer
	Progress bool
	Quiet    bool
}

// LearnResult is what a learning run did.
type LearnResult struct {
	Model    *baseline.Model
	Counters worker.Counters
	Learned  uint64
	Elapsed  time.Duration
}

// Learn reads capture files through the packet path and learns a baseline
// from their flows and protocol records, then saves it atomically.
func Learn(ctx context.Context, o LearnOptions) (LearnResult, error) {
	start := time.Now()
	var res LearnResult
	cfg := o.Config
	src, err := sensor.OpenFiles(o.Files)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrInputsUnreadable, err)
	}
	defer src.Close()
	do := DetectOptions{Learn: true, Save: o.Output}
	if o.Merge {
		do.Baseline, do.MissingOK = o.Output, true
	}
	st, err := NewStage(cfg, do, func(event.Record) error { return nil })
	if err != nil {
		return res, err
	}
	parsers, err := all.Parsers(cfg.Protocols)
	if err != nil {
		return res, fmt.Errorf("protocols: %w", err)
	}
	w, err := worker.New(worker.Config{Flow: cfg.Flow, Internal: cfg.Networks.Internal, DeterministicIDs: true,
		Parsers: parsers, Reassembly: cfg.Protocols.Reassembly}, src, st.Record)
	if err != nil {
		return res, fmt.Errorf("%s: %w", cfg.File, err)
	}
	var unreadable []string
	report := func(err error) {
		var fe *sensor.FileError
		if errors.As(err, &fe) && fe.Packet == 0 {
			unreadable = append(unreadable, fe.File)
		}
		if o.Progress {
			fmt.Fprint(o.Stderr, "\r\x1b[K")
		}
		fmt.Fprintf(o.Stderr, "mamori baseline learn: %v\n", err)
	}
	var bar *progress
	if o.Progress {
		bar = &progress{w: o.Stderr, src: src, start: start}
	}
	runErr := w.Run(ctx, report, bar.update)
	bar.done()
	if runErr != nil {
		return res, runErr
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if err := st.Finish(); err != nil {
		return res, err
	}
	res.Model, res.Counters, res.Learned, res.Elapsed = st.Model(), w.Counters(), st.Counts().Learned, time.Since(start)
	if !o.Quiet {
		m := res.Model
		ms := m.Stats()
		from, to := m.Span()
		fmt.Fprintf(o.Stderr, "mamori baseline learn: %d files, %s packets in %.2fs; learned %s observations\n",
			len(o.Files), group(res.Counters.Packets), res.Elapsed.Seconds(), group(res.Learned))
		if !from.IsZero() {
			fmt.Fprintf(o.Stderr, "  packet time: %s .. %s (%s)\n", from.In(m.Location()).Format("2006-01-02 15:04"), to.In(m.Location()).Format("2006-01-02 15:04"), m.Timezone())
		}
		fmt.Fprintf(o.Stderr, "  baseline: %d hosts, %d connections, %d external peers, %d names, %d DICOM AE pairs, %d HL7 links\n",
			ms.Hosts, ms.Edges, ms.Peers, ms.Names, ms.AEPairs, ms.HL7Links)
		if ov := m.Overflow; ov != (baseline.Overflow{}) {
			fmt.Fprintf(o.Stderr, "  NOT learned (limits reached): %+v\n", ov)
		}
		fmt.Fprintf(o.Stderr, "  written: %s\n", o.Output)
	}
	if len(unreadable) > 0 {
		return res, fmt.Errorf("%w: %s", ErrInputsUnreadable, strings.Join(unreadable, ", "))
	}
	return res, nil
}

// ReadBaseline loads a baseline file with cfg's limits.
func ReadBaseline(cfg *config.Config, path string) (*baseline.Model, error) {
	return baseline.Load(path, cfg.Baseline)
}

// ShowBaseline prints the baseline at path for people (at most limit rows
// per table; 0: all).
func ShowBaseline(w io.Writer, cfg *config.Config, path string, limit int) error {
	m, err := baseline.Load(path, cfg.Baseline)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s\n", path)
	return m.WriteSummary(w, limit)
}

// DiffBaselines prints what changed from the baseline at oldPath to the
// one at newPath, and reports whether anything did.
func DiffBaselines(w io.Writer, cfg *config.Config, oldPath, newPath string, limit int) (bool, error) {
	a, err := baseline.Load(oldPath, cfg.Baseline)
	if err != nil {
		return false, err
	}
	b, err := baseline.Load(newPath, cfg.Baseline)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "--- %s\n+++ %s\n", oldPath, newPath)
	d := baseline.Compare(a, b)
	return !d.Empty(), d.WriteText(w, limit)
}

// MergeBaselines merges the baselines at paths (in order) and saves the
// result to out atomically.
func MergeBaselines(cfg *config.Config, out string, paths ...string) error {
	var m *baseline.Model
	for _, p := range paths {
		x, err := baseline.Load(p, cfg.Baseline)
		if err != nil {
			return err
		}
		if m == nil {
			m = x
			continue
		}
		if err := m.Merge(x); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if m == nil {
		return errors.New("no baselines to merge")
	}
	return m.Save(out)
}

// RuleInfo describes one rule for `mamori rules list`.
type RuleInfo struct {
	ID, Name, Description string
	Techniques            []string // "T1021.001 Remote Desktop Protocol"
	Severity              string
	Message               [2]string // English, Japanese
	ConfigKey             string    // key under rules:
}

// Rules lists every registered rule.
func Rules() []RuleInfo {
	var out []RuleInfo
	for _, r := range rulesall.Rules() {
		ri := RuleInfo{ID: r.Meta.ID, Name: r.Meta.Name, Description: r.Meta.Description,
			Severity: event.SeverityName(r.Meta.Severity), Message: r.Meta.Message, ConfigKey: r.Key}
		for _, t := range r.Meta.Technique {
			ri.Techniques = append(ri.Techniques, t+" "+rules.TechniqueName(t))
		}
		for _, t := range r.Meta.Tactic {
			ri.Techniques = append(ri.Techniques, t+" "+rules.TacticName(t))
		}
		out = append(out, ri)
	}
	return out
}
