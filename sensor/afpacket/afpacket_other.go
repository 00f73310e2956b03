//go:build !linux

package afpacket

import (
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/sensor"
)

// Group is a fanout group of capture rings. It needs Linux.
type Group struct{}

// Setup is called for every socket of a group before it is bound.
type Setup func(fd, ifIndex int) error

// Open fails: live capture needs Linux.
func Open(Config, Setup) (*Group, error) {
	return nil, fmt.Errorf("opening capture rings: %w", sensor.ErrNotSupported)
}

func (g *Group) Rings() []*Ring      { return nil }
func (g *Group) FanoutID() int       { return 0 }
func (g *Group) Stats() sensor.Stats { return sensor.Stats{} }
func (g *Group) Close() error        { return nil }

// Ring is one capture socket. It needs Linux.
type Ring struct{}

// KernelStats are the kernel's counters for a socket.
type KernelStats struct{ Packets, Drops, Freezes uint64 }

var _ sensor.Source = (*Ring)(nil)

func (r *Ring) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, sensor.ErrNotSupported
}
func (r *Ring) LinkType(int) layers.LinkType { return layers.LinkTypeNull }
func (r *Ring) Interface(int) string         { return "" }
func (r *Ring) Stats() sensor.Stats          { return sensor.Stats{} }
func (r *Ring) KernelStats() KernelStats     { return KernelStats{} }
func (r *Ring) Ticks() uint64                { return 0 }
func (r *Ring) Worker() int                  { return 0 }
func (r *Ring) Close() error                 { return nil }
