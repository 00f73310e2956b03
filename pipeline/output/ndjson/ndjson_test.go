package ndjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
)

// rec is a record of a chosen size.
type rec struct{ pad string }

func (r rec) Dataset() string { return "test" }
func (r rec) Time() time.Time { return time.Time{} }
func (r rec) AppendJSON(dst []byte, _ *event.Observer) []byte {
	return append(append(append(dst, `{"pad":"`...), r.pad...), `"}`...)
}

// chunks records each Write call.
type chunks struct {
	calls [][]byte
	fail  error
}

func (c *chunks) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.calls = append(c.calls, bytes.Clone(p))
	return len(p), nil
}

func TestWholeLinesInLargeWrites(t *testing.T) {
	var out chunks
	w := New(&out, "test", &event.Observer{})
	var want bytes.Buffer
	for i := range 3000 {
		r := rec{pad: strings.Repeat("x", i%700)}
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		want.Write(r.AppendJSON(nil, nil))
		want.WriteByte('\n')
	}
	if len(out.calls) == 0 {
		t.Fatal("nothing written before Flush: the buffer is unbounded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, c := range out.calls {
		if len(c) == 0 || c[len(c)-1] != '\n' {
			t.Fatalf("a write of %d bytes does not end a line", len(c))
		}
		if len(c) > bufferSize+1024 {
			t.Fatalf("a write of %d bytes: more than the buffer and one record", len(c))
		}
		got = append(got, c...)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("written bytes differ from the records' lines")
	}
	if w.Records() != 3000 || w.Bytes() != uint64(want.Len()) {
		t.Errorf("Records, Bytes = %d, %d; want 3000, %d", w.Records(), w.Bytes(), want.Len())
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("invalid line %q", line)
		}
	}
}

func TestErrorSticks(t *testing.T) {
	boom := errors.New("disk full")
	out := chunks{fail: boom}
	w := New(&out, "out.ndjson", &event.Observer{})
	var err error
	for i := 0; err == nil && i < 10000; i++ {
		err = w.Write(rec{pad: strings.Repeat("y", 500)})
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "out.ndjson") {
		t.Fatalf("err = %v, want the write error naming the file", err)
	}
	if err2 := w.Write(rec{}); !errors.Is(err2, boom) {
		t.Errorf("Write after an error = %v, want the same error", err2)
	}
	if err2 := w.Flush(); !errors.Is(err2, boom) {
		t.Errorf("Flush after an error = %v, want the same error", err2)
	}
}

// panicky panics halfway through its encoding, as a buggy record might.
type panicky struct{}

func (panicky) Dataset() string { return "test" }
func (panicky) Time() time.Time { return time.Time{} }
func (panicky) AppendJSON(dst []byte, _ *event.Observer) []byte {
	dst = append(dst, `{"half":`...)
	_ = dst
	panic("encoder bug")
}

func TestPanickingRecordLeavesNoPartialLine(t *testing.T) {
	var out chunks
	w := New(&out, "test", &event.Observer{})
	w.Write(rec{pad: "a"})
	func() {
		defer func() { recover() }()
		w.Write(panicky{})
	}()
	w.Write(rec{pad: "b"})
	w.Flush()
	if got := string(bytes.Join(out.calls, nil)); got != "{\"pad\":\"a\"}\n{\"pad\":\"b\"}\n" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	f := &event.Flow{Final: true, Reason: event.EndIdle, Transport: 6, ConnState: "SF", Interface: "eth0"}
	w := New(discard{}, "null", &event.Observer{Hostname: "sensor-1"})
	b.ReportAllocs()
	for b.Loop() {
		w.Write(f)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// WriteLine returns each record's line as written, also across the
// buffer's flushes.
func TestWriteLineReturnsTheLine(t *testing.T) {
	var out chunks
	obs := &event.Observer{}
	w := New(&out, "test", obs)
	if w.Observer() != obs {
		t.Fatal("Observer")
	}
	var want bytes.Buffer
	for i := range 500 {
		r := rec{pad: strings.Repeat("x", i*7%1000)}
		line, err := w.WriteLine(r)
		if err != nil {
			t.Fatal(err)
		}
		if enc := r.AppendJSON(nil, obs); !bytes.Equal(line, enc) {
			t.Fatalf("record %d: WriteLine gave %q, want %q", i, line, enc)
		}
		want.Write(line)
		want.WriteByte('\n')
	}
	w.Close()
	if got := bytes.Join(out.calls, nil); !bytes.Equal(got, want.Bytes()) || len(out.calls) < 2 {
		t.Fatalf("%d writes of %d bytes, want %d bytes in several writes", len(out.calls), len(got), want.Len())
	}
}
