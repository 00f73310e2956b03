package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/prefixset"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/dispatch"
	"mamori/sensor"
)

// Config is what a Worker needs besides its source and output.
type Config struct {
	Flow flow.Config
	// Internal lists the site's own networks, for network.direction. Empty
	// means the RFC 1918, RFC 4193 and link-local ranges.
	Internal []netip.Prefix
	// DeterministicIDs makes flow.id depend only on the flow, so that two
	// runs over the same packets agree (replays, goldens).
	DeterministicIDs bool
	// Tap, when set, sees every packet read from the source before it is
	// decoded (the pcap store's feed). data is valid only during the call;
	// link is the packet's link type.
	Tap func(data []byte, ci gopacket.CaptureInfo, link layers.LinkType)
	// Parsers are the application-protocol parsers, in match order
	// (pipeline/proto/all builds them); none means flows only.
	Parsers []proto.Parser
	// Reassembly bounds the TCP reassembly that feeds the parsers.
	Reassembly dispatch.Config
	// Kernel, when set, gives the counts of packets the capture path cut
	// off (eBPF cutoff of bulk flows), so flow records stay exact.
	Kernel flow.Kernel
}

// DefaultInternal is used when Config.Internal is empty.
var DefaultInternal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// Counters are a Worker's per-packet outcomes.
type Counters struct {
	Packets         uint64 // packets read from the source
	Bytes           uint64 // their wire bytes
	IP              uint64 // IPv4 and IPv6 packets accounted to flows
	ARP             uint64
	OtherL3         uint64 // other EtherTypes (LLDP, STP, …): counted, not decoded
	Truncated       uint64 // decode errors: header cut short
	Malformed       uint64 // decode errors: impossible header
	UnsupportedLink uint64 // packets of a link type we cannot decode
	FileErrors      uint64 // inputs that failed (see sensor.FileError)
	First, Last     time.Time
	// Backward counts packets whose time is earlier than a packet read
	// before them, and MaxBackward is the largest such step. Flows, their
	// timeouts and the rules run on packet time and assume it moves
	// forward: a capture written out of order (one conversation after
	// another) is reported, and should be put in order (reordercap).
	Backward    uint64
	MaxBackward time.Duration
}

// DecodeErrors is the sum of per-packet decode errors.
func (c *Counters) DecodeErrors() uint64 { return c.Truncated + c.Malformed + c.UnsupportedLink }

// Output receives every record. The record is valid only during the call.
type Output func(event.Record) error

// Worker is one packet path. See the package documentation.
type Worker struct {
	src   sensor.Source
	out   Output
	dec   *decode.Decoder
	table *flow.Table
	apps  *dispatch.Dispatcher // nil without parsers
	pkt   decode.Packet
	c     Counters

	internal prefixset.Set
	links    []layers.LinkType // by interface index, cached from src
	names    []string
	reported map[reportKey]bool
	ifOK     []uint64 // packets decoded, by interface
	ifBad    []uint64 // packets of an unsupported link type, by interface
	report   func(error)
	outErr   error
	tap      func([]byte, gopacket.CaptureInfo, layers.LinkType)
}

type reportKey struct {
	ifIndex int
	err     error
}

// New builds a Worker reading src and writing records to out.
func New(cfg Config, src sensor.Source, out Output) (*Worker, error) {
	w := &Worker{src: src, out: out, dec: decode.New(), reported: map[reportKey]bool{}, tap: cfg.Tap}
	internal := cfg.Internal
	if len(internal) == 0 {
		internal = DefaultInternal
	}
	w.internal = prefixset.New(internal)
	t, err := flow.New(cfg.Flow, w.emitFlow)
	if err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	if cfg.DeterministicIDs {
		t.SetDeterministicIDs()
	}
	w.table = t
	if cfg.Kernel != nil {
		t.SetKernel(cfg.Kernel)
	}
	if len(cfg.Parsers) > 0 {
		d, err := dispatch.New(cfg.Reassembly, cfg.Parsers, t, w.emitRecord, w.decorate)
		if err != nil {
			return nil, fmt.Errorf("reassembly: %w", err)
		}
		w.apps = d
		t.SetHook(d)
	}
	return w, nil
}

