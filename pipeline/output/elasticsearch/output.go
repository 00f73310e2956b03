package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"mamori/pipeline/event"
	"mamori/pipeline/output"
	"mamori/pipeline/output/spool"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("output/elasticsearch: closed")

// Options are what the appliance supplies besides the configuration.
type Options struct {
	// Dir is the spool directory when cfg.Spool.Dir is empty.
	Dir string
	// Observer writes observer.* on every record.
	Observer *event.Observer
	// Client overrides the client NewClient would build (tests).
	Client *elasticsearch.Client
	// Now is the wall clock, used only for the @timestamp of a dead-letter
	// document whose original has none. Defaults to the zero time.
	Now func() time.Time
	// CloseTimeout bounds how long Close waits for requests in flight.
	// Defaults to 10s.
	CloseTimeout time.Duration
}

// Output ships records to Elasticsearch through two spools and two bulk
// indexers. Write, Stats and Health are safe for concurrent use.
type Output struct {
	cfg    Config
	obs    *event.Observer
	client *elasticsearch.Client
	now    func() time.Time
	closeT time.Duration

	flows, alerts *lane

	mu      sync.Mutex
	buf     []byte
	scratch []byte
	streams map[string]string // dataset → data stream, for both types
	closed  bool
	st      writeStats

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type writeStats struct {
	records    uint64
	badDataset uint64
}

var _ output.Sink = (*Output)(nil)

// New opens the spools (resuming what a previous run left), builds the
// client and indexers and starts shipping. It does not contact the cluster:
// an unreachable cluster only delays delivery.
func New(cfg Config, o Options) (*Output, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	obs := o.Observer
	if obs == nil {
		obs = &event.Observer{}
	}
	client := o.Client
	if client == nil {
		if client, err = NewClient(cfg); err != nil {
			return nil, err
		}
	}
	dir := cfg.Spool.Dir
	if dir == "" {
		dir = o.Dir
	}
	if dir == "" {
		return nil, errors.New("spool.dir: required")
	}
	fc, ac := cfg.spoolConfigs(dir)
	fs, err := spool.Open(fc)
	if err != nil {
		return nil, fmt.Errorf("opening flow spool: %w", err)
	}
	as, err := spool.Open(ac)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("opening alert spool: %w", err)
	}
	out := &Output{cfg: cfg, obs: obs, client: client, now: o.Now, closeT: o.CloseTimeout, streams: map[string]string{}}
	if out.now == nil {
		out.now = func() time.Time { return time.Time{} }
	}
	if out.closeT == 0 {
		out.closeT = 10 * time.Second
	}
	out.ctx, out.cancel = context.WithCancel(context.Background())
	if out.flows, err = newLane(out, "flows", fs, cfg.Workers, int(cfg.FlushBytes), cfg.FlushInterval); err == nil {
		out.alerts, err = newLane(out, "alerts", as, 1, min(int(cfg.FlushBytes), 1<<20), cfg.AlertFlushInterval)
	}
	if err != nil {
		fs.Close()
		as.Close()
		return nil, err
	}
	for _, l := range []*lane{out.flows, out.alerts} {
		out.wg.Add(1)
		go func() {
			defer out.wg.Done()
			l.run(out.ctx)
		}()
	}
	return out, nil
}

// Recovered reports what the two spools found and repaired when opened.
func (o *Output) Recovered() (flows, alerts spool.Recovery) {
	return o.flows.sp.Recovered(), o.alerts.sp.Recovered()
}

// Write encodes r and queues it. It never blocks and never does I/O. A
// record the spool refuses (flows and protocol records past the spool's
// cap) is counted, not reported: Write returns an error only after Close.
func (o *Output) Write(r event.Record) error { return o.write(r, nil) }

// WriteJSON is Write for a record already encoded: doc must be
// r.AppendJSON(nil, obs) with the Observer the output was opened with (a
// sink that writes the same record to NDJSON encodes it once).
func (o *Output) WriteJSON(r event.Record, doc []byte) error { return o.write(r, doc) }

// Observer is the observer written on every record.
func (o *Output) Observer() *event.Observer { return o.obs }

func (o *Output) write(r event.Record, doc []byte) error {
	ds := r.Dataset()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	o.st.records++
	index, ok := o.streams[ds]
	if !ok {
		var err error
		if index, err = DataStream(streamType(r), ds, o.obs.Namespace); err != nil {
			o.st.badDataset++
			return nil
		}
		if len(o.streams) < 1024 {
			o.streams[ds] = index
		}
	}
	a, isAlert := r.(Alert)
	isAlert = isAlert || ds == AlertDataset
	if !isAlert {
		if doc != nil {
			o.buf = append(appendPayload(o.buf[:0], index, ""), doc...)
		} else {
			o.buf = r.AppendJSON(appendPayload(o.buf[:0], index, ""), o.obs)
		}
		o.flows.sp.Put(o.buf, false)
		return nil
	}
	if doc != nil {
		o.scratch = append(o.scratch[:0], doc...)
	} else {
		o.scratch = r.AppendJSON(o.scratch[:0], o.obs)
	}
	var id string
	if a != nil {
		id = a.AlertID()
	}
	if id == "" || len(id) > 200 {
		id = contentID(o.scratch)
	}
	o.buf = append(appendPayload(o.buf[:0], index, id), o.scratch...)
	o.alerts.sp.Put(o.buf, true)
	return nil
}

