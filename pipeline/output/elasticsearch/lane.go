package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"mamori/pipeline/event"
	"mamori/pipeline/output/spool"
)

// filterPath keeps what the per-item policy needs. Items stay in request
// order (BulkIndexer matches them by position), so status must stay.
var filterPath = []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason", "items.*.failure_store"}

// lane is one spool feeding one bulk indexer: flows (with protocol records,
// health and dead letters) or alerts.
type lane struct {
	o        *Output
	name     string
	sp       *spool.Spool
	bi       esutil.BulkIndexer
	maxBatch int
	maxBytes int

	onSuccess func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem)
	onFailure func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error)
	indexes   map[string]string // interned index names; drainer goroutine only
	pool      sync.Pool

	mu         sync.Mutex
	retry      []*doc // due now
	open       bool   // circuit breaker: whole requests are failing
	fails      int    // consecutive failed requests
	stopped    bool
	readCancel context.CancelFunc
	wake       chan struct{}

	acked, dups, fstore, retried, reqFails, dead, dropped atomic.Uint64
}

// doc is one spooled document on its way; it is the item's Body, which is
// how the callbacks find their way back to the spool position.
type doc struct {
	bytes.Reader
	ent      spool.Entry // released (its memory reused) with the doc
	index    string
	id       string
	body     []byte
	attempts int
}

// Read returns io.EOF with the last bytes of the document: BulkIndexer
// copies the body with bytes.Buffer.ReadFrom, which asks for 512 free
// bytes before every read, so a read that only returns io.EOF would make it
// double the request buffer whenever a request ends within 512 bytes of
// FlushBytes (and then reallocate it after the flush).
func (d *doc) Read(p []byte) (int, error) {
	n, err := d.Reader.Read(p)
	if err == nil && d.Reader.Len() == 0 {
		err = io.EOF
	}
	return n, err
}

func newLane(o *Output, name string, sp *spool.Spool, workers, flushBytes int, interval time.Duration) (*lane, error) {
	l := &lane{o: o, name: name, sp: sp, maxBatch: 4096, maxBytes: flushBytes, indexes: map[string]string{}, wake: make(chan struct{}, 1)}
	l.onSuccess, l.onFailure = l.success, l.failure
	var err error
	l.bi, err = esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:              o.client,
		NumWorkers:          workers,
		FlushBytes:          flushBytes,
		FlushInterval:       interval,
		FlushJitter:         interval / 5,
		QueueSizeMultiplier: 256,
		FilterPath:          filterPath,
		Decoder:             responseDecoder{},
		Timeout:             o.cfg.Timeout,
		OnError:             l.requestFailed,
	})
	return l, err
}

// run is the lane's drainer: it alone calls bi.Add (which may block).
func (l *lane) run(ctx context.Context) {
	var entries []spool.Entry
	for ctx.Err() == nil {
		l.mu.Lock()
		open := l.open
		var due []*doc
		if !open {
			due, l.retry = l.retry, nil
		}
		l.mu.Unlock()
		if open {
			select {
			case <-l.wake:
			case <-ctx.Done():
			}
			continue
		}
		for _, d := range due {
			l.add(ctx, d)
		}
		rctx, cancel := context.WithCancel(ctx)
		l.mu.Lock()
		l.readCancel = cancel
		if len(l.retry) > 0 || l.open {
			cancel() // something arrived meanwhile
		}
		l.mu.Unlock()
		var err error
		entries, err = l.sp.Read(rctx, entries[:0], l.maxBatch, l.maxBytes)
		l.mu.Lock()
		l.readCancel = nil
		l.mu.Unlock()
		cancel()
		for i, e := range entries {
			if d := l.newDoc(e); d != nil {
				l.add(ctx, d)
			}
			entries[i] = spool.Entry{}
		}
		if errors.Is(err, spool.ErrClosed) {
			return
		}
	}
}