// Run reads the source to its end (io.EOF) or until ctx is done, then writes
// the final record of every remaining flow. report receives, once per kind
// and input, the problems worth a person's attention (a file that could not
// be read, a link type we cannot decode, the first malformed packet); it may
// be nil. progress, if not nil, is called every 65,536 packets.
//
// Run returns an error only when the output failed (a full disk, a closed
// pipe): then records were lost, and the error says so.
func (w *Worker) Run(ctx context.Context, report func(error), progress func(*Counters)) error {
	if report == nil {
		report = func(error) {}
	}
	w.report = report
	// A source that hands out its capture info by reference (a file
	// replay) saves the copy of it per packet.
	ref, _ := w.src.(interface {
		ReadPacketInfo() ([]byte, *gopacket.CaptureInfo, error)
	})
	var own gopacket.CaptureInfo
	for {
		var data []byte
		var ci *gopacket.CaptureInfo
		var err error
		if ref != nil {
			data, ci, err = ref.ReadPacketInfo()
		} else {
			data, own, err = w.src.ZeroCopyReadPacketData()
			ci = &own
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			w.c.FileErrors++
			report(err)
			var fe *sensor.FileError
			if errors.As(err, &fe) {
				continue // that input is dropped; the others go on
			}
			break // a live source that failed: stop and flush
		}
		if len(data) == 0 && ci.Length == 0 {
			// An idle tick from a live source (sensor.Source): packet
			// time moves on without a packet, so quiet flows expire.
			w.table.Advance(ci.Timestamp.UnixNano())
			if progress != nil {
				progress(&w.c)
			}
			if ctx.Err() != nil || w.outErr != nil {
				break
			}
			continue
		}
		if w.tap != nil {
			w.tap(data, *ci, w.linkType(ci.InterfaceIndex))
		}
		w.packet(data, ci.Timestamp, ci.Length, ci.InterfaceIndex)
		if w.c.Packets&0xffff == 0 {
			if progress != nil {
				progress(&w.c)
			}
			if ctx.Err() != nil || w.outErr != nil {
				break
			}
		}
	}
	w.table.Flush(event.EndShutdown)
	return w.outErr
}

func (w *Worker) packet(data []byte, at time.Time, wireLen, ifIndex int) {
	if wireLen < len(data) {
		wireLen = len(data)
	}
	w.c.Packets++
	w.c.Bytes += uint64(wireLen)
	if w.c.First.IsZero() || at.Before(w.c.First) {
		w.c.First = at
	}
	if at.After(w.c.Last) {
		w.c.Last = at
	} else if back := w.c.Last.Sub(at); back > 0 {
		w.backward(back)
	}
	ts := at.UnixNano()
	err := w.dec.Decode(data, w.linkType(ifIndex), &w.pkt)
	if err != nil {
		switch {
		case errors.Is(err, decode.ErrUnsupportedLink):
			w.c.UnsupportedLink++
			if ifIndex >= 0 {
				w.ifBad = count(w.ifBad, ifIndex)
			}
		case errors.Is(err, decode.ErrTruncated):
			w.c.Truncated++
		default:
			w.c.Malformed++
		}
		w.reportOnce(ifIndex, err)
		w.table.Advance(ts)
		return
	}
	if ifIndex >= 0 {
		w.ifOK = count(w.ifOK, ifIndex)
	}
	switch w.pkt.Net {
	case decode.NetIPv4, decode.NetIPv6:
		w.c.IP++
	case decode.NetARP:
		w.c.ARP++
	default:
		w.c.OtherL3++
	}
	w.table.Packet(&w.pkt, ts, wireLen, ifIndex)
}

