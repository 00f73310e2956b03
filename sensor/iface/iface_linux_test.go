package iface

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func openIn(n *testNet, t *testing.T, name string, cfg Config) (*Link, error) {
	t.Helper()
	var l *Link
	var err error
	n.Do(t, func() error {
		l, err = Open(name, cfg)
		return nil
	})
	if l != nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, err
}

// TestRefusesAddress checks that an interface with an IPv4 or a global
// IPv6 address is refused, naming the address, unless allowed.
func TestRefusesAddress(t *testing.T) {
	for _, addr := range []string{"192.0.2.7/24", "2001:db8::7/64"} {
		t.Run(addr, func(t *testing.T) {
			n := newTestNet(t, 1500)
			h, _ := netlink.NewHandleAt(n.NS)
			defer h.Close()
			if strings.Contains(addr, ":") {
				n.Do(t, func() error {
					return os.WriteFile("/proc/sys/net/ipv6/conf/"+n.Capture+"/disable_ipv6", []byte("0"), 0)
				})
			}
			a, _ := netlink.ParseAddr(addr)
			a.Flags = unix.IFA_F_NODAD
			if err := h.AddrAdd(n.Link(t, n.Capture), a); err != nil {
				t.Fatal(err)
			}
			_, err := openIn(n, t, n.Capture, Config{})
			var ae *AddressError
			if !errors.As(err, &ae) || len(ae.Addresses) != 1 || ae.Addresses[0] != netip.MustParsePrefix(addr) {
				t.Fatalf("got %v, want an AddressError for %s", err, addr)
			}
			if !strings.Contains(err.Error(), "refusing to capture on cap0") || !strings.Contains(err.Error(), "allow_address") {
				t.Errorf("message does not say what to do: %v", err)
			}
			if _, err := openIn(n, t, n.Capture, Config{AllowAddress: true}); err != nil {
				t.Fatalf("with allow_address: %v", err)
			}
		})
	}
}

