package event

import (
	"bytes"
	"slices"
	"sync/atomic"
	"time"
)

// Protocol records repeat long runs of constant bytes: the members from
// "ecs" to event.type depend only on the dataset, the namespace and the
// record's event.category and event.type, and observer/host only on the
// Observer and the interface. These caches keep each such run once, so that
// a record copies it instead of quoting every value again. Entries are
// found by content (never by a pointer a later value could reuse), are
// immutable once published, and are at most maxRuns per cache: past that a
// record writes the run itself, with the same bytes.

// maxRuns bounds each run cache (a sensor has a dozen datasets and a few
// interfaces).
const maxRuns = 64

// headRun is the run after @timestamp's value up to event.type's closing
// bracket, and the run ',"dataset":…,"module":"mamori"'.
type headRun struct {
	dataset, namespace string
	category, typ      []string // as given: nil means the default
	head, module       []byte
}

// observerRun is appendObserver's output for one Observer and interface.
type observerRun struct {
	o     Observer
	iface string
	b     []byte
}

var (
	headRuns     atomic.Pointer[[]*headRun]
	observerRuns atomic.Pointer[[]*observerRun]
)

// protoHeadRun returns the cached runs for a record of dataset with b's
// category and type written by an observer with namespace ns, or nil when
// they are not cached and the cache is full.
func protoHeadRun(dataset, ns string, category, typ []string) *headRun {
	p := headRuns.Load()
	if p != nil {
		if len(*p) >= maxRuns {
			return lookupHead(*p, dataset, ns, category, typ)
		}
		if e := lookupHead(*p, dataset, ns, category, typ); e != nil {
			return e
		}
	}
	e := &headRun{dataset: dataset, namespace: ns, category: slices.Clone(category), typ: slices.Clone(typ)}
	o := Observer{Namespace: ns}
	h := appendHeader(nil, &o, time.Unix(0, 0), "logs", dataset)
	// appendHeader wrote "@timestamp":"<time>","ecs"…: keep from the
	// quote that closes the time on.
	h = h[bytes.Index(h, []byte(`","ecs":`)):]
	h = append(h, `,"event":{"kind":"event","category":`...)
	h = appendCategory(h, category, `["network"]`)
	h = append(h, `,"type":`...)
	h = appendCategory(h, typ, `["protocol"]`)
	e.head = h
	m := AppendQuoted([]byte(`,"dataset":`), dataset)
	e.module = append(m, `,"module":"mamori"`...)
	publish(&headRuns, e)
	return e
}

func lookupHead(list []*headRun, dataset, ns string, category, typ []string) *headRun {
	for _, e := range list {
		if e.dataset == dataset && e.namespace == ns && slices.Equal(e.category, category) && slices.Equal(e.typ, typ) {
			return e
		}
	}
	return nil
}

// appendCategory appends ss as an array, or def when ss is empty.
func appendCategory(b []byte, ss []string, def string) []byte {
	if len(ss) > 0 {
		return appendStrings(b, ss)
	}
	return append(b, def...)
}

// appendObserverRun is appendObserver from the cache.
func appendObserverRun(b []byte, o *Observer, iface string) []byte {
	p := observerRuns.Load()
	if p != nil {
		for _, e := range *p {
			if e.o == *o && e.iface == iface {
				return append(b, e.b...)
			}
		}
		if len(*p) >= maxRuns {
			return appendObserver(b, o, iface)
		}
	}
	n := len(b)
	b = appendObserver(b, o, iface)
	publish(&observerRuns, &observerRun{o: *o, iface: iface, b: append([]byte(nil), b[n:]...)})
	return b
}

// publish adds e to the cache at p unless it is full.
func publish[T any](p *atomic.Pointer[[]*T], e *T) {
	for {
		old := p.Load()
		var list []*T
		if old != nil {
			list = *old
		}
		if len(list) >= maxRuns {
			return
		}
		next := append(slices.Clip(list), e)
		if p.CompareAndSwap(old, &next) {
			return
		}
	}
}