// linkType caches the source's link type per interface.
func (w *Worker) linkType(i int) layers.LinkType {
	if i >= 0 && i < len(w.links) {
		return w.links[i]
	}
	for len(w.links) <= i {
		n := len(w.links)
		w.links = append(w.links, w.src.LinkType(n))
		w.names = append(w.names, w.src.Interface(n))
	}
	if i < 0 {
		return w.src.LinkType(i)
	}
	return w.links[i]
}

func (w *Worker) iface(i int) string {
	if i >= 0 && i < len(w.names) {
		return w.names[i]
	}
	return w.src.Interface(i)
}

// backwardReport is the step back in packet time that is reported (once
// per run) rather than only counted: capture timestamps jitter by far
// less, a capture written one conversation after another by far more.
const backwardReport = time.Second

// backward counts a packet earlier than the latest one and reports the
// first large step back.
func (w *Worker) backward(back time.Duration) {
	w.c.Backward++
	if back <= w.c.MaxBackward {
		return
	}
	first := w.c.MaxBackward < backwardReport
	w.c.MaxBackward = back
	if !first || back < backwardReport {
		return
	}
	err := fmt.Errorf("packet time goes back %v: the capture is not in time order, and flows, their timeouts and the rules assume it is; "+
		"put it in order first (reordercap IN OUT); later steps back are only counted", back.Round(time.Millisecond))
	if p, ok := w.src.(interface{ Position() (string, int) }); ok {
		file, n := p.Position()
		err = &sensor.FileError{File: file, Packet: max(n, 1), Err: err}
	}
	w.report(err)
}

// reportOnce tells the caller about the first decode error of each kind on
// each interface, with the file and packet index when the source knows them.
func (w *Worker) reportOnce(ifIndex int, err error) {
	k := reportKey{ifIndex, err}
	if w.reported[k] {
		return
	}
	w.reported[k] = true
	if errors.Is(err, decode.ErrUnsupportedLink) {
		err = fmt.Errorf("%w %d (%s): its packets are counted, not decoded", err, uint16(w.linkType(ifIndex)), w.linkType(ifIndex))
	} else {
		err = fmt.Errorf("%w (first of its kind here; later ones are only counted)", err)
	}
	if p, ok := w.src.(interface{ Position() (string, int) }); ok {
		file, n := p.Position()
		err = &sensor.FileError{File: file, Packet: n, Err: err}
	}
	w.report(err)
}

// emitFlow completes a flow record with what only the worker knows and
// passes it on.
func (w *Worker) emitFlow(f *event.Flow, ifIndex int) {
	f.Interface = w.iface(ifIndex)
	f.Direction = direction(&w.internal, f.Source.IP, f.Destination.IP)
	if w.outErr != nil {
		return
	}
	if err := w.out(f); err != nil {
		w.outErr = err
	}
}

// decorate completes a flow's description for protocol records.
func (w *Worker) decorate(in *flow.Info) {
	in.Conn.Interface = w.iface(in.IfIndex)
	in.Conn.Direction = direction(&w.internal, in.Conn.Source.Addr(), in.Conn.Destination.Addr())
}

// emitRecord passes a protocol record on.
func (w *Worker) emitRecord(r event.Record) {
	if w.outErr != nil {
		return
	}
	if err := w.out(r); err != nil {
		w.outErr = err
	}
}

// ProtoCounters returns the protocol layer's counters; ok is false when the
// worker runs no parsers.
func (w *Worker) ProtoCounters() (c dispatch.Counters, ok bool) {
	if w.apps == nil {
		return c, false
	}
	return w.apps.Counters(), true
}

func direction(internal *prefixset.Set, src, dst netip.Addr) string {
	switch s, d := internal.Contains(src), internal.Contains(dst); {
	case s && d:
		return "internal"
	case s:
		return "outbound"
	case d:
		return "inbound"
	}
	return "external"
}

func count(s []uint64, i int) []uint64 {
	for len(s) <= i {
		s = append(s, 0)
	}
	s[i]++
	return s
}

