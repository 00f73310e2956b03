// Package iface sets up the sniffing interface through netlink and
// watches it: it finds the interface, refuses it when it carries an IP
// address (a passive sensor must not be reachable on its mirror port)
// unless that is explicitly allowed, switches IPv6 off on it so the kernel
// sends nothing there, sets its MTU for jumbo mirrors, brings it up,
// reports receive offloads (GRO, LRO) that merge packets, and turns
// netlink link messages into Events: up/down, carrier gained or lost, MTU
// changes, removal. Close puts back what Open changed.
//
// Promiscuous reception is per socket (JoinPromisc, called on each capture
// socket): the kernel ends it when the socket closes, so a crash leaves no
// interface in promiscuous mode.
//
// Everything happens in the calling thread's network namespace; a Link is
// safe for concurrent use, and its watch runs on one goroutine of its own,
// stopped by Close.
package iface
