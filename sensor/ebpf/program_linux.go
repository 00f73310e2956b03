package ebpf

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"mamori/sensor"
)

// Program is the loaded flow counter: the socket filter, its flow map and
// its settings. One Program is shared by every capture socket of a fanout
// group; each packet reaches exactly one socket, so it is counted once.
//
// A Program is safe for concurrent use.
type Program struct {
	objs   bpfObjects
	cfg    Config
	limits limits

	mu     sync.Mutex // guards closed
	closed bool
}

// Option changes how Load loads the program.
type Option func(*options)

type options struct {
	testRun bool
}

// forTestRun makes byte counts right for BPF_PROG_TEST_RUN (prog.Run),
// which hands a socket filter the packet from its network header on.
func forTestRun() Option { return func(o *options) { o.testRun = true } }

// Load loads the program and fills its settings from cfg. It needs
// CAP_BPF (or root); an error wrapping sensor.ErrNotSupported means the
// kernel cannot run it (too old, BPF disabled, no permission).
func Load(cfg Config, opts ...Option) (*Program, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Disabled {
		return nil, errors.New("loading flow counter: disabled in the configuration")
	}
	spec, err := loadBpf()
	if err != nil {
		return nil, fmt.Errorf("loading flow counter: %w", err)
	}
	spec.Maps[bpfMapFlows].MaxEntries = uint32(cfg.MaxFlows)
	p := &Program{cfg: cfg, limits: newLimits(cfg)}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("loading flow counter: %w: %w", sensor.ErrNotSupported, err)
		}
		return nil, fmt.Errorf("loading flow counter: %w", err)
	}
	set := bpfConfig{Cutoff: cfg.Cutoff.bytes(), Snaplen: 0x7fffffff}
	if o.testRun {
		set.LenAdjust = 14
	}
	if err := p.objs.Settings.Put(uint32(0), set); err != nil {
		p.objs.Close()
		return nil, fmt.Errorf("writing flow counter settings: %w", err)
	}
	for port, v := range p.limits.ports {
		if err := p.objs.CutoffPorts.Put(port, v); err != nil {
			p.objs.Close()
			return nil, fmt.Errorf("writing cutoff for port %d: %w", port, err)
		}
	}
	for host, v := range p.limits.hosts {
		k := Key{A: host}
		if err := p.objs.CutoffHosts.Put(k.kernel().A, v); err != nil {
			p.objs.Close()
			return nil, fmt.Errorf("writing cutoff for host: %w", err)
		}
	}
	return p, nil
}

// SetSnaplen makes passing packets copy at most n bytes to user space
// (0 means whole packets). Call it before attaching.
func (p *Program) SetSnaplen(n int) error {
	var set bpfConfig
	if err := p.objs.Settings.Lookup(uint32(0), &set); err != nil {
		return fmt.Errorf("reading flow counter settings: %w", err)
	}
	set.Snaplen = 0x7fffffff
	if n > 0 {
		set.Snaplen = uint32(n)
	}
	if err := p.objs.Settings.Put(uint32(0), set); err != nil {
		return fmt.Errorf("writing flow counter settings: %w", err)
	}
	return nil
}

// Attach attaches the program to a packet socket (SO_ATTACH_BPF). Attach
// before binding the socket, so that no packet is copied unfiltered. The
// attachment ends when the socket is closed.
func (p *Program) Attach(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, p.objs.Flowcount.FD()); err != nil {
		return fmt.Errorf("attaching flow counter to socket: %w", err)
	}
	return nil
}

// Config is the configuration the program was loaded with, defaults filled.
func (p *Program) Config() Config { return p.cfg }

// Limit is the cutoff the kernel gives a new flow with key k, in bytes
// (math.MaxUint64 for none). User space that saw fewer bytes of a flow than
// its limit knows that none of the flow was cut (unless the ring dropped).
func (p *Program) Limit(k Key) uint64 { return p.limits.of(&k) }