// Undecodable lists the interfaces (for a replay: the files) none of whose
// packets could be decoded because of their link type.
func (w *Worker) Undecodable() []string {
	var names []string
	for i, n := range w.ifBad {
		if n > 0 && (i >= len(w.ifOK) || w.ifOK[i] == 0) {
			names = append(names, w.iface(i))
		}
	}
	return names
}

// Counters returns the worker's counters so far.
func (w *Worker) Counters() Counters { return w.c }

// FlowStats returns the flow table's counters.
func (w *Worker) FlowStats() flow.Stats { return w.table.Stats() }

// Summary is the end-of-run metric record: every counter of the run.
func (w *Worker) Summary(action string) *event.Metric {
	c, f, s := w.c, w.table.Stats(), w.src.Stats()
	v := func(name string, x uint64) event.MetricValue { return event.MetricValue{Name: name, Value: x} }
	m := &event.Metric{
		At: c.Last, Start: c.First, Action: action,
		Groups: []event.MetricGroup{
			{Name: "capture", Values: []event.MetricValue{
				v("packets", c.Packets), v("bytes", c.Bytes), v("kernel_drops", s.KernelDrops),
				v("files", uint64(s.Files)), v("files_failed", uint64(s.FilesFailed)),
			}},
			{Name: "decode", Values: []event.MetricValue{
				v("ip", c.IP), v("arp", c.ARP), v("other_l3", c.OtherL3), v("errors", c.DecodeErrors()),
				v("truncated", c.Truncated), v("malformed", c.Malformed), v("unsupported_link", c.UnsupportedLink),
				v("time_backward", c.Backward), v("time_backward_max_ms", uint64(c.MaxBackward/time.Millisecond)),
			}},
			{Name: "flow", Values: []event.MetricValue{
				v("created", f.Created), v("records", f.Records), v("interim", f.Interim), v("evicted", f.Evicted),
				v("fragments_attributed", f.FragAttributed), v("fragments_orphaned", f.FragOrphans),
			}},
		},
	}
	if w.apps != nil {
		m.Groups = append(m.Groups, protoGroups(w.apps)...)
	}
	return m
}

// protoGroups are the protocol layer's metric groups: reassembly, and per
// parser sessions, records and malformed messages by reason.
func protoGroups(d *dispatch.Dispatcher) []event.MetricGroup {
	c := d.Counters()
	v := func(name string, x uint64) event.MetricValue { return event.MetricValue{Name: name, Value: x} }
	re := event.MetricGroup{Name: "reassembly", Values: []event.MetricValue{
		v("bytes", c.Bytes), v("overlap_bytes", c.Overlap), v("gaps", c.Gaps), v("gap_bytes", c.GapBytes),
		v("buffered_bytes", c.Buffered), v("buffered_peak_bytes", c.BufferedHi), v("overflows", c.Overflows),
		v("unmatched_flows", c.Unmatched), v("parser_panics", c.Panics),
	}}
	pg := event.MetricGroup{Name: "proto"}
	for i, p := range d.Parsers() {
		pg.Values = append(pg.Values, v(p.Name()+"_sessions", c.Sessions[i]), v(p.Name()+"_records", c.Records[i]))
	}
	groups := []event.MetricGroup{re, pg}
	if len(c.Malformed) > 0 {
		mg := event.MetricGroup{Name: "malformed"}
		keys := make([]dispatch.MalformedKey, 0, len(c.Malformed))
		for k := range c.Malformed {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b dispatch.MalformedKey) int {
			return strings.Compare(a.Parser+"\x00"+a.Reason, b.Parser+"\x00"+b.Reason)
		})
		for _, k := range keys {
			mg.Values = append(mg.Values, v(k.Parser+"_"+metricName(k.Reason), c.Malformed[k]))
		}
		groups = append(groups, mg)
	}
	return groups
}

// metricName turns a reason such as "bad header length" into a field name.
func metricName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
