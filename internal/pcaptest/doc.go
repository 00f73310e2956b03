// Package pcaptest helps tests read and write captures and re-frame real
// frames: the same packet as a Linux cooked capture (v1, v2), as raw IP,
// with one or two VLAN tags, or mirrored in ERSPAN type II or III. Tests
// use it to check that a decoder gives the same network and transport
// fields whatever the framing.
//
// It is imported only by _test.go files. Functions that re-frame return
// new slices and never modify their input. Nothing here keeps state, so
// everything is safe for concurrent use.
//
// The ERSPAN builders put the mirrored frame in fixed, made-up outer
// headers: Ethernet 02:00:5e:00:00:01 → 02:00:5e:00:00:02, IPv4
// 192.0.2.1 → 192.0.2.2 (documentation addresses), GRE with a sequence
// number (the session ID).
package pcaptest