// Lookup returns the kernel counters of flow k; ok is false when the kernel
// has no entry for it (never counted, or forgotten by the LRU).
func (p *Program) Lookup(k Key) (c Counters, ok bool, err error) {
	var v bpfFlowStats
	kk := k.kernel()
	switch err := p.objs.Flows.Lookup(&kk, &v); {
	case errors.Is(err, ebpf.ErrKeyNotExist):
		return c, false, nil
	case err != nil:
		return c, false, fmt.Errorf("looking up flow: %w", err)
	}
	return countersFrom(&v), true, nil
}

// LookupAndDelete returns flow k's counters and removes its entry in one
// step, so no packet counted between the two is lost. Call it when a flow
// ends; a later packet of the same 5-tuple starts a new entry.
func (p *Program) LookupAndDelete(k Key) (c Counters, ok bool, err error) {
	var v bpfFlowStats
	kk := k.kernel()
	err = p.objs.Flows.LookupAndDelete(&kk, &v)
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
		// Kernels before 5.14 cannot do it for hash maps.
		if c, ok, err = p.Lookup(k); err != nil || !ok {
			return c, ok, err
		}
		return c, true, p.Delete(k)
	}
	switch {
	case errors.Is(err, ebpf.ErrKeyNotExist):
		return c, false, nil
	case err != nil:
		return c, false, fmt.Errorf("taking flow: %w", err)
	}
	return countersFrom(&v), true, nil
}

// Delete removes flow k's entry; a missing entry is not an error.
func (p *Program) Delete(k Key) error {
	kk := k.kernel()
	if err := p.objs.Flows.Delete(&kk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("deleting flow: %w", err)
	}
	return nil
}

// DeleteBatch removes the entries of several flows in one system call
// where the kernel can (5.6 and later), one by one otherwise, and returns
// how many existed.
func (p *Program) DeleteBatch(keys []Key) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	kk := make([]bpfFlowKey, len(keys))
	for i := range keys {
		kk[i] = keys[i].kernel()
	}
	n, err := p.objs.Flows.BatchDelete(kk, nil)
	if err == nil || errors.Is(err, ebpf.ErrKeyNotExist) {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			// The batch stops at the first missing key: finish one by one.
			for i := n + 1; i < len(kk); i++ {
				if p.objs.Flows.Delete(&kk[i]) == nil {
					n++
				}
			}
		}
		return n, nil
	}
	if !errors.Is(err, ebpf.ErrNotSupported) {
		return n, fmt.Errorf("deleting flows: %w", err)
	}
	n = 0
	for i := range kk {
		if p.objs.Flows.Delete(&kk[i]) == nil {
			n++
		}
	}
	return n, nil
}

// Flows calls f for each flow the kernel holds, until f returns false.
// Entries may change while they are walked.
func (p *Program) Flows(f func(Key, Counters) bool) error {
	var kk bpfFlowKey
	var v bpfFlowStats
	it := p.objs.Flows.Iterate()
	for it.Next(&kk, &v) {
		if !f(keyFrom(&kk), countersFrom(&v)) {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("walking flows: %w", err)
	}
	return nil
}

// Stats sums the program's global counters over CPUs.
func (p *Program) Stats() (Stats, error) {
	var per []bpfStats
	if err := p.objs.Global.Lookup(uint32(0), &per); err != nil {
		return Stats{}, fmt.Errorf("reading flow counter stats: %w", err)
	}
	var s Stats
	for i := range per {
		c := &per[i]
		s.Packets += c.Packets
		s.Bytes += c.Bytes
		s.CutPackets += c.CutPackets
		s.CutBytes += c.CutBytes
		s.Uncounted += c.Uncounted
		s.NewFlows += c.NewFlows
		s.MapErrors += c.MapErrors
	}
	return s, nil
}

// Close unloads the program and its maps. Sockets it is attached to keep
// the program running until they are closed.
func (p *Program) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.objs.Close()
}
