package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/appliance/config"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/output/ndjson"
	"mamori/pipeline/proto/all"
	"mamori/pipeline/worker"
	"mamori/sensor"
	"mamori/sensor/afpacket"
	"mamori/sensor/ebpf"
	"mamori/sensor/iface"
	"mamori/sensor/pcapstore"
)

// RunOptions say where to capture and where records go.
type RunOptions struct {
	Config *config.Config
	// Interface overrides capture.interface.
	Interface string
	// Output is an NDJSON file, "-" for Stdout, or "" for a new file under
	// the configured data directory.
	Output string
	Stdout io.Writer
	// Stderr receives the summary; Log (default: text on Stderr) the
	// start, link changes, drops and problems.
	Stderr io.Writer
	Log    *slog.Logger
	Quiet  bool // no summary
	// Started, when set, is called once capture runs (tests wait on it).
	Started func(*Live)
	// NoDetect runs no rules and learns no baseline: flow and protocol
	// records only.
	NoDetect bool
	// NoPcapStore keeps no packets (by default every packet the capture
	// copies goes to the pcap store at pcap_store.dir).
	NoPcapStore bool
}

// RunResult is what a live run did.
type RunResult struct {
	Output  string
	Records uint64
	Workers []WorkerResult
	EBPF    *ebpf.Stats // nil without the kernel flow counter
	Elapsed time.Duration
}

// WorkerResult is one fanout worker's share of a run.
type WorkerResult struct {
	Counters worker.Counters
	Flows    flow.Stats
	Ring     sensor.Stats
	Kernel   afpacket.KernelStats
	Ticks    uint64 // idle ticks (counted in Counters.Packets until the worker tells them apart)
}

// Live is a running capture, handed to RunOptions.Started.
type Live struct {
	Group   *afpacket.Group
	Link    *iface.Link
	Program *ebpf.Program // nil without the kernel flow counter
}

// ErrCaptureSetup is returned (wrapped) when capture could not start: no
// interface, an interface with an address, no permission.
var ErrCaptureSetup = errors.New("capture could not start")

