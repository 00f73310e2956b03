package iface

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// ErrNotFound means there is no interface of that name.
var ErrNotFound = errors.New("no such interface")

// AddressError is returned by Open for an interface that carries IP
// addresses while Config.AllowAddress is off.
type AddressError struct {
	Interface string
	Addresses []netip.Prefix
}

func (e *AddressError) Error() string {
	s := make([]string, len(e.Addresses))
	for i, a := range e.Addresses {
		s[i] = a.String()
	}
	return fmt.Sprintf("refusing to capture on %s: it has IP address %s, so the sensor would be reachable on its mirror port (remove the address, or set capture.link.allow_address: true)",
		e.Interface, strings.Join(s, ", "))
}

// Offloads are the receive offloads that merge packets before capture, so
// that the sensor sees fewer, larger packets than were on the wire.
type Offloads struct {
	GRO, LRO bool
	// Err says why they could not be read (the driver does not answer).
	Err error
}

// Kind is what happened to the interface.
type Kind string

// The kinds of Event.
const (
	LinkUp      Kind = "link_up"      // administratively up
	LinkDown    Kind = "link_down"    // administratively down
	CarrierUp   Kind = "carrier_up"   // the cable or the switch port came back
	CarrierLost Kind = "carrier_lost" // no carrier: no packets will come
	MTUChanged  Kind = "mtu_changed"
	Removed     Kind = "removed"      // the interface is gone
	WatchFailed Kind = "watch_failed" // the state watch stopped (Err says why)
)

// Event is a change of the interface's state, and the state after it.
type Event struct {
	Time      time.Time // wall clock
	Interface string
	Kind      Kind
	Up        bool   // administratively up (IFF_UP)
	Carrier   bool   // carrier present (IFF_LOWER_UP)
	OperState string // RFC 2863 operational state: up, down, lowerlayerdown, …
	MTU       int
	Err       error // for WatchFailed
}

func (e Event) String() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Interface, e.Kind, e.Err)
	}
	return fmt.Sprintf("%s: %s (up=%v carrier=%v oper=%s mtu=%d)", e.Interface, e.Kind, e.Up, e.Carrier, e.OperState, e.MTU)
}
