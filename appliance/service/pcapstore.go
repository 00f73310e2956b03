package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/appliance/config"
	"mamori/pipeline/event"
	"mamori/sensor/pcapstore"
)

// PcapStoreConfig returns the pcap store's configuration: the file's
// pcap_store section, with dir (when not empty) overriding its directory,
// and <sensor.data_dir>/pcap when neither names one.
func PcapStoreConfig(cfg *config.Config, dir string) pcapstore.Config {
	c := cfg.PcapStore
	if dir != "" {
		c.Dir = dir
	}
	if c.Dir == "" {
		c.Dir = filepath.Join(cfg.Sensor.DataDir, "pcap")
	}
	return c
}

// pcapOptions are the store options every command uses: the flow table's
// Community ID seed, so that "community-id" finds the flows of records.
func pcapOptions(cfg *config.Config) pcapstore.Options {
	return pcapstore.Options{CommunityIDSeed: cfg.Flow.CommunityIDSeed}
}

// OpenPcapStore opens a store for queries, verification and evidence.
func OpenPcapStore(cfg *config.Config, dir string) (*pcapstore.Store, error) {
	return pcapstore.Open(PcapStoreConfig(cfg, dir), pcapOptions(cfg))
}

// OpenPcapWriter opens a store for writing. lossless makes appends wait
// for the disk (imports); report receives the writer's problems as they
// happen and must not block.
func OpenPcapWriter(cfg *config.Config, dir string, lossless bool, report func(error)) (*pcapstore.Writer, error) {
	o := pcapOptions(cfg)
	o.Lossless, o.Report = lossless, report
	return pcapstore.OpenWriter(PcapStoreConfig(cfg, dir), o)
}

// pcapFeed feeds a replay's packets into a store and turns the store's
// problems into state records.
type pcapFeed struct {
	w      *pcapstore.Writer
	dir    string
	mu     sync.Mutex
	events []pcapEvent
	first  error // the first Append error (the writer closed)
}

type pcapEvent struct {
	at  time.Time
	err error
}

// openPcapFeed opens the store of a replay, or returns nil when the replay
// has none.
func openPcapFeed(o ReplayOptions, cfg *config.Config) (*pcapFeed, error) {
	if o.PcapStore == "" {
		return nil, nil
	}
	f := &pcapFeed{dir: o.PcapStore}
	w, err := OpenPcapWriter(cfg, o.PcapStore, true, f.report)
	if err != nil {
		return nil, fmt.Errorf("pcap store: %w", err)
	}
	f.w = w
	return f, nil
}

func (f *pcapFeed) report(err error) {
	f.mu.Lock()
	if len(f.events) < 1000 {
		f.events = append(f.events, pcapEvent{time.Now().UTC(), err})
	}
	f.mu.Unlock()
}

// tap is the worker's Tap; nil without a store.
func (f *pcapFeed) tap() func([]byte, gopacket.CaptureInfo, layers.LinkType) {
	if f == nil {
		return nil
	}
	return func(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
		if err := f.w.Append(data, ci, link); err != nil {
			f.mu.Lock() // live capture taps from every worker
			if f.first == nil {
				f.first = err
			}
			f.mu.Unlock()
		}
	}
}

// finish closes the store, writes a state record per problem and a metric
// record with the store's counters, and prints a line unless quiet. It
// returns an error when packets were not stored.
func (f *pcapFeed) finish(write func(event.Record) error, stderr io.Writer, quiet bool) error {
	if f == nil {
		return nil
	}
	cerr := f.w.Close()
	st := f.w.Stats()
	f.mu.Lock()
	events := f.events
	f.mu.Unlock()
	var werr error
	for _, e := range events {
		werr = errors.Join(werr, write(&pcapStateRecord{at: e.at, err: e.err}))
		if !quiet {
			fmt.Fprintf(stderr, "mamori replay: %v\n", e.err)
		}
	}
	werr = errors.Join(werr, write(pcapMetric(time.Now().UTC(), st)))
	if !quiet {
		fmt.Fprintf(stderr, "pcap store %s: %d packets stored (%d bytes), %d files closed, %d deleted by retention, %d lost, %d write errors\n",
			f.dir, st.Packets, st.Bytes, st.FilesClosed, st.FilesDeleted, st.Lost+st.Dropped, st.WriteErrors)
	}
	var err error
	if st.Lost+st.Dropped+st.WriteErrors > 0 || cerr != nil || f.first != nil {
		err = fmt.Errorf("pcap store %s: %d packets not stored, %d write errors: %w", f.dir, st.Lost+st.Dropped, st.WriteErrors,
			errors.Join(cerr, f.first, errors.New(st.LastError)))
	}
	return errors.Join(err, werr)
}

// pcapMetric is the store's counters as a metric record.
func pcapMetric(at time.Time, st pcapstore.Stats) *event.Metric {
	return &event.Metric{At: at, Action: "pcap_store", Groups: []event.MetricGroup{storeGroup(&st)}}
}

// pcapStateRecord is an event.kind "state" record for a pcap store
// problem: a write error, a full disk, a recovery, retention blocked by
// pins (mamori.state data stream).
type pcapStateRecord struct {
	at  time.Time
	err error
}

func (s *pcapStateRecord) Dataset() string { return event.StateDataset }

func (s *pcapStateRecord) Time() time.Time { return s.at }

func (s *pcapStateRecord) AppendJSON(dst []byte, o *event.Observer) []byte {
	op, file := "error", ""
	var ev *pcapstore.Event
	if errors.As(s.err, &ev) {
		op, file = ev.Op, ev.File
	}
	h := event.StateHead{At: s.at, Categories: []string{"host"}, Type: "error", Action: "pcap_store_" + op, Message: s.err.Error()}
	return event.AppendState(dst, o, &h, func(w *event.JSON) {
		w.Object("mamori")
		w.Object("pcap_store")
		w.String("op", op)
		w.StringIf("file", file)
		w.Bool("disk_full", errors.Is(s.err, pcapstore.ErrDiskFull))
		w.End()
		w.End()
	})
}

// The pcap store's types and functions, for cmd/mamori (which imports
// appliance/ only).
type (
	PcapStore           = pcapstore.Store
	PcapQuery           = pcapstore.Query
	PcapResult          = pcapstore.Result
	PcapPin             = pcapstore.Pin
	PcapFileInfo        = pcapstore.FileInfo
	PcapEvidenceRequest = pcapstore.EvidenceRequest
	PcapSyntaxError     = pcapstore.SyntaxError
	PcapWriterStats     = pcapstore.Stats
)

// ErrPcapNotFound is pcapstore.ErrNotFound: no store, or no such alert.
var ErrPcapNotFound = pcapstore.ErrNotFound

// ParsePcapExpr checks a query expression (errors are *PcapSyntaxError).
func ParsePcapExpr(s string) error {
	_, err := pcapstore.ParseExpr(s)
	return err
}

// ParseByteSize parses a size such as 256MiB or 10GB.
func ParseByteSize(s string) (int64, error) {
	n, err := pcapstore.ParseByteSize(s)
	return int64(n), err
}

// ImportPcap imports capture files into the store (created if needed)
// without running the packet path, and returns the writer's counters.
// report receives the writer's problems as they happen.
func ImportPcap(ctx context.Context, cfg *config.Config, dir string, files []string, report func(error)) (PcapWriterStats, error) {
	w, err := OpenPcapWriter(cfg, dir, true, report)
	if err != nil {
		return PcapWriterStats{}, err
	}
	_, ierr := pcapstore.Import(ctx, w, files)
	cerr := w.Close()
	return w.Stats(), errors.Join(ierr, cerr)
}
