package service

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/sensor"
)

// fakeSource returns its packets, then io.EOF. A packet with no data is an
// idle tick.
type fakeSource struct {
	pkts []fakePkt
	i    int
}

type fakePkt struct {
	data []byte
	ci   gopacket.CaptureInfo
}

func (f *fakeSource) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if f.i == len(f.pkts) {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	p := f.pkts[f.i]
	f.i++
	return p.data, p.ci, nil
}

func (f *fakeSource) LinkType(int) layers.LinkType { return layers.LinkTypeEthernet }
func (f *fakeSource) Interface(int) string         { return "fake0" }
func (f *fakeSource) Stats() sensor.Stats          { return sensor.Stats{} }
func (f *fakeSource) Close() error                 { return nil }

// stored collects what the queue appends.
type stored struct {
	mu   sync.Mutex
	pkts []fakePkt
	gate chan struct{} // when set, each append waits for a token
}

func (s *stored) append(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
	if s.gate != nil {
		<-s.gate
	}
	if link != layers.LinkTypeEthernet {
		panic(fmt.Sprintf("link type %v", link))
	}
	s.mu.Lock()
	s.pkts = append(s.pkts, fakePkt{bytes.Clone(data), ci})
	s.mu.Unlock()
}

func (s *stored) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pkts)
}

func packets(n int, base time.Time, gap time.Duration, size int) []fakePkt {
	var ps []fakePkt
	for i := range n {
		d := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, size/2)
		ps = append(ps, fakePkt{d, gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * gap), CaptureLength: len(d), Length: len(d) + 4}})
	}
	return ps
}

// drain reads src to its end, as a worker does; the data must be what the
// underlying source returned.
func drain(src sensor.Source, want []fakePkt) error {
	for i := 0; ; i++ {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err == io.EOF {
			return nil
		}
		if !bytes.Equal(data, want[i].data) || !ci.Timestamp.Equal(want[i].ci.Timestamp) || ci.Length != want[i].ci.Length {
			return fmt.Errorf("packet %d changed on its way through the store's source", i)
		}
	}
}

// Every packet of every worker reaches the store, each worker's in order,
// with its time and lengths; idle ticks are not stored.
func TestStoreQueueOrder(t *testing.T) {
	var st stored
	q := newStoreQueue(st.append)
	base := time.Unix(1700000000, 0)
	a := packets(3000, base, time.Millisecond, 300) // several chunks
	b := packets(500, base, time.Microsecond, 1514)
	b = append(b[:250:250], append([]fakePkt{{nil, gopacket.CaptureInfo{Timestamp: base.Add(time.Second)}}}, b[250:]...)...) // a tick
	srcA, srcB := q.source(&fakeSource{pkts: a}), q.source(&fakeSource{pkts: b})
	var wg sync.WaitGroup
	wg.Add(2)
	errs := make([]error, 2)
	go func() { defer wg.Done(); errs[0] = drain(srcA, a) }()
	go func() { defer wg.Done(); errs[1] = drain(srcB, b) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := q.close(); n != 0 {
		t.Fatalf("%d packets not stored, want 0", n)
	}
	var gotA, gotB []fakePkt
	for _, p := range st.pkts {
		if len(p.data) == 300 {
			gotA = append(gotA, p)
		} else {
			gotB = append(gotB, p)
		}
	}
	check := func(name string, got, want []fakePkt) {
		var w []fakePkt
		for _, p := range want {
			if len(p.data) > 0 {
				w = append(w, p)
			}
		}
		if len(got) != len(w) {
			t.Fatalf("%s: %d packets stored, want %d", name, len(got), len(w))
		}
		for i := range w {
			if !bytes.Equal(got[i].data, w[i].data) || !got[i].ci.Timestamp.Equal(w[i].ci.Timestamp) ||
				got[i].ci.Length != w[i].ci.Length || got[i].ci.CaptureLength != len(w[i].data) {
				t.Fatalf("%s: stored packet %d differs: %v, want %v", name, i, got[i].ci, w[i].ci)
			}
		}
	}
	check("worker a", gotA, a)
	check("worker b", gotB, b)
}

// A store that cannot keep up costs stored packets, counted, and never
// holds up the worker.
func TestStoreQueueFull(t *testing.T) {
	st := stored{gate: make(chan struct{})}
	q := newStoreQueue(st.append)
	const size = 1000
	n := (storeChunkMax + 8) * (storeChunkBytes / size) // more than every chunk holds
	pkts := packets(n, time.Unix(1700000000, 0), time.Microsecond, size)
	done := make(chan error)
	go func() { done <- drain(q.source(&fakeSource{pkts: pkts}), pkts) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker waited for the store")
	}
	lost := q.notStored()
	if lost == 0 {
		t.Fatal("no packets counted as not stored")
	}
	close(st.gate) // the store catches up
	if got := q.close(); got != lost {
		t.Errorf("close reports %d not stored, the queue counted %d", got, lost)
	}
	if uint64(st.len())+lost != uint64(n) {
		t.Errorf("%d stored + %d not stored, want %d", st.len(), lost, n)
	}
}

// A chunk goes to the store once it holds a second of packet time, or on
// an idle tick, without waiting to fill up.
func TestStoreQueueAge(t *testing.T) {
	var st stored
	q := newStoreQueue(st.append)
	base := time.Unix(1700000000, 0)
	pkts := []fakePkt{
		{[]byte{1, 2, 3, 4}, gopacket.CaptureInfo{Timestamp: base, CaptureLength: 4, Length: 4}},
		{[]byte{5, 6, 7, 8}, gopacket.CaptureInfo{Timestamp: base.Add(storeChunkAge + time.Millisecond), CaptureLength: 4, Length: 4}},
		{nil, gopacket.CaptureInfo{Timestamp: base.Add(3 * time.Second)}}, // idle tick
		{[]byte{9}, gopacket.CaptureInfo{Timestamp: base.Add(4 * time.Second), CaptureLength: 1, Length: 1}},
	}
	src := q.source(&fakeSource{pkts: pkts})
	want := []int{0, 1, 2} // stored after each read
	for i, w := range want {
		if _, _, err := src.ZeroCopyReadPacketData(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for st.len() != w && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if st.len() != w {
			t.Fatalf("after read %d: %d packets stored, want %d", i+1, st.len(), w)
		}
	}
	if n := q.close(); n != 0 || st.len() != 2 {
		t.Fatalf("after close: %d stored, %d not stored; want the 2 read before the tick", st.len(), n)
	}
}