// Run captures live on the configured interface until ctx is done, with
// one worker (decoder, flow table, parsers) per fanout socket, all writing
// to one NDJSON output; it writes a health metric record every
// capture.health_interval, a state record for each change of the link,
// and at the end every flow's final record and a summary metric record
// per worker. The interface is restored as it was found.
func Run(ctx context.Context, o RunOptions) (res RunResult, err error) {
	start := time.Now()
	if os.Getenv("GOGC") == "" {
		// The heap is small and long-lived (flow tables, parser state);
		// collecting it at the default 100% costs the workers a fifth of
		// their CPU at high packet rates.
		defer debug.SetGCPercent(debug.SetGCPercent(liveGCPercent))
	}
	cfg := o.Config
	capCfg := cfg.Capture
	if o.Interface != "" {
		capCfg.Interface = o.Interface
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(o.Stderr, nil))
	}
	if capCfg.Interface == "" {
		return res, fmt.Errorf("%w: no interface: give -i or set capture.interface", ErrCaptureSetup)
	}

	link, err := iface.Open(capCfg.Interface, capCfg.Link)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrCaptureSetup, err)
	}
	defer func() {
		if cerr := link.Close(); cerr != nil {
			log.Error("restoring the interface", "interface", capCfg.Interface, "err", cerr)
		}
	}()
	if off := link.Offloads(); off.GRO || off.LRO {
		log.Warn("receive offloads merge packets before capture: flow packet counts will be lower than on the wire (ethtool -K "+capCfg.Interface+" gro off lro off)",
			"interface", capCfg.Interface, "gro", off.GRO, "lro", off.LRO)
	} else if off.Err != nil {
		log.Info("could not read receive offloads", "err", off.Err)
	}

	var prog *ebpf.Program
	if !capCfg.EBPF.Disabled {
		prog, err = ebpf.Load(capCfg.EBPF)
		switch {
		case errors.Is(err, sensor.ErrNotSupported):
			log.Warn("eBPF flow counter unavailable: every packet is copied to user space and there is no bulk-flow cutoff", "err", err)
			prog = nil
		case err != nil:
			return res, fmt.Errorf("%w: %w", ErrCaptureSetup, err)
		default:
			defer prog.Close()
			frame := capCfg.FrameSize
			if frame == 0 {
				frame = afpacket.DefaultConfig().FrameSize
			}
			if err := prog.SetSnaplen(frame); err != nil {
				return res, fmt.Errorf("%w: %w", ErrCaptureSetup, err)
			}
		}
	}
	setup := func(fd, ifIndex int) error {
		if prog != nil {
			if err := prog.Attach(fd); err != nil {
				return err
			}
		}
		return iface.JoinPromisc(fd, ifIndex)
	}
	ringCfg := capCfg.Config
	group, err := afpacket.Open(ringCfg, setup)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrCaptureSetup, err)
	}
	defer group.Close()

	out, path, err := liveOutput(o, cfg, capCfg.Interface)
	if err != nil {
		group.Close()
		return res, err
	}
	res.Output = path
	obs := observer(cfg)
	// NDJSON always; Elasticsearch too when elasticsearch.enabled (through
	// its disk spool, so capture never waits for the cluster).
	tee, err := withElasticsearch(ReplayOptions{Stderr: o.Stderr, Quiet: o.Quiet}, cfg, ndjson.New(out, path, obs), obs)
	if err != nil {
		return res, err
	}
	sink := &mergedSink{w: tee}
	// The appliance API (api.listen) shows the stage's alerts; it starts
	// below, before any packet is read.
	var apiSrv *apiServer
	if !o.NoDetect {
		// The live service learns the segment for baseline.learn_for, then
		// detects against it (and keeps learning what did not alert),
		// saving the baseline atomically every baseline.save_every.
		file := cfg.Baseline.File
		if file == "" {
			file = filepath.Join(cfg.Sensor.DataDir, "baseline.json.gz")
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			return res, fmt.Errorf("baseline directory: %w", err)
		}
		stage, err := NewStage(cfg, DetectOptions{Detect: true, Learn: true, Baseline: file, MissingOK: true, Save: file,
			LearnFor: cfg.Baseline.LearnFor, SaveEvery: cfg.Baseline.SaveEvery}, func(r event.Record) error {
			apiSrv.add(r) // alerts, for the console
			return sink.w.Write(r)
		})
		if err != nil {
			return res, err
		}
		sink.stage = stage
	}

	parsers, err := all.Parsers(cfg.Protocols)
	if err != nil {
		return res, fmt.Errorf("protocols: %w", err)
	}
	var feed *pcapFeed
	if !o.NoPcapStore {
		// Every packet the capture copies (after the eBPF cutoff) goes to
		// the rolling store; when the disk cannot keep up the store drops
		// and counts rather than stall capture.
		dir := cfg.PcapStore.Dir
		if dir == "" {
			dir = filepath.Join(cfg.Sensor.DataDir, "pcap")
		}
		feed = &pcapFeed{dir: dir}
		if feed.w, err = OpenPcapWriter(cfg, dir, false, feed.report); err != nil {
			return res, fmt.Errorf("pcap store: %w", err)
		}
	}
	rings := group.Rings()
	workers := make([]*worker.Worker, len(rings))
	snaps := make([]snapshot, len(rings))
	var queue *storeQueue
	if feed != nil {
		queue = newStoreQueue(feed.tap())
	}
	for i, r := range rings {
		wc := worker.Config{Flow: cfg.Flow, Internal: cfg.Networks.Internal,
			Parsers: parsers, Reassembly: cfg.Protocols.Reassembly}
		if prog != nil {
			wc.Kernel = kernelCounts{prog}
		}
		var src sensor.Source = r
		if queue != nil {
			src = queue.source(r)
		}
		w, err := worker.New(wc, src, sink.Write)
		if err != nil {
			return res, fmt.Errorf("%s: %w", cfg.File, err)
		}
		workers[i] = w
	}
	extra := func() []event.MetricGroup { return outputHealth(feed, tee) }
	apiCtx, apiStop := context.WithCancel(ctx)
	defer func() { apiStop(); apiSrv.wait() }()
	var store *pcapstore.Store
	if feed != nil {
		store = feed.w.Store()
	}
	apiStart := time.Now()
	apiSrv, err = startAPI(apiCtx, cfg, log, obs, store, !o.NoDetect, func() []event.MetricGroup {
		return append(healthMetric(capCfg.Interface, apiStart, time.Now(), group, prog, snaps, queue).Groups, extra()...)
	})
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrCaptureSetup, err)
	}
	log.Info("capturing", "interface", capCfg.Interface, "workers", len(rings), "fanout_group", group.FanoutID(),
		"ring_mib", ringCfg.BlockSize*ringCfg.BlockCount>>20, "ebpf", prog != nil, "output", path)
	if o.Started != nil {
		o.Started(&Live{Group: group, Link: link, Program: prog})
	}

	// Workers read until their ring is closed and drained; the sink's
	// first error stops them all.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			report := func(err error) { log.Warn("capture problem", "worker", i, "err", err) }
			errs[i] = w.Run(runCtx, report, func(c *worker.Counters) { snaps[i].set(c, w.FlowStats()) })
			if errs[i] != nil {
				stop() // the main goroutine closes the rings
			}
		}()
	}

	health := capCfg.HealthInterval
	if health == 0 {
		health = config.DefaultHealthInterval
	}
	var bg sync.WaitGroup
	done := make(chan struct{})
	bg.Add(2)
	go func() {
		defer bg.Done()
		monitor(done, health, log, sink, capCfg.Interface, group, prog, snaps, queue, extra)
	}()
	go func() {
		defer bg.Done()
		for e := range link.Events() {
			logLink(log, e)
			if err := sink.Write(&stateRecord{e: e}); err != nil {
				log.Error("writing state record", "err", err)
			}
		}
	}()

	select {
	case <-ctx.Done():
	case <-runCtx.Done():
	}
	group.Close() // readers drain what the kernel already handed over, then stop
	wg.Wait()
	close(done)

	for i, w := range workers {
		r := rings[i]
		wr := WorkerResult{Counters: w.Counters(), Flows: w.FlowStats(), Ring: r.Stats(), Kernel: r.KernelStats(), Ticks: r.Ticks()}
		res.Workers = append(res.Workers, wr)
		m := w.Summary("run_summary")
		m.Interface = capCfg.Interface
		m.Groups = append(m.Groups, workerGroup(i, &wr))
		if err := sink.Write(m); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	if prog != nil {
		if st, err := prog.Stats(); err == nil {
			res.EBPF = &st
			if err := sink.Write(ebpfMetric(capCfg.Interface, &st)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	link.Close() // stops the events goroutine
	bg.Wait()
	if n := queue.close(); n > 0 {
		errs = append(errs, fmt.Errorf("pcap store %s: %d packets not stored: its feed queue was full", feed.dir, n))
		if !o.Quiet {
			fmt.Fprintf(o.Stderr, "pcap store %s: %d packets not stored: its feed queue was full (the store could not keep up)\n", feed.dir, n)
		}
	}
	if err := feed.finish(sink.Write, o.Stderr, o.Quiet); err != nil {
		errs = append(errs, err)
	}
	if err := sink.Finish(); err != nil {
		errs = append(errs, fmt.Errorf("rules and baseline: %w", err))
	}
	if err := sink.Close(); err != nil {
		errs = append(errs, err)
	}
	group.Close() // unmaps the rings: the workers are done with them
	res.Records = sink.Records()
	res.Elapsed = time.Since(start)
	if !o.Quiet {
		printRunSummary(o.Stderr, capCfg.Interface, &res)
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("records lost: %w", err)
	}
	return res, nil
}

// kernelCounts gives a worker's flow table the packets and bytes the eBPF
// program cut off (sensor/ebpf counts them per flow and direction), so that
// the flow records of cut-off flows stay exact. A final record removes the
// flow's kernel entry.
type kernelCounts struct{ prog *ebpf.Program }

func (k kernelCounts) Cut(fk *flow.Key, final bool) (flow.KernelCounts, bool) {
	key := ebpf.Key{A: fk.A, B: fk.B, PortA: fk.PortA, PortB: fk.PortB, VLAN: fk.VLAN, InnerVLAN: fk.InnerVLAN, Proto: fk.Proto}
	var c ebpf.Counters
	var ok bool
	var err error
	if final {
		c, ok, err = k.prog.LookupAndDelete(key)
	} else {
		c, ok, err = k.prog.Lookup(key)
	}
	if err != nil || !ok || !c.Cut() {
		return flow.KernelCounts{}, false
	}
	return flow.KernelCounts{Packets: c.CutPackets, Bytes: c.CutBytes}, true
}

// mergedSink is the one output every worker and the monitor write to.
type mergedSink struct {
	mu    sync.Mutex
	w     *teeSink
	stage *Stage // the rules and the baseline; nil with NoDetect
}

func (s *mergedSink) Write(r event.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stage != nil {
		return s.stage.Record(r) // writes r to s.w, then detects and learns
	}
	return s.w.Write(r)
}

// Tick moves the rules' clock on while the link is quiet.
func (s *mergedSink) Tick(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stage == nil {
		return nil
	}
	return s.stage.Tick(now)
}

// Finish ends the rules' episodes (their final alerts) and saves the
// baseline.
func (s *mergedSink) Finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stage == nil {
		return nil
	}
	return s.stage.Finish()
}

func (s *mergedSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Flush()
}

func (s *mergedSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Close()
}

func (s *mergedSink) Records() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Records()
}

// snapshot is a worker's counters as of its last progress call (every
// 65,536 packets), readable from the monitor.
type snapshot struct {
	mu    sync.Mutex
	c     worker.Counters
	flows flow.Stats
}

func (s *snapshot) set(c *worker.Counters, f flow.Stats) {
	s.mu.Lock()
	s.c, s.flows = *c, f
	s.mu.Unlock()
}

func (s *snapshot) get() (worker.Counters, flow.Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c, s.flows
}

// monitor flushes the output every second and writes a health record
// every interval until done; it logs new kernel drops and freezes as soon
// as it sees them.
func monitor(done <-chan struct{}, interval time.Duration, log *slog.Logger, sink *mergedSink, ifname string,
	group *afpacket.Group, prog *ebpf.Program, snaps []snapshot, queue *storeQueue, extra func() []event.MetricGroup) {
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	next := time.Now().Add(interval)
	start := time.Now()
	var lastDrops, lastFreezes, lastNotStored uint64
	for {
		select {
		case <-done:
			return
		case now := <-flush.C:
			st := group.Stats()
			if st.KernelDrops > lastDrops || st.KernelFreezes > lastFreezes {
				log.Warn("kernel dropped packets: the workers cannot keep up (more workers, a larger ring, or a lower cutoff)",
					"interface", ifname, "drops", st.KernelDrops-lastDrops, "freezes", st.KernelFreezes-lastFreezes,
					"drops_total", st.KernelDrops)
				lastDrops, lastFreezes = st.KernelDrops, st.KernelFreezes
			}
			if n := queue.notStored(); n > lastNotStored {
				log.Warn("the pcap store cannot keep up: packets were analysed but not stored",
					"not_stored", n-lastNotStored, "not_stored_total", n)
				lastNotStored = n
			}
			if now.After(next) {
				next = now.Add(interval)
				if err := sink.Tick(now); err != nil {
					log.Error("rules", "err", err)
				}
				m := healthMetric(ifname, start, now, group, prog, snaps, queue)
				m.Groups = append(m.Groups, extra()...)
				if err := sink.Write(m); err != nil {
					log.Error("writing health record", "err", err)
				}
			}
			if err := sink.Flush(); err != nil {
				log.Error("writing output", "err", err)
			}
		}
	}
}

// healthMetric is the periodic record: totals, then one group per worker.
func healthMetric(ifname string, start, now time.Time, group *afpacket.Group, prog *ebpf.Program, snaps []snapshot, queue *storeQueue) *event.Metric {
	v := func(name string, x uint64) event.MetricValue { return event.MetricValue{Name: name, Value: x} }
	m := &event.Metric{At: now, Start: start, Action: "health", Interface: ifname}
	var tot WorkerResult
	var groups []event.MetricGroup
	for i, r := range group.Rings() {
		c, f := snaps[i].get()
		wr := WorkerResult{Counters: c, Flows: f, Ring: r.Stats(), Kernel: r.KernelStats(), Ticks: r.Ticks()}
		groups = append(groups, workerGroup(i, &wr))
		tot.Ring.Packets += wr.Ring.Packets
		tot.Ring.Bytes += wr.Ring.Bytes
		tot.Kernel.Packets += wr.Kernel.Packets
		tot.Kernel.Drops += wr.Kernel.Drops
		tot.Kernel.Freezes += wr.Kernel.Freezes
		tot.Counters.Truncated += c.DecodeErrors()
		tot.Flows.Active += f.Active
		tot.Flows.Records += f.Records
	}
	m.Groups = append(m.Groups, event.MetricGroup{Name: "capture", Values: []event.MetricValue{
		v("packets", tot.Ring.Packets), v("bytes", tot.Ring.Bytes), v("kernel_packets", tot.Kernel.Packets),
		v("kernel_drops", tot.Kernel.Drops), v("kernel_freezes", tot.Kernel.Freezes), v("workers", uint64(len(snaps))),
		v("decode_errors", tot.Counters.Truncated), v("flows_tracked", tot.Flows.Active), v("flow_records", tot.Flows.Records),
	}})
	if queue != nil {
		m.Groups[0].Values = append(m.Groups[0].Values, v("pcap_store_not_stored", queue.notStored()))
	}
	if prog != nil {
		if st, err := prog.Stats(); err == nil {
			m.Groups = append(m.Groups, ebpfGroup(&st))
		}
	}
	m.Groups = append(m.Groups, groups...)
	return m
}

// workerGroup is one worker's figures as mamori.worker_<i>.*.
func workerGroup(i int, wr *WorkerResult) event.MetricGroup {
	v := func(name string, x uint64) event.MetricValue { return event.MetricValue{Name: name, Value: x} }
	return event.MetricGroup{Name: fmt.Sprintf("worker_%d", i), Values: []event.MetricValue{
		v("packets", wr.Ring.Packets), v("bytes", wr.Ring.Bytes), v("kernel_packets", wr.Kernel.Packets),
		v("kernel_drops", wr.Kernel.Drops), v("kernel_freezes", wr.Kernel.Freezes), v("idle_ticks", wr.Ticks),
		v("decode_errors", wr.Counters.DecodeErrors()), v("flows_tracked", wr.Flows.Active), v("flow_records", wr.Flows.Records),
	}}
}

func ebpfGroup(st *ebpf.Stats) event.MetricGroup {
	v := func(name string, x uint64) event.MetricValue { return event.MetricValue{Name: name, Value: x} }
	return event.MetricGroup{Name: "ebpf", Values: []event.MetricValue{
		v("packets", st.Packets), v("bytes", st.Bytes), v("cutoff_packets", st.CutPackets), v("cutoff_bytes", st.CutBytes),
		v("uncounted", st.Uncounted), v("flows_created", st.NewFlows), v("map_errors", st.MapErrors),
	}}
}

func ebpfMetric(ifname string, st *ebpf.Stats) *event.Metric {
	return &event.Metric{At: time.Now(), Action: "run_summary", Interface: ifname, Groups: []event.MetricGroup{ebpfGroup(st)}}
}

func logLink(log *slog.Logger, e iface.Event) {
	attrs := []any{"interface", e.Interface, "up", e.Up, "carrier", e.Carrier, "oper_state", e.OperState, "mtu", e.MTU}
	switch e.Kind {
	case iface.LinkDown, iface.CarrierLost, iface.Removed:
		log.Warn("link "+string(e.Kind)+": no packets will be captured until it is back", attrs...)
	case iface.WatchFailed:
		log.Error("link state watch stopped", "interface", e.Interface, "err", e.Err)
	default:
		log.Info("link "+string(e.Kind), attrs...)
	}
}

// stateRecord is an event.kind "state" record: a change of the capture
// interface's state (mamori.state data stream).
type stateRecord struct{ e iface.Event }

func (s *stateRecord) Dataset() string { return event.StateDataset }

func (s *stateRecord) Time() time.Time { return s.e.Time }

func (s *stateRecord) AppendJSON(dst []byte, o *event.Observer) []byte {
	h := event.StateHead{At: s.e.Time, Categories: []string{"host", "network"}, Type: "change",
		Action: string(s.e.Kind), Message: s.e.String(), Interface: s.e.Interface}
	return event.AppendState(dst, o, &h, func(w *event.JSON) {
		w.Object("mamori")
		w.Object("link")
		w.Bool("up", s.e.Up)
		w.Bool("carrier", s.e.Carrier)
		w.StringIf("oper_state", s.e.OperState)
		if s.e.MTU > 0 {
			w.Uint("mtu", uint64(s.e.MTU))
		}
		if s.e.Err != nil {
			w.String("error", s.e.Err.Error())
		}
		w.End()
		w.End()
	})
}

// liveOutput opens the NDJSON destination: stdout, a named file, or a new
// file under the data directory.
func liveOutput(o RunOptions, cfg *config.Config, ifname string) (io.Writer, string, error) {
	switch o.Output {
	case "-":
		return o.Stdout, "stdout", nil
	case "":
	default:
		f, err := os.Create(o.Output)
		if err != nil {
			return nil, "", fmt.Errorf("creating output: %w", err)
		}
		return f, o.Output, nil
	}
	dir := filepath.Join(cfg.Sensor.DataDir, "live")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("creating output directory: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.ndjson", ifname, time.Now().UTC().Format("20060102T150405Z")))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, "", fmt.Errorf("creating output: %w", err)
	}
	return f, path, nil
}

