//go:build !linux

package iface

import (
	"fmt"

	"mamori/sensor"
)

// Link is the sniffing interface. It needs Linux.
type Link struct{}

// Open fails: interface setup needs Linux.
func Open(name string, cfg Config) (*Link, error) {
	return nil, fmt.Errorf("opening interface %s: %w", name, sensor.ErrNotSupported)
}

func (l *Link) Name() string          { return "" }
func (l *Link) Index() int            { return 0 }
func (l *Link) Offloads() Offloads    { return Offloads{} }
func (l *Link) State() Event          { return Event{} }
func (l *Link) Events() <-chan Event  { return nil }
func (l *Link) DroppedEvents() uint64 { return 0 }
func (l *Link) Close() error          { return nil }

// JoinPromisc fails: it needs Linux.
func JoinPromisc(fd, ifIndex int) error { return sensor.ErrNotSupported }
