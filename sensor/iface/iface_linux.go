package iface

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is the sniffing interface, set up for capture, with a watch on its
// state. Close restores what Open changed.
//
// A Link is safe for concurrent use.
type Link struct {
	name  string
	index int
	h     *netlink.Handle

	offloads Offloads

	// What Open changed, to undo on Close.
	broughtUp bool
	oldMTU    int
	ipv6File  *os.File // the interface's disable_ipv6, opened in its namespace
	oldIPv6   []byte

	events  chan Event
	dropped atomic.Uint64
	nlfd    int
	efd     int
	done    chan struct{}

	mu     sync.Mutex
	closed bool
	state  Event
}

// Open finds the interface, refuses it if it carries an IP address (unless
// cfg.AllowAddress), switches IPv6 off on it (unless cfg.KeepIPv6), sets
// its MTU (cfg.MTU), brings it up, reads its offload settings and starts
// watching its state. It works in the calling thread's network namespace
// and needs CAP_NET_ADMIN.
//
// It returns an error wrapping ErrNotFound when there is no such
// interface, and a *AddressError when it has an address.
func Open(name string, cfg Config) (_ *Link, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	l := &Link{name: name, h: h, nlfd: -1, efd: -1, events: make(chan Event, eventBuffer), done: make(chan struct{})}
	defer func() {
		if err != nil {
			l.restore()
			h.Close()
		}
	}()
	link, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return nil, fmt.Errorf("finding interface %s: %w", name, err)
	}
	a := link.Attrs()
	l.index = a.Index

	if !cfg.AllowAddress {
		addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("listing addresses of %s: %w", name, err)
		}
		var found []netip.Prefix
		for _, ad := range addrs {
			ip, ok := netip.AddrFromSlice(ad.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.Is6() && ip.IsLinkLocalUnicast() && !cfg.KeepIPv6 {
				continue // switching IPv6 off removes it
			}
			ones, _ := ad.Mask.Size()
			found = append(found, netip.PrefixFrom(ip, ones))
		}
		if len(found) > 0 {
			return nil, &AddressError{Interface: name, Addresses: found}
		}
	}
	if !cfg.KeepIPv6 {
		// Kept open: the file belongs to this network namespace, so
		// Close restores the right interface from any thread.
		f, err := os.OpenFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", os.O_RDWR, 0)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// No IPv6 in this kernel: nothing to switch off.
		case err != nil:
			return nil, fmt.Errorf("reading IPv6 setting of %s: %w", name, err)
		default:
			l.ipv6File = f
			old := make([]byte, 16)
			n, err := f.ReadAt(old, 0)
			if n == 0 {
				return nil, fmt.Errorf("reading IPv6 setting of %s: %w", name, err)
			}
			if _, err := f.WriteAt([]byte("1\n"), 0); err != nil {
				return nil, fmt.Errorf("switching IPv6 off on %s: %w", name, err)
			}
			l.oldIPv6 = bytes.TrimSpace(old[:n])
		}
	}
	if cfg.MTU != 0 && cfg.MTU != a.MTU {
		if err := h.LinkSetMTU(link, cfg.MTU); err != nil {
			return nil, fmt.Errorf("setting MTU %d on %s: %w", cfg.MTU, name, err)
		}
		l.oldMTU = a.MTU
	}
	if err := l.subscribe(); err != nil {
		return nil, err
	}
	// The state before Open brings the link up: the watch reports the
	// changes that follow (link_up, carrier_up) from the queued messages.
	if link, err := h.LinkByName(name); err == nil {
		l.state = stateOf(name, link.Attrs(), time.Now(), "")
	}
	if a.RawFlags&unix.IFF_UP == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bringing %s up: %w", name, err)
		}
		l.broughtUp = true
	}
	l.offloads = readOffloads(name)
	go l.watch()
	return l, nil
}

// Name is the interface's name.
func (l *Link) Name() string { return l.name }

// Index is the interface's index.
func (l *Link) Index() int { return l.index }

