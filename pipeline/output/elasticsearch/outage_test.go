package elasticsearch

import (
	"context"
	"testing"
	"time"
)

// TestOutage: the cluster is down, then answers 429s (whole requests and
// items), then is healthy; the sensor restarts in the middle. Every flow
// and alert arrives exactly once (alerts re-sent are 409s), and the spools
// shrink to nothing.
func TestOutage(t *testing.T) {
	f := newFakeES(t)
	f.down()
	cfg := testCfg(t, f.URL())
	o := newOutput(t, cfg)

	const flows, alerts = 3000, 60
	write := func(o *Output, from, to int) {
		for i := from; i < to; i++ {
			o.Write(mkFlow(i))
			if i%(flows/alerts) == 0 {
				o.Write(mkAlert(i))
			}
		}
	}
	// Down: everything goes to the spool.
	write(o, 0, 1000)
	time.Sleep(200 * time.Millisecond)

	// 429s: whole requests first, then some items.
	rejected := recorded(t, "request_429_go-elasticsearch_573.json")
	f.mu.Lock()
	start := f.requests
	f.mu.Unlock()
	f.setPlan(func(n int) reply {
		if n-start <= 15 {
			return reply{status: 429, body: rejected}
		}
		return reply{}
	})
	f.setItemPlan(func(doc []byte, try int) itemKind {
		if len(doc)%3 == 0 && try == 1 {
			return itemRejected
		}
		return itemCreated
	})
	f.up()
	write(o, 1000, 2000)
	time.Sleep(150 * time.Millisecond)

	// Restart in the middle: whatever was not acknowledged stays spooled.
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	mid := o.Stats()
	o2 := newOutput(t, cfg)
	if fr, ar := o2.Recovered(); len(fr.Problems)+len(ar.Problems) != 0 {
		t.Fatalf("restart found problems: %v %v", fr.Problems, ar.Problems)
	}
	write(o2, 2000, flows)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o2.Drain(ctx); err != nil {
		t.Fatalf("%v: %s %+v", err, f, o2.Stats())
	}

	got := f.created()
	for i := range flows {
		if n := got[encode(mkFlow(i))]; n != 1 {
			t.Fatalf("flow %d created %d times", i, n)
		}
		if i%(flows/alerts) == 0 {
			if n := got[encode(mkAlert(i))]; n != 1 {
				t.Fatalf("alert %d created %d times", i, n)
			}
		}
	}
	if len(got) != flows+alerts {
		t.Fatalf("%d documents, want %d", len(got), flows+alerts)
	}
	st := o2.Stats()
	if mid.Flows.RequestFails == 0 || st.Flows.Retried+mid.Flows.Retried == 0 {
		t.Fatalf("the outage was not seen: before restart %+v, after %+v", mid.Flows, st.Flows)
	}
	// The spools shrink to nothing once the active segments are retired.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st = o2.Stats()
		if st.Flows.Spool.DiskBytes == 0 && st.Alerts.Spool.DiskBytes == 0 && st.Flows.Spool.Segments+st.Alerts.Spool.Segments == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool did not shrink: %+v %+v", st.Flows.Spool, st.Alerts.Spool)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