func printRunSummary(w io.Writer, ifname string, r *RunResult) {
	var pk, by, drops, freezes, ticks, kern, dec, recs uint64
	for _, wr := range r.Workers {
		pk += wr.Ring.Packets
		by += wr.Ring.Bytes
		drops += wr.Kernel.Drops
		freezes += wr.Kernel.Freezes
		ticks += wr.Ticks
		kern += wr.Kernel.Packets
		dec += wr.Counters.DecodeErrors()
		recs += wr.Flows.Records
	}
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "mamori run: %s, %d workers, %.1fs: %s packets (%.1f MB), %s kernel drops, %s queue freezes, %s flow records\n",
		ifname, len(r.Workers), secs, group(pk), float64(by)/1e6, group(drops), group(freezes), group(recs))
	for i, wr := range r.Workers {
		fmt.Fprintf(w, "  worker %d: %s packets, %s kernel drops, %s freezes, %s decode errors, %s flow records, %s idle ticks\n",
			i, group(wr.Ring.Packets), group(wr.Kernel.Drops), group(wr.Kernel.Freezes), group(wr.Counters.DecodeErrors()),
			group(wr.Flows.Records), group(wr.Ticks))
	}
	if kern != pk+drops {
		fmt.Fprintf(w, "  kernel delivered %s packets to the sockets: %s processed + %s dropped\n", group(kern), group(pk), group(drops))
	}
	if r.EBPF != nil {
		fmt.Fprintf(w, "  ebpf: %s packets counted in the kernel, %s cut off (%.1f MB) in bulk flows; %s flows\n",
			group(r.EBPF.Packets), group(r.EBPF.CutPackets), float64(r.EBPF.CutBytes)/1e6, group(r.EBPF.NewFlows))
	} else {
		fmt.Fprintln(w, "  ebpf: off (every packet copied, no cutoff)")
	}
	if dec > 0 {
		fmt.Fprintf(w, "  decode errors: %s\n", group(dec))
	}
	fmt.Fprintf(w, "  output: %s (%s records)\n", r.Output, group(r.Records))
}

