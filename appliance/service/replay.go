package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mamori/appliance/config"
	"mamori/pipeline/event"
	"mamori/pipeline/output/ndjson"
	"mamori/pipeline/proto/all"
	"mamori/pipeline/worker"
	"mamori/sensor"
)

// Version is mamori's version, set at build time with
// -ldflags "-X mamori/appliance/service.Version=…".
var Version = "0.1.0-dev"

// ReplayOptions say what to replay and where records go.
type ReplayOptions struct {
	Config *config.Config
	Files  []string
	// Output is an NDJSON file, "-" for Stdout, or "" for a new file under
	// the configured data directory.
	Output string
	Stdout io.Writer
	// Stderr receives problems, progress and the summary.
	Stderr io.Writer
	// Progress draws a progress line on Stderr (when it is a terminal).
	Progress bool
	// Quiet leaves out the summary.
	Quiet bool
	// Detect, when set, runs the records stage after the worker: rules,
	// and optionally a baseline (see DetectOptions); nil writes records
	// only.
	Detect *DetectOptions
	// PcapStore, when set, is a pcap store directory (created if needed)
	// into which the replayed packets are also imported.
	PcapStore string
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	Output     string // where the records went
	Records    uint64
	Counters   worker.Counters
	Unreadable []string // inputs that could not be read at all
	Problems   int      // problems reported (files, first bad packet of each kind)
	Elapsed    time.Duration
	// Stage is the records stage when Detect was set: its alerts and
	// counters.
	Stage *Stage
}

// ErrInputsUnreadable is returned (wrapped) when some input could not be
// read at all; the others were still replayed.
var ErrInputsUnreadable = errors.New("some inputs could not be read")

// Replay reads capture files through the packet path and writes flow records
// and a final metric record as NDJSON. Problems with one input are reported
// on Stderr and the others are still replayed; the returned error wraps
// ErrInputsUnreadable when an input could not be read at all, and is another
// error when the output could not be written (records were lost).
func Replay(ctx context.Context, o ReplayOptions) (ReplayResult, error) {
	start := time.Now()
	var res ReplayResult
	cfg := o.Config
	src, err := sensor.OpenFiles(o.Files)
	if err != nil {
		res.Unreadable = o.Files
		return res, fmt.Errorf("%w: %w", ErrInputsUnreadable, err)
	}
	defer src.Close()

	out, path, err := openOutput(o, cfg)
	if err != nil {
		return res, err
	}
	res.Output = path
	obs := observer(cfg)
	sink, err := withElasticsearch(o, cfg, ndjson.New(out, path, obs), obs)
	if err != nil {
		return res, err
	}
	feed, err := openPcapFeed(o, cfg)
	if err != nil {
		sink.Close()
		return res, err
	}

	output, stage, err := detectStage(o, cfg, sink.Write)
	if err != nil {
		sink.Close()
		return res, err
	}
	res.Stage = stage
	parsers, err := all.Parsers(cfg.Protocols)
	if err != nil {
		return res, fmt.Errorf("protocols: %w", err)
	}
	w, err := worker.New(worker.Config{Flow: cfg.Flow, Internal: cfg.Networks.Internal, DeterministicIDs: true,
		Tap: feed.tap(), Parsers: parsers, Reassembly: cfg.Protocols.Reassembly}, src, output)
	if err != nil {
		sink.Close()
		return res, fmt.Errorf("%s: %w", cfg.File, err)
	}

	report := func(err error) {
		res.Problems++
		var fe *sensor.FileError
		if errors.As(err, &fe) && fe.Packet == 0 {
			res.Unreadable = append(res.Unreadable, fe.File)
		}
		clearLine(o)
		fmt.Fprintf(o.Stderr, "mamori replay: %v\n", err)
	}
	var bar *progress
	if o.Progress {
		bar = &progress{w: o.Stderr, src: src, start: start}
	}
	runErr := w.Run(ctx, report, bar.update)
	bar.done()
	if err := feed.finish(sink.Write, o.Stderr, o.Quiet); runErr == nil {
		runErr = err
	}

	if err := stage.finishReplay(); runErr == nil {
		runErr = err
	}
	if runErr == nil {
		runErr = sink.Write(stage.summary(w.Summary("replay_summary")))
	}
	if err := sink.Close(); runErr == nil {
		runErr = err
	}
	res.Records = sink.Records()
	res.Counters = w.Counters()
	res.Elapsed = time.Since(start)
	for _, name := range w.Undecodable() {
		res.Unreadable = append(res.Unreadable, name)
	}
	if !o.Quiet {
		printSummary(o.Stderr, &res, src.Stats(), w)
		stage.printAlerts(o.Stderr)
	}
	if runErr != nil {
		return res, fmt.Errorf("records lost: %w", runErr)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if len(res.Unreadable) > 0 {
		return res, fmt.Errorf("%w: %s", ErrInputsUnreadable, strings.Join(res.Unreadable, ", "))
	}
	return res, nil
}

func observer(cfg *config.Config) *event.Observer {
	host := cfg.Sensor.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	return &event.Observer{Hostname: host, Name: cfg.Sensor.Name, Version: Version, Namespace: cfg.Sensor.Namespace}
}

// openOutput opens the NDJSON destination: stdout, a named file, or a new
// file under the data directory (falling back to the user's data directory
// when the configured one cannot be created, e.g. when not running as root).
func openOutput(o ReplayOptions, cfg *config.Config) (io.Writer, string, error) {
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
	stem := strings.TrimSuffix(filepath.Base(o.Files[0]), filepath.Ext(o.Files[0]))
	name := fmt.Sprintf("%s-%s.ndjson", stem, time.Now().UTC().Format("20060102T150405Z"))
	dirs := []string{filepath.Join(cfg.Sensor.DataDir, "replay")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".local", "share", "mamori", "replay"))
	}
	var errs []error
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			errs = append(errs, err)
			continue
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return f, path, nil
	}
	return nil, "", fmt.Errorf("creating output under the data directory: %w", errors.Join(errs...))
}