// TestSetupAndRestore checks that Open brings a down interface up, sets
// its MTU and switches IPv6 off (dropping its link-local address), and
// that Close puts all three back.
func TestSetupAndRestore(t *testing.T) {
	n := newTestNet(t, 1500)
	h, _ := netlink.NewHandleAt(n.NS)
	defer h.Close()
	ipv6 := "/proc/sys/net/ipv6/conf/" + n.Capture + "/disable_ipv6"
	n.Do(t, func() error { return os.WriteFile(ipv6, []byte("0"), 0) })
	c := n.Link(t, n.Capture)
	if err := h.LinkSetDown(c); err != nil {
		t.Fatal(err)
	}
	// Give it a link-local address first, as a freshly plugged port has.
	ll, _ := netlink.ParseAddr("fe80::1234/64")
	if err := h.AddrAdd(c, ll); err != nil {
		t.Fatal(err)
	}
	l, err := openIn(n, t, n.Capture, Config{MTU: 9000})
	if err != nil {
		t.Fatal(err)
	}
	a := n.Link(t, n.Capture).Attrs()
	if a.RawFlags&unix.IFF_UP == 0 || a.MTU != 9000 {
		t.Fatalf("after Open: flags %#x mtu %d", a.RawFlags, a.MTU)
	}
	addrs, _ := h.AddrList(c, netlink.FAMILY_ALL)
	if len(addrs) != 0 {
		t.Fatalf("addresses left with IPv6 off: %v", addrs)
	}
	var v []byte
	n.Do(t, func() (err error) { v, err = os.ReadFile(ipv6); return })
	if strings.TrimSpace(string(v)) != "1" {
		t.Fatalf("disable_ipv6 is %q", v)
	}
	if l.Index() != a.Index || l.Name() != n.Capture {
		t.Fatalf("index %d name %s", l.Index(), l.Name())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	a = n.Link(t, n.Capture).Attrs()
	if a.RawFlags&unix.IFF_UP != 0 || a.MTU != 1500 {
		t.Fatalf("after Close: flags %#x mtu %d", a.RawFlags, a.MTU)
	}
	n.Do(t, func() (err error) { v, err = os.ReadFile(ipv6); return })
	if strings.TrimSpace(string(v)) != "0" {
		t.Fatalf("disable_ipv6 not restored: %q", v)
	}
}

// TestNotFound checks the error for a missing interface.
func TestNotFound(t *testing.T) {
	n := newTestNet(t, 1500)
	if _, err := openIn(n, t, "nosuch0", Config{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

// TestEvents checks that bringing the link down and up, and the peer
// losing its carrier, come out as events in order.
func TestEvents(t *testing.T) {
	n := newTestNet(t, 1500)
	h, _ := netlink.NewHandleAt(n.NS)
	defer h.Close()
	l, err := openIn(n, t, n.Capture, Config{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want Kind) Event {
		t.Helper()
		select {
		case e := <-l.Events():
			if e.Kind != want {
				t.Fatalf("event %s, want %s", e, want)
			}
			return e
		case <-time.After(3 * time.Second):
			t.Fatalf("no %s event", want)
		}
		return Event{}
	}
	c, s := n.Link(t, n.Capture), n.Link(t, n.Send)
	if err := h.LinkSetDown(c); err != nil {
		t.Fatal(err)
	}
	e := next(LinkDown)
	if e.Up || e.Interface != n.Capture {
		t.Fatalf("link_down event says %s", e)
	}
	next(CarrierLost)
	if err := h.LinkSetUp(c); err != nil {
		t.Fatal(err)
	}
	next(LinkUp)
	next(CarrierUp)
	// The peer going down takes the carrier away, not the link.
	if err := h.LinkSetDown(s); err != nil {
		t.Fatal(err)
	}
	if e := next(CarrierLost); !e.Up || e.Carrier {
		t.Fatalf("carrier_lost event says %s", e)
	}
	if err := h.LinkSetUp(s); err != nil {
		t.Fatal(err)
	}
	next(CarrierUp)
	if err := h.LinkSetMTU(c, 4000); err != nil {
		t.Fatal(err)
	}
	if e := next(MTUChanged); e.MTU != 4000 {
		t.Fatalf("mtu event says %s", e)
	}
	if st := l.State(); st.Kind != MTUChanged || !st.Up || !st.Carrier {
		t.Fatalf("state %s", st)
	}
	if err := h.LinkDel(s); err != nil { // deleting one end of a veth pair deletes both
		t.Fatal(err)
	}
	for removed := false; !removed; { // link_down and carrier_lost may come first
		select {
		case e := <-l.Events():
			switch e.Kind {
			case Removed:
				removed = true
			case LinkDown, CarrierLost:
			default:
				t.Fatalf("event %s while the link is deleted", e)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("no removed event")
		}
	}
	l.Close()
	if _, ok := <-l.Events(); ok {
		t.Fatal("events channel open after Close")
	}
}

// TestOffloads switches GRO on with ethtool's ioctl and checks that Open
// reports it (and reports it off before).
func TestOffloads(t *testing.T) {
	n := newTestNet(t, 1500)
	l, err := openIn(n, t, n.Capture, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if o := l.Offloads(); o.Err != nil || o.GRO || o.LRO {
		t.Fatalf("veth offloads %+v, want GRO and LRO off", o)
	}
	l.Close()
	n.Do(t, func() error { return setGRO(n.Capture, true) })
	l, err = openIn(n, t, n.Capture, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if o := l.Offloads(); o.Err != nil || !o.GRO {
		t.Fatalf("offloads %+v, want GRO on", o)
	}
}

func setGRO(name string, on bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	v := &ethtoolValue{cmd: 0x2c} // ETHTOOL_SGRO
	if on {
		v.data = 1
	}
	req := &ifreqData{data: unsafe.Pointer(v)}
	copy(req.name[:], name)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(req)))
	runtime.KeepAlive(req)
	runtime.KeepAlive(v)
	if errno != 0 {
		return errno
	}
	return nil
}

// TestJoinPromisc checks that a socket's promiscuous membership puts the
// interface in promiscuous mode and that closing the socket ends it.
func TestJoinPromisc(t *testing.T) {
	n := newTestNet(t, 1500)
	promisc := func() bool {
		ifc := n.Link(t, n.Capture).Attrs()
		return ifc.RawFlags&unix.IFF_PROMISC != 0 || ifc.Promisc != 0
	}
	if promisc() {
		t.Fatal("promiscuous before")
	}
	var fd int
	n.Do(t, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		ifc, err := net.InterfaceByName(n.Capture)
		if err != nil {
			return err
		}
		return JoinPromisc(fd, ifc.Index)
	})
	if !promisc() {
		unix.Close(fd)
		t.Fatal("not promiscuous after JoinPromisc")
	}
	unix.Close(fd)
	deadline := time.Now().Add(2 * time.Second)
	for promisc() {
		if time.Now().After(deadline) {
			t.Fatal("still promiscuous after the socket closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
