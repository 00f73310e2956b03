// Package ndjson writes records as newline-delimited ECS JSON, one object a
// line, the format Elasticsearch's bulk API, Filebeat and jq all read.
//
// A Writer is not safe for concurrent use.
package ndjson

import (
	"bufio"
	"fmt"
	"io"

	"mamori/pipeline/event"
	"mamori/pipeline/output"
)

// Writer encodes records into a buffered writer.
type Writer struct {
	w       io.Writer
	bw      *bufio.Writer
	buf     []byte
	obs     *event.Observer
	name    string
	records uint64
	bytes   uint64
	err     error
}

var _ output.Sink = (*Writer)(nil)

// New returns a Writer onto w; name is used in error messages (a file
// name, or "stdout").
func New(w io.Writer, name string, obs *event.Observer) *Writer {
	return &Writer{w: w, bw: bufio.NewWriterSize(w, 256<<10), buf: make([]byte, 0, 4096), obs: obs, name: name}
}

// Write encodes r and appends it as one line. After the first write error
// every call returns that error: records are never dropped silently.
func (w *Writer) Write(r event.Record) error {
	if w.err != nil {
		return w.err
	}
	w.buf = append(r.AppendJSON(w.buf[:0], w.obs), '\n')
	if _, err := w.bw.Write(w.buf); err != nil {
		w.err = fmt.Errorf("writing %s: %w", w.name, err)
		return w.err
	}
	w.records++
	w.bytes += uint64(len(w.buf))
	return nil
}

// Flush writes buffered lines out.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("writing %s: %w", w.name, err)
	}
	return w.err
}

// Close flushes, then closes the underlying writer if it is an io.Closer.
func (w *Writer) Close() error {
	err := w.Flush()
	if c, ok := w.w.(io.Closer); ok {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", w.name, cerr)
		}
	}
	return err
}

// Records is the number of records written so far; Bytes their size.
func (w *Writer) Records() uint64 { return w.records }

// Bytes is the number of bytes written so far.
func (w *Writer) Bytes() uint64 { return w.bytes }