// liveGCPercent is the garbage collector's target in a live run (unless
// GOGC is set): the heap may grow to five times what is live before a
// collection.
const liveGCPercent = 400

// The pcap store's feed in a live run. The store's Append takes one lock
// shared by every worker and copies the packet under it; a worker that
// waits for it (the other worker copying, the store's writer flushing, a
// first touch of the store's buffers) lets its ring fill up. So each
// worker copies its packets into chunks of its own, without locks, and a
// goroutine of its own appends them to the store (the copies run in
// parallel, as before; only these goroutines wait for the store's lock).
// When no chunk is free (the store cannot keep up) packets are not stored
// and are counted, never waited for.
const (
	storeChunkBytes = 256 << 10 // one chunk's packet bytes
	storeChunkMax   = 256       // chunks in all (allocated when first needed: at most 64 MiB, a ring's worth)
	// storeChunkAge is the most packet time a packet waits in a worker's
	// chunk before the chunk goes to the store (an idle tick, after a
	// second without packets, hands it over too).
	storeChunkAge = time.Second
)

type storeRec struct {
	ts     int64 // Unix nanoseconds
	off, n uint32
	wire   uint32
	link   layers.LinkType
}

type storeChunk struct {
	buf  []byte
	recs []storeRec
}

// storeQueue carries chunks from the workers to their appending goroutines.
// With capture.idle_tick off, a quiet worker's last packets reach the
// store only with its next packets or at the end of the run.
type storeQueue struct {
	appendFn func([]byte, gopacket.CaptureInfo, layers.LinkType)
	sources  []*storeSource
	wg       sync.WaitGroup
	mu       sync.Mutex
	free     []*storeChunk // a stack: the chunk used last is reused first, still in cache
	made     int
	dropped  atomic.Uint64
}

