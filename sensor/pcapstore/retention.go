package pcapstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// retain deletes the oldest closed files while the store is over
// Config.MaxBytes, its file system has less than Config.MinFree free, or
// they are older than Config.MaxAge, skipping files a live pin holds.
// urgent (a write failed for lack of space) deletes at least the oldest
// unpinned file. Each deletion is written to the manifest first, then the
// files are removed.
func (w *Writer) retain(urgent bool) {
	now := w.opts.Now()
	pins, err := w.s.Pins()
	if err != nil {
		w.report("retention", pinsName, fmt.Errorf("reading pins (every file is kept): %w", err))
		return
	}
	var live []Pin
	for _, p := range pins {
		if p.Until.After(now) {
			live = append(live, p)
		}
	}
	total := w.c.storeBytes.Load()
	if w.f != nil {
		total += w.fsize
	}
	free := int64(-1)
	if w.cfg.MinFree > 0 {
		free = freeBytes(w.s.dir)
	}
	kept := 0
	deleted := false
	for i := 0; i < len(w.catalog); {
		e := w.catalog[i]
		reason := ""
		switch {
		case total > int64(w.cfg.MaxBytes):
			reason = "max_bytes"
		case free >= 0 && free < int64(w.cfg.MinFree):
			reason = "min_free"
		case w.cfg.MaxAge > 0 && now.Sub(e.written) > w.cfg.MaxAge:
			reason = "max_age"
		case urgent && !deleted:
			reason = "disk full"
		}
		if reason == "" {
			i++
			continue
		}
		if w.pinned(e, live) {
			kept++
			i++
			continue
		}
		if err := w.deleteFile(e, reason); err != nil {
			w.report("retention", e.name, err)
			i++
			continue
		}
		deleted = true
		total -= e.size
		if free >= 0 {
			free += e.size
		}
		w.catalog = append(w.catalog[:i], w.catalog[i+1:]...)
	}
	w.c.pinnedKept.Store(uint64(kept))
	over := total > int64(w.cfg.MaxBytes)
	if over && !w.retainWarn {
		w.report("retention", "", fmt.Errorf("store holds %d bytes, over max_bytes %s: %d files are pinned by alerts", total, w.cfg.MaxBytes, kept))
	}
	w.retainWarn = over
}

// pinned reports whether a live pin holds packets in file e. Files whose
// index cannot be read are kept.
func (w *Writer) pinned(e catEntry, pins []Pin) bool {
	for i := range pins {
		p := &pins[i]
		if e.last != 0 && (p.To.UnixNano() < e.first || p.From.UnixNano() > e.last) {
			continue
		}
		expr, err := ParseExpr(p.Expr)
		if err != nil {
			return true
		}
		n := &node{p: prim{kind: pAlert, alert: p.AlertID, pin: p, sub: expr.root}}
		ok, err := w.s.fileMayMatch(e.name, n)
		if err != nil || ok {
			return true
		}
	}
	return false
}

// deleteFile removes a closed file and its index, recording the deletion
// in the manifest first.
func (w *Writer) deleteFile(e catEntry, reason string) error {
	w.mseq++
	if _, err := w.s.appendManifest(ManifestEntry{Op: "delete", File: e.name, Reason: reason}, w.mseq); err != nil {
		w.mseq--
		return err
	}
	var errs []error
	for _, name := range []string{idxName(e.name), e.name} {
		if err := os.Remove(w.s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	w.c.filesDeleted.Add(1)
	w.c.storeBytes.Add(-e.size)
	w.c.storeFiles.Add(-1)
	return errors.Join(errs...)
}