// kick wakes the drainer from a wait for the breaker or for new entries.
func (l *lane) kick() {
	l.mu.Lock()
	if l.readCancel != nil {
		l.readCancel()
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *lane) newDoc(e spool.Entry) *doc {
	ib, idb, body, err := parsePayload(e.Data)
	if err != nil {
		l.dropped.Add(1)
		l.sp.Ack(e.Pos)
		l.sp.Release(e)
		return nil
	}
	index, ok := l.indexes[string(ib)]
	if !ok {
		index = string(ib)
		if len(l.indexes) < 1024 {
			l.indexes[index] = index
		}
	}
	id := string(idb)
	d, _ := l.pool.Get().(*doc)
	if d == nil {
		d = new(doc)
	}
	*d = doc{ent: e, index: index, id: id, body: body}
	d.Reset(body)
	return d
}

// release acknowledges d in the spool and recycles it.
func (l *lane) release(d *doc) {
	l.sp.Ack(d.ent.Pos)
	l.sp.Release(d.ent)
	*d = doc{}
	l.pool.Put(d)
}

func (l *lane) add(ctx context.Context, d *doc) {
	d.Seek(0, 0)
	err := l.bi.Add(ctx, esutil.BulkIndexerItem{
		Index:      d.index,
		Action:     "create",
		DocumentID: d.id,
		Body:       d,
		OnSuccess:  l.onSuccess,
		OnFailure:  l.onFailure,
	})
	if err != nil {
		// Only a cancelled ctx (Close): the document stays in the spool,
		// unacknowledged, and is sent after the next start.
		return
	}
}

func (l *lane) success(_ context.Context, item esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem) {
	d := item.Body.(*doc)
	if res.FailureStore == "used" {
		l.fstore.Add(1)
	} else {
		l.acked.Add(1)
	}
	l.mu.Lock()
	l.fails = 0
	l.mu.Unlock()
	l.release(d)
}

// Item outcomes (the reference's §2.4).
type outcome uint8

const (
	outAck       outcome = iota // created
	outDuplicate                // 409 on create: it is there already
	outRetry                    // 429, 5xx: back-pressure or a shard problem
	outDead                     // any other refusal: it will never be accepted
)

// classify applies the per-item policy to one bulk response item.
func classify(status int, errType string) outcome {
	switch {
	case status == 409 || errType == "version_conflict_engine_exception":
		return outDuplicate
	case status == 429 || status >= 500 || errType == "es_rejected_execution_exception" || errType == "circuit_breaking_exception":
		return outRetry
	case status >= 200 && status <= 201 && errType == "":
		return outAck
	}
	return outDead
}

func (l *lane) failure(_ context.Context, item esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
	d := item.Body.(*doc)
	if err != nil {
		// The whole request failed (after the transport's retries): the
		// breaker is open (requestFailed); resend when it closes.
		l.mu.Lock()
		stopped := l.stopped
		if !stopped {
			l.retry = append(l.retry, d)
		}
		l.mu.Unlock()
		return
	}
	switch classify(res.Status, res.Error.Type) {
	case outDuplicate:
		l.dups.Add(1)
		l.release(d)
	case outRetry:
		l.retried.Add(1)
		d.attempts++
		delay := jittered(500*time.Millisecond, l.o.cfg.MaxBackoff, d.attempts)
		time.AfterFunc(delay, func() {
			l.mu.Lock()
			stopped := l.stopped
			if !stopped {
				l.retry = append(l.retry, d)
			}
			l.mu.Unlock()
			l.kick()
		})
	case outAck:
		l.success(nil, item, res)
	default:
		l.deadLetter(d, res)
		l.release(d)
	}
}

// requestFailed is BulkIndexer's OnError: a whole request failed. It opens
// the breaker for a backoff that grows with consecutive failures.
func (l *lane) requestFailed(ctx context.Context, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return
	}
	l.reqFails.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.open {
		return
	}
	l.fails++
	l.open = true
	time.AfterFunc(jittered(500*time.Millisecond, l.o.cfg.MaxBackoff, l.fails), func() {
		l.mu.Lock()
		l.open = false
		l.mu.Unlock()
		l.kick()
	})
}

func (l *lane) breakerOpen() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// deadLetter writes a refused document, with the reason, to the
// dead-letter data stream. A refused dead letter is dropped and counted.
func (l *lane) deadLetter(d *doc, res esutil.BulkIndexerResponseItem) {
	o := l.o
	dl, err := DataStream("logs", DeadLetterDataset, o.obs.Namespace)
	if err != nil || d.index == dl {
		l.dropped.Add(1)
		return
	}
	w := event.JSON{}
	w.Begin()
	if ts := timestampOf(d.body); ts != "" {
		w.String("@timestamp", ts)
	} else {
		w.Time("@timestamp", o.now())
	}
	w.Object("ecs")
	w.String("version", event.ECSVersion)
	w.End()
	w.Object("data_stream")
	w.String("type", "logs")
	w.String("dataset", DeadLetterDataset)
	w.String("namespace", nsOf(o.obs))
	w.End()
	w.Object("event")
	w.String("kind", "pipeline_error")
	w.String("dataset", DeadLetterDataset)
	w.String("module", "mamori")
	w.String("original", string(d.body))
	w.End()
	w.Object("error")
	w.StringIf("type", res.Error.Type)
	msg := res.Error.Reason
	if res.Error.Cause.Reason != "" {
		msg += ": " + res.Error.Cause.Reason
	}
	w.StringIf("message", msg)
	w.String("code", strconv.Itoa(res.Status))
	w.End()
	w.Object("mamori")
	w.Object("deadletter")
	w.String("index", d.index)
	w.StringIf("id", d.id)
	w.Int("status", int64(res.Status))
	w.End()
	w.End()
	w.Object("observer")
	w.String("type", "sensor")
	w.String("vendor", "mamori")
	w.String("product", "mamori")
	w.StringIf("version", o.obs.Version)
	w.StringIf("name", o.obs.Name)
	w.StringIf("hostname", o.obs.Hostname)
	w.End()
	w.Finish()
	if o.flows.sp.Put(append(appendPayload(nil, dl, ""), w.B...), true) {
		l.dead.Add(1)
	} else {
		l.dropped.Add(1)
	}
}

func nsOf(o *event.Observer) string {
	if o.Namespace == "" {
		return "default"
	}
	return o.Namespace
}

// timestampOf returns the @timestamp string of a mamori document, which
// writes it first.
func timestampOf(doc []byte) string {
	const prefix = `{"@timestamp":"`
	if !bytes.HasPrefix(doc, []byte(prefix)) {
		return ""
	}
	rest := doc[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || end > 64 {
		return ""
	}
	return string(rest[:end])
}

// stop makes callbacks leave failed documents in the spool (for the next
// start) instead of scheduling retries.
func (l *lane) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func (l *lane) idle() bool { return l.sp.Empty() }

func (l *lane) stats() LaneStats {
	bs := l.bi.Stats()
	return LaneStats{
		Acked: l.acked.Load(), Duplicates: l.dups.Load(), FailureStore: l.fstore.Load(),
		Retried: l.retried.Load(), RequestFails: l.reqFails.Load(), DeadLettered: l.dead.Load(),
		Dropped: l.dropped.Load(), Requests: bs.NumRequests, LatencyMs: bs.FlushedMs,
		Spool: l.sp.Stats(),
	}
}