func newStoreQueue(appendFn func([]byte, gopacket.CaptureInfo, layers.LinkType)) *storeQueue {
	return &storeQueue{appendFn: appendFn}
}

// feed appends the chunks of one worker to the store, in order.
func (q *storeQueue) feed(full <-chan *storeChunk) {
	defer q.wg.Done()
	for c := range full {
		for _, r := range c.recs {
			q.appendFn(c.buf[r.off:r.off+r.n:r.off+r.n],
				gopacket.CaptureInfo{Timestamp: time.Unix(0, r.ts), CaptureLength: int(r.n), Length: int(r.wire)}, r.link)
		}
		q.put(c)
	}
}

// get returns a free chunk, or nil when all are in use.
func (q *storeQueue) get() *storeChunk {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := len(q.free); n > 0 {
		c := q.free[n-1]
		q.free = q.free[:n-1]
		return c
	}
	if q.made == storeChunkMax {
		return nil
	}
	q.made++
	return &storeChunk{buf: make([]byte, 0, storeChunkBytes), recs: make([]storeRec, 0, storeChunkBytes/64)}
}

func (q *storeQueue) put(c *storeChunk) {
	c.buf, c.recs = c.buf[:0], c.recs[:0]
	q.mu.Lock()
	q.free = append(q.free, c)
	q.mu.Unlock()
}