// Flush hands queued records to the spool writers. Delivery to the cluster
// goes on in the background; Drain waits for it.
func (o *Output) Flush() error { return nil }

// Drain waits until every record written so far has been acknowledged by
// the cluster (or dead-lettered), or ctx is done.
func (o *Output) Drain(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	last := [2]uint64{}
	for {
		if o.flows.idle() && o.alerts.idle() {
			return nil
		}
		for i, l := range []*lane{o.flows, o.alerts} {
			// Flush a partly filled request only once the lane's reader has
			// stopped finding new documents: flushing while it is busy
			// would send many small requests.
			read := l.sp.Stats().Read
			if read == last[i] && !l.breakerOpen() {
				fctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
				l.bi.Flush(fctx)
				cancel()
			}
			last[i] = read
		}
		t.Reset(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			return fmt.Errorf("draining: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Close stops shipping: requests in flight get up to Options.CloseTimeout
// to finish, then the spools are closed. Records not acknowledged stay in
// the spool and are sent after the next New.
func (o *Output) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	o.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), o.closeT)
	defer cancel()
	var errs []error
	for _, l := range []*lane{o.flows, o.alerts} {
		l.stop()
		if err := l.bi.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing %s indexer: %w", l.name, err))
		}
	}
	for _, l := range []*lane{o.flows, o.alerts} {
		if err := l.sp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s spool: %w", l.name, err))
		}
	}
	return errors.Join(errs...)
}

// Stats are the output's counters, per lane.
type Stats struct {
	Records    uint64 // Write calls
	BadDataset uint64 // records whose dataset cannot name a data stream
	Flows      LaneStats
	Alerts     LaneStats
}

// LaneStats are one lane's counters.
type LaneStats struct {
	Acked        uint64 // documents created (2xx)
	Duplicates   uint64 // 409 on create: already there, counted as delivered
	FailureStore uint64 // redirected to the data stream's failure store
	Retried      uint64 // per-document retries (429, 5xx)
	RequestFails uint64 // whole-request failures (after transport retries)
	DeadLettered uint64 // refused for good, written to the dead-letter stream
	Dropped      uint64 // refused for good and could not be dead-lettered
	Requests     uint64 // bulk requests sent
	LatencyMs    uint64 // total time of bulk requests
	Spool        spool.Stats
}

// Stats returns the counters.
func (o *Output) Stats() Stats {
	o.mu.Lock()
	st := Stats{Records: o.st.records, BadDataset: o.st.badDataset}
	o.mu.Unlock()
	st.Flows, st.Alerts = o.flows.stats(), o.alerts.stats()
	return st
}

// Health returns the counters as the "elasticsearch" group of a health
// record (mamori.elasticsearch.<name>).
func (o *Output) Health() event.MetricGroup {
	st := o.Stats()
	g := event.MetricGroup{Name: "elasticsearch"}
	add := func(name string, v uint64) { g.Values = append(g.Values, event.MetricValue{Name: name, Value: v}) }
	add("records", st.Records)
	add("bad_dataset", st.BadDataset)
	for _, l := range []struct {
		p string
		s LaneStats
	}{{"flows_", st.Flows}, {"alerts_", st.Alerts}} {
		add(l.p+"acked", l.s.Acked)
		add(l.p+"duplicates", l.s.Duplicates)
		add(l.p+"failure_store", l.s.FailureStore)
		add(l.p+"retried", l.s.Retried)
		add(l.p+"request_failures", l.s.RequestFails)
		add(l.p+"dead_lettered", l.s.DeadLettered)
		add(l.p+"dropped", l.s.Dropped+l.s.Spool.DroppedFull+l.s.Spool.DroppedQueue+l.s.Spool.DroppedClosed+l.s.Spool.DroppedInvalid+l.s.Spool.LostOnWrite)
		add(l.p+"dropped_spool_full", l.s.Spool.DroppedFull)
		add(l.p+"over_cap", l.s.Spool.OverCap)
		add(l.p+"queue_bytes", uint64(max(l.s.Spool.QueueBytes, 0)))
		add(l.p+"spool_bytes", uint64(max(l.s.Spool.DiskBytes, 0)))
		add(l.p+"spool_segments", uint64(l.s.Spool.Segments))
		add(l.p+"in_flight", uint64(l.s.Spool.InFlight))
		add(l.p+"corrupt_bytes", l.s.Spool.CorruptBytes)
		add(l.p+"requests", l.s.Requests)
		add(l.p+"bulk_latency_ms_total", l.s.LatencyMs)
	}
	return g
}
