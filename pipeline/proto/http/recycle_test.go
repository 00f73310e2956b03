package http

import (
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// TestRecycle: sessions taken from the pool (after End and Recycle) give
// the records fresh ones give, flow after flow, and no record shares
// memory with a recycled session: every record is written only after all
// flows ran (and a recycled session's buffers were overwritten by later
// flows).
func TestRecycle(t *testing.T) {
	var streams []prototest.Stream
	for _, c := range captures {
		if c.shared {
			continue
		}
		streams = append(streams, prototest.Streams(t, c.path(t))...)
	}
	prototest.CheckRecycle(t, mustNew(t, Config{}), mustNew(t, Config{}), streams, 50)
}

// TestPendingKeepsArray: answering requests one at a time reuses the
// pending table's array (no allocation per request for it).
func TestPendingKeepsArray(t *testing.T) {
	s := mustNew(t, Config{}).NewSession(prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:80"), func(event.Record) {}).(*Session)
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	for range 3 {
		s.Payload(0, prototest.Epoch, req)
		s.Payload(1, prototest.Epoch, resp)
	}
	if cap(s.pending) == 0 || len(s.pending) != 0 {
		t.Fatalf("pending len %d cap %d", len(s.pending), cap(s.pending))
	}
	array := &s.pending[:1][0]
	for range 3 {
		s.Payload(0, prototest.Epoch, req)
		s.Payload(1, prototest.Epoch, resp)
	}
	if &s.pending[:1][0] != array {
		t.Error("the pending table's array was replaced")
	}
}