// notStored is the number of packets not stored so far (0 for a nil q).
func (q *storeQueue) notStored() uint64 {
	if q == nil {
		return 0
	}
	return q.dropped.Load()
}

// close waits until every chunk handed over is in the store (the workers
// have stopped) and returns the number of packets not stored. q may be nil.
func (q *storeQueue) close() uint64 {
	if q == nil {
		return 0
	}
	for _, s := range q.sources {
		s.handOver() // a worker that stopped on an error did not
		close(s.full)
	}
	q.wg.Wait()
	return q.dropped.Load()
}

// source wraps a worker's ring: every packet it returns is also copied
// into the worker's chunk for the store.
func (q *storeQueue) source(r sensor.Source) sensor.Source {
	s := &storeSource{Source: r, q: q, link: r.LinkType(0), full: make(chan *storeChunk, storeChunkMax)}
	q.sources = append(q.sources, s)
	q.wg.Add(1)
	go q.feed(s.full)
	return s
}

type storeSource struct {
	sensor.Source
	q     *storeQueue
	full  chan *storeChunk // to this worker's appending goroutine
	link  layers.LinkType
	cur   *storeChunk
	first int64 // packet time of cur's first packet
}

func (s *storeSource) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.Source.ZeroCopyReadPacketData()
	switch {
	case err != nil:
		s.handOver() // the end: the worker reads no more
	case len(data) == 0 && ci.Length == 0:
		s.handOver() // an idle tick: the link is quiet
	default:
		s.add(data, ci)
	}
	return data, ci, err
}

func (s *storeSource) add(data []byte, ci gopacket.CaptureInfo) {
	ts := ci.Timestamp.UnixNano()
	if s.cur != nil && (len(s.cur.buf)+len(data) > cap(s.cur.buf) || ts-s.first > int64(storeChunkAge)) {
		s.handOver()
	}
	if s.cur == nil {
		if s.cur = s.q.get(); s.cur == nil {
			s.q.dropped.Add(1)
			return
		}
		s.first = ts
	}
	c := s.cur
	if len(data) > cap(c.buf) {
		data = data[:cap(c.buf)] // longer than a chunk: the store cuts it to its snap length anyway
	}
	c.recs = append(c.recs, storeRec{ts: ts, off: uint32(len(c.buf)), n: uint32(len(data)), wire: uint32(ci.Length), link: s.link})
	c.buf = append(c.buf, data...)
}

// handOver queues the current chunk for the store (never blocking: the
// queue holds every chunk there is).
func (s *storeSource) handOver() {
	if s.cur == nil {
		return
	}
	if len(s.cur.recs) == 0 {
		s.q.put(s.cur)
	} else {
		s.full <- s.cur
	}
	s.cur = nil
}