// Offloads reports the interface's receive offloads as Open found them.
func (l *Link) Offloads() Offloads { return l.offloads }

// State is the interface's latest known state (Kind is empty before the
// first change).
func (l *Link) State() Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Events delivers a change of the interface's state: administratively up
// or down, carrier gained or lost, removed. The channel is closed by
// Close. It holds 64 events; when nobody reads them, later ones are dropped
// and counted (DroppedEvents), never blocking the watch.
func (l *Link) Events() <-chan Event { return l.events }

// DroppedEvents counts events that found Events full.
func (l *Link) DroppedEvents() uint64 { return l.dropped.Load() }

// Close stops the watch and restores the interface: down again if Open
// brought it up, its old MTU and IPv6 setting. It returns the first
// restore that failed.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	var one [8]byte
	one[0] = 1
	unix.Write(l.efd, one[:])
	<-l.done
	err := l.restore()
	l.h.Close()
	return err
}

// restore undoes what Open did.
func (l *Link) restore() error {
	var errs []error
	if l.nlfd >= 0 {
		unix.Close(l.nlfd)
		l.nlfd = -1
	}
	if l.efd >= 0 {
		unix.Close(l.efd)
		l.efd = -1
	}
	link, err := l.h.LinkByName(l.name)
	if err != nil {
		if l.broughtUp || l.oldMTU != 0 {
			errs = append(errs, fmt.Errorf("restoring %s: %w", l.name, err))
		}
	} else {
		if l.broughtUp {
			if err := l.h.LinkSetDown(link); err != nil {
				errs = append(errs, fmt.Errorf("bringing %s down again: %w", l.name, err))
			}
		}
		if l.oldMTU != 0 {
			if err := l.h.LinkSetMTU(link, l.oldMTU); err != nil {
				errs = append(errs, fmt.Errorf("restoring MTU %d on %s: %w", l.oldMTU, l.name, err))
			}
		}
	}
	if l.ipv6File != nil {
		if l.oldIPv6 != nil && !bytes.Equal(l.oldIPv6, []byte("1")) {
			if _, err := l.ipv6File.WriteAt(append(l.oldIPv6, '\n'), 0); err != nil {
				errs = append(errs, fmt.Errorf("restoring IPv6 on %s: %w", l.name, err))
			}
		}
		l.ipv6File.Close()
		l.ipv6File = nil
	}
	return errors.Join(errs...)
}

// subscribe opens a netlink socket on the link group and the eventfd that
// stops the watch.
func (l *Link) subscribe() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("opening netlink for link changes: %w", err)
	}
	l.nlfd = fd
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		return fmt.Errorf("subscribing to link changes: %w", err)
	}
	if l.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("creating eventfd: %w", err)
	}
	return nil
}

const eventBuffer = 64

