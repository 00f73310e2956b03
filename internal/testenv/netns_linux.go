package testenv

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Net is a network namespace of the test's own with a veth pair in it:
// frames sent into Send come out of Capture. Nothing leaves the namespace,
// and it is deleted when the test ends.
type Net struct {
	NS      netns.NsHandle
	Capture string // the end to capture on
	Send    string // the end to send into
}

// NewNet creates the namespace and the veth pair (MTU mtu, both ends
// up, IPv6 off so the kernel sends nothing of its own).
func NewNet(t testing.TB, mtu int) *Net {
	t.Helper()
	RequireRoot(t)
	n := &Net{Capture: "cap0", Send: "snd0"}
	errc := make(chan error, 1)
	go func() {
		// A locked thread that is never unlocked dies with its goroutine,
		// so the test's own threads never change namespace.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			errc <- fmt.Errorf("creating network namespace: %w", err)
			return
		}
		n.NS = ns
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.NS.Close() })
	h, err := netlink.NewHandleAt(n.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.Capture, MTU: mtu}, PeerName: n.Send}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatalf("creating veth pair: %v", err)
	}
	n.Do(t, func() error {
		for _, name := range []string{n.Capture, n.Send} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0); err != nil {
				return err
			}
		}
		return nil
	})
	for _, name := range []string{n.Send, n.Capture} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetMTU(l, mtu); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	n.WaitUp(t)
	return n
}

// waitUp waits until both ends are operationally up: the kernel's link
// watch switches a link's queueing back on asynchronously, and frames sent
// before that are dropped.
func (n *Net) WaitUp(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, name := range []string{n.Send, n.Capture} {
		for n.Link(t, name).Attrs().OperState != netlink.OperUp {
			if time.Now().After(deadline) {
				t.Fatalf("%s is not up after 5s", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Do runs f on a thread inside the namespace: sockets it creates belong to
// the namespace and stay there when used from any thread later.
func (n *Net) Do(t testing.TB, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(n.NS); err != nil {
			errc <- fmt.Errorf("entering test namespace: %w", err)
			return
		}
		errc <- f()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// Sender is a packet socket bound to the namespace's sending end.
type Sender struct {
	fd int
	to unix.SockaddrLinklayer
}

func (n *Net) Sender(t testing.TB) *Sender {
	t.Helper()
	s := &Sender{}
	n.Do(t, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		l, err := netlink.LinkByName(n.Send)
		if err != nil {
			unix.Close(fd)
			return err
		}
		s.fd = fd
		s.to = unix.SockaddrLinklayer{Ifindex: l.Attrs().Index, Halen: 6}
		return nil
	})
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

func (s *Sender) Send(t testing.TB, frame []byte) {
	t.Helper()
	if err := unix.Sendto(s.fd, frame, 0, &s.to); err != nil {
		t.Fatalf("sending %d bytes: %v", len(frame), err)
	}
}

// Link returns the namespace's link by name.
func (n *Net) Link(t testing.TB, name string) netlink.Link {
	t.Helper()
	h, err := netlink.NewHandleAt(n.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
