package spool

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A reader that keeps up gets the documents from memory (the writer hands
// them over after writing them); they are in the segment files all the
// same, so a crash loses none that was not acknowledged.
func TestHandoffInMemoryThenCrash(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 2000
	var got []Entry
	for i := 0; i < n; i += 10 {
		for j := i; j < i+10; j++ {
			if !s.Put(doc(j), false) {
				t.Fatalf("put %d refused", j)
			}
		}
		for len(got) < i+10 {
			var err error
			if got, err = s.Read(ctx, got, 1000, 1<<20); err != nil {
				t.Fatal(err)
			}
		}
		// Check the data, then let the spool reuse its memory (a reader
		// that holds every entry holds every block: past maxPinned blocks
		// the records are read back from the file instead).
		if ns := numbers(t, got[i:]); !slices.Equal(ns, seq(i, i+10)) {
			t.Fatalf("order: %v", ns)
		}
		for _, e := range got[i:] {
			s.Release(e)
		}
	}
	st := s.Stats()
	if st.ReadMemory < n*9/10 {
		t.Fatalf("%d of %d documents handed over in memory, want nearly all: %+v", st.ReadMemory, n, st)
	}
	if len(segFiles(t, cfg.Dir)) < 2 {
		t.Fatal("the documents were not written to several segment files")
	}
	// Acknowledge the first half and the odd ones of the second, let the
	// cursor be written, and take the directory as a crash leaves it.
	acked := make([]bool, n)
	for i, e := range got {
		if i < n/2 || i%2 == 1 {
			s.Ack(e.Pos)
			acked[i] = true
		}
	}
	time.Sleep(10 * cfg.SyncInterval)
	snap := t.TempDir()
	ents, _ := os.ReadDir(cfg.Dir)
	for _, de := range ents {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, de.Name()))
		if err != nil {
			continue // deleted meanwhile
		}
		os.WriteFile(filepath.Join(snap, de.Name()), b, 0o640)
	}
	cfg2 := cfg
	cfg2.Dir = snap
	s2 := open(t, cfg2)
	var again []Entry
	for !s2.Empty() {
		k := len(again)
		var err error
		if again, err = s2.Read(ctx, again, 1000, 1<<20); err != nil {
			t.Fatal(err)
		}
		for _, e := range again[k:] {
			s2.Ack(e.Pos)
		}
	}
	var want []int
	for i := range n {
		if !acked[i] {
			want = append(want, i)
		}
	}
	if ns := numbers(t, again); !slices.Equal(ns, want) {
		t.Fatalf("after the crash: %d documents %v..., want the %d unacknowledged %v...", len(ns), ns[:min(5, len(ns))], len(want), want[:5])
	}
	if st := s2.Stats(); st.ReadMemory != 0 {
		t.Fatalf("documents of an earlier run handed over in memory: %+v", st)
	}
}

// An entry handed over in memory keeps its data until it is released, and
// released memory is reused: the blocks of a round that was read and
// released come back in the next rounds.
func TestHandoffReleaseReusesMemory(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentBytes, cfg.MaxBytes = 4<<20, 256<<20
	s := open(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	next := 0
	// round puts k documents, reads them and returns them.
	round := func(k int) []Entry {
		var es []Entry
		for range k {
			if !s.Put(doc(next), false) {
				t.Fatalf("put %d refused", next)
			}
			next++
		}
		for len(es) < k {
			var err error
			if es, err = s.Read(ctx, es, k-len(es), 1<<20); err != nil {
				t.Fatal(err)
			}
		}
		return es
	}
	kept := round(5) // held, never released: pins at most 5 blocks
	seen := map[*block]bool{}
	// How many documents are handed over rather than read back depends on
	// how the writer goroutine and the reader interleave (a segment change
	// while the reader is behind sends a round to the file), so the checks
	// count only rounds that were handed over, and the leak check looks at
	// the pinned blocks themselves.
	reused, eligible := 0, 0
	const rounds = 30
	for range rounds {
		es := round(2000)
		again, handed := false, false
		for _, e := range es {
			again = again || seen[e.blk]
			handed = handed || e.blk != nil
		}
		if handed && len(seen) > 0 {
			eligible++
			if again {
				reused++
			}
		}
		for _, e := range es {
			if e.blk != nil {
				seen[e.blk] = true
			}
			s.Ack(e.Pos)
			s.Release(e)
		}
	}
	numbers(t, kept) // still intact after the reuse
	st := s.Stats()
	if st.ReadMemory == 0 {
		t.Fatalf("none of %d documents was handed over in memory", st.Read)
	}
	// Every entry but the kept ones is released: only their blocks (and
	// the block being filled) may still be pinned. A leaked reference
	// would pin blocks for good and, at maxPinned, stop the handing over.
	keptBlocks := map[*block]bool{}
	for _, e := range kept {
		if e.blk != nil {
			keptBlocks[e.blk] = true
		}
	}
	s.mu.Lock()
	pinned := s.pinned
	s.mu.Unlock()
	if pinned > len(keptBlocks)+1 {
		t.Fatalf("%d blocks still pinned after every entry but %d kept (in %d blocks) was released: a reference leaks", pinned, len(kept), len(keptBlocks))
	}
	if eligible >= 4 && reused < eligible*3/4 {
		t.Errorf("only %d of %d handed-over rounds used a block released before: released blocks are not reused", reused, eligible)
	}
	t.Logf("%d of %d documents handed over in memory; %d of %d handed-over rounds reused a released block", st.ReadMemory, st.Read, reused, eligible)
}
