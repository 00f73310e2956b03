// Package prototest is the shared test harness of the protocol parsers:
// synthetic flows, feeding chunks to a parser as the dispatcher would,
// decode-twice / truncation / resegmentation checks, golden NDJSON, and
// replays of real captures through the real dispatcher.
//
// It is imported only by _test.go files.
package prototest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"mamori/internal/golden"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Chunk is one delivery to a session: Data in direction Dir, or, when Gap
// is positive, a gap of Gap bytes.
type Chunk struct {
	Dir  flow.Dir
	Data []byte
	Gap  int
	// At is the chunk's packet time; zero means 1 ms after the previous.
	At time.Time
}

// C is shorthand for a data chunk.
func C(d flow.Dir, data []byte) Chunk { return Chunk{Dir: d, Data: data} }

// Epoch is the time of the first chunk when none is given.
var Epoch = time.Date(2026, 4, 1, 3, 10, 0, 0, time.UTC)

// TCPInfo is a synthetic TCP flow from client to server ("10.0.0.1:50000").
func TCPInfo(client, server string) *flow.Info { return info(6, client, server) }

// UDPInfo is a synthetic UDP flow.
func UDPInfo(client, server string) *flow.Info { return info(17, client, server) }

func info(proto uint8, client, server string) *flow.Info {
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	in := &flow.Info{}
	in.Key.Proto = proto
	in.Key.IPv6 = c.Addr().Is6()
	in.Key.A, in.Key.B = c.Addr().As16(), s.Addr().As16()
	in.Key.PortA, in.Key.PortB = c.Port(), s.Port()
	in.Conn = event.Conn{Source: c, Destination: s, Transport: proto}
	in.Conn.FlowID = event.FlowID{0xf1, 0x0e}
	in.Conn.CommunityID = flow.CommunityID(0, &in.Key, false)
	return in
}

// ErrNoMatch is returned by Feed when the parser does not want the flow.
var ErrNoMatch = errors.New("prototest: parser did not match the first data chunk")

// Feed runs p over chunks the way the dispatcher does: Match on the first
// data chunk, then Payload/Gap for every chunk, then End. It returns the
// records emitted and the first error a session returned (after which, like
// the dispatcher, it stops feeding but still ends the session).
func Feed(p proto.Parser, f *flow.Info, chunks ...Chunk) ([]event.Record, error) {
	return feed(p, f, nil, chunks)
}

// feed is Feed with Match asked about first (when not nil) instead of the
// first data chunk: a re-segmented stream still matches the way the real
// first segment did, while its bytes arrive in small pieces.
func feed(p proto.Parser, f *flow.Info, first []byte, chunks []Chunk) ([]event.Record, error) {
	var recs []event.Record
	var sess proto.Session
	var err error
	at := Epoch
	for _, c := range chunks {
		if !c.At.IsZero() {
			at = c.At
		} else {
			at = at.Add(time.Millisecond)
		}
		if sess == nil {
			if c.Gap > 0 || len(c.Data) == 0 {
				continue
			}
			m := c.Data
			if first != nil {
				m = first
			}
			if !p.Match(f, c.Dir, m) {
				return nil, ErrNoMatch
			}
			sess = p.NewSession(f, func(r event.Record) { recs = append(recs, r) })
		}
		if c.Gap > 0 {
			sess.Gap(c.Dir, c.Gap)
			continue
		}
		if err = sess.Payload(c.Dir, at, c.Data); err != nil {
			break
		}
	}
	if sess != nil {
		sess.End(at, event.EndShutdown)
	}
	return recs, err
}

// Observer is the fixed observer of golden files.
var Observer = event.Observer{Hostname: "sensor-1", Name: "his-core-span", Version: "test", Namespace: "default"}

// NDJSON encodes records as ECS NDJSON with Observer.
func NDJSON(recs []event.Record) []byte {
	var b []byte
	for _, r := range recs {
		b = r.AppendJSON(b, &Observer)
		b = append(b, '\n')
	}
	return b
}

// Golden compares NDJSON(recs) with testdata/golden/<name>.ndjson beside
// the calling test; `go test -update` rewrites it.
func Golden(tb testing.TB, name string, recs []event.Record) {
	tb.Helper()
	_, file, _, _ := runtime.Caller(1)
	golden.Compare(tb, filepath.Join(filepath.Dir(file), "testdata", "golden", name+".ndjson"), NDJSON(recs))
}

// CheckRobust runs the properties every parser must have on chunks:
//   - decoding twice gives identical records (no hidden global state);
//   - cutting the stream short at every point (every byte for small
//     streams, 512 points otherwise) never panics;
//   - re-segmenting each direction's bytes (1-byte and 7-byte pieces, as
//     TCP may deliver them) gives the same records as the original chunks,
//     unless the parser is datagram-based (udp is true). Match is still
//     asked about the original first chunk, as the dispatcher would.
func CheckRobust(tb testing.TB, p proto.Parser, f *flow.Info, udp bool, chunks ...Chunk) {
	tb.Helper()
	r1, e1 := Feed(p, f, chunks...)
	r2, e2 := Feed(p, f, chunks...)
	if !bytes.Equal(NDJSON(r1), NDJSON(r2)) || fmt.Sprint(e1) != fmt.Sprint(e2) {
		tb.Fatalf("%s: decoding twice differs:\n%s\nvs\n%s", p.Name(), NDJSON(r1), NDJSON(r2))
	}
	total := 0
	for _, c := range chunks {
		total += len(c.Data)
	}
	step := 1
	if total > 4096 {
		step = total/512 + 1
	}
	for cut := 0; cut < total; cut += step {
		Feed(p, f, truncate(chunks, cut)...) // must not panic
	}
	if udp || e1 != nil {
		return
	}
	var first []byte
	for _, c := range chunks {
		if c.Gap == 0 && len(c.Data) > 0 {
			first = c.Data
			break
		}
	}
	for _, size := range []int{1, 7} {
		got, err := feed(p, f, first, resegment(chunks, size))
		if err != nil {
			tb.Errorf("%s: %d-byte segments: %v", p.Name(), size, err)
			continue
		}
		if a, b := NDJSON(r1), NDJSON(got); !bytes.Equal(a, b) {
			tb.Errorf("%s: %d-byte segments change the records:\n%s\nvs original\n%s", p.Name(), size, b, a)
		}
	}
}

func truncate(chunks []Chunk, cut int) []Chunk {
	var out []Chunk
	for _, c := range chunks {
		if cut <= 0 {
			break
		}
		if len(c.Data) > cut {
			c.Data = c.Data[:cut]
		}
		cut -= len(c.Data)
		out = append(out, c)
	}
	return out
}

// resegment splits every data chunk into pieces of size bytes, keeping the
// order of directions and each piece's time.
func resegment(chunks []Chunk, size int) []Chunk {
	var out []Chunk
	at := Epoch
	for _, c := range chunks {
		if !c.At.IsZero() {
			at = c.At
		} else {
			at = at.Add(time.Millisecond)
		}
		if c.Gap > 0 {
			c.At = at
			out = append(out, c)
			continue
		}
		for i := 0; i < len(c.Data); i += size {
			out = append(out, Chunk{Dir: c.Dir, Data: c.Data[i:min(i+size, len(c.Data))], At: at})
		}
	}
	return out
}