// watch reads link messages until Close, turning changes of our interface
// into Events.
func (l *Link) watch() {
	defer close(l.done)
	defer close(l.events)
	buf := make([]byte, 1<<16)
	fds := []unix.PollFd{{Fd: int32(l.nlfd), Events: unix.POLLIN}, {Fd: int32(l.efd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			l.emit(Event{Time: time.Now(), Interface: l.name, Kind: WatchFailed, Err: err})
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, _, err := unix.Recvfrom(l.nlfd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.ENOBUFS) {
				// The kernel dropped messages: resynchronise from a
				// fresh read of the link.
				l.resync()
				continue
			}
			l.emit(Event{Time: time.Now(), Interface: l.name, Kind: WatchFailed, Err: err})
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			l.message(&m)
		}
	}
}

func (l *Link) message(m *syscall.NetlinkMessage) {
	if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
		return
	}
	if len(m.Data) < unix.SizeofIfInfomsg {
		return
	}
	info := (*unix.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
	if int(info.Index) != l.index {
		return
	}
	now := time.Now()
	if m.Header.Type == unix.RTM_DELLINK {
		l.change(Event{Time: now, Interface: l.name}, Removed)
		return
	}
	hdr := unix.NlMsghdr(m.Header)
	link, err := netlink.LinkDeserialize(&hdr, m.Data)
	if err != nil {
		return
	}
	l.update(stateOf(l.name, link.Attrs(), now, ""))
}

// resync reads the link afresh after lost messages.
func (l *Link) resync() {
	link, err := l.h.LinkByIndex(l.index)
	if err != nil {
		l.change(Event{Time: time.Now(), Interface: l.name}, Removed)
		return
	}
	l.update(stateOf(l.name, link.Attrs(), time.Now(), ""))
}

// update records a new state and emits what changed since the last one:
// first the administrative state, then the carrier, then the MTU.
func (l *Link) update(s Event) {
	l.mu.Lock()
	prev := l.state
	s.Kind = prev.Kind
	l.state = s
	l.mu.Unlock()
	if s.Up != prev.Up {
		l.change(s, map[bool]Kind{true: LinkUp, false: LinkDown}[s.Up])
	}
	if s.Carrier != prev.Carrier {
		l.change(s, map[bool]Kind{true: CarrierUp, false: CarrierLost}[s.Carrier])
	}
	if s.MTU != prev.MTU && prev.MTU != 0 {
		l.change(s, MTUChanged)
	}
}

// change emits state s as an event of kind k and makes k the latest.
func (l *Link) change(s Event, k Kind) {
	s.Kind = k
	l.mu.Lock()
	l.state.Kind = k
	l.mu.Unlock()
	l.emit(s)
}

func (l *Link) emit(e Event) {
	select {
	case l.events <- e:
	default:
		l.dropped.Add(1)
	}
}

func stateOf(name string, a *netlink.LinkAttrs, now time.Time, kind Kind) Event {
	return Event{
		Time: now, Interface: name, Kind: kind,
		Up:        a.RawFlags&unix.IFF_UP != 0,
		Carrier:   a.RawFlags&unix.IFF_LOWER_UP != 0,
		OperState: a.OperState.String(),
		MTU:       a.MTU,
	}
}

// JoinPromisc makes a packet socket receive everything on interface
// ifIndex (PACKET_ADD_MEMBERSHIP with PACKET_MR_PROMISC). The membership
// belongs to the socket: the kernel drops it when the socket is closed,
// even if the sensor crashes, so no promiscuous setting is left behind.
func JoinPromisc(fd, ifIndex int) error {
	mreq := unix.PacketMreq{Ifindex: int32(ifIndex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("joining promiscuous mode: %w", err)
	}
	return nil
}

// ethtool ioctl structures (linux/ethtool.h).
const (
	ethtoolGGRO   = 0x2b
	ethtoolGFLAGS = 0x25
	ethFlagLRO    = 1 << 15
)

type ethtoolValue struct {
	cmd  uint32
	data uint32
}

type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// readOffloads asks the driver (SIOCETHTOOL) whether GRO and LRO are on.
func readOffloads(name string) Offloads {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Offloads{Err: fmt.Errorf("reading offloads of %s: %w", name, err)}
	}
	defer unix.Close(fd)
	get := func(cmd uint32) (uint32, error) {
		v := &ethtoolValue{cmd: cmd}
		req := &ifreqData{data: unsafe.Pointer(v)}
		copy(req.name[:unix.IFNAMSIZ-1], name)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(req)))
		runtime.KeepAlive(req)
		runtime.KeepAlive(v)
		if errno != 0 {
			return 0, errno
		}
		return v.data, nil
	}
	var o Offloads
	var errs []string
	if v, err := get(ethtoolGGRO); err == nil {
		o.GRO = v != 0
	} else {
		errs = append(errs, "gro: "+err.Error())
	}
	if v, err := get(ethtoolGFLAGS); err == nil {
		o.LRO = v&ethFlagLRO != 0
	} else {
		errs = append(errs, "lro: "+err.Error())
	}
	if len(errs) > 0 {
		o.Err = fmt.Errorf("reading offloads of %s: %s", name, strings.Join(errs, "; "))
	}
	return o
}
