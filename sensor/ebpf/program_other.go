//go:build !linux

package ebpf

import (
	"fmt"

	"mamori/sensor"
)

// Program is the loaded flow counter. It needs Linux.
type Program struct{}

// Option changes how Load loads the program.
type Option func(*struct{})

// Load fails: the flow counter needs Linux.
func Load(Config, ...Option) (*Program, error) {
	return nil, fmt.Errorf("loading flow counter: %w", sensor.ErrNotSupported)
}

func (p *Program) SetSnaplen(int) error { return sensor.ErrNotSupported }
func (p *Program) Attach(int) error     { return sensor.ErrNotSupported }
func (p *Program) Config() Config       { return Config{} }
func (p *Program) Limit(Key) uint64     { return 0 }
func (p *Program) Lookup(Key) (Counters, bool, error) {
	return Counters{}, false, sensor.ErrNotSupported
}
func (p *Program) LookupAndDelete(Key) (Counters, bool, error) {
	return Counters{}, false, sensor.ErrNotSupported
}
func (p *Program) Delete(Key) error                     { return sensor.ErrNotSupported }
func (p *Program) DeleteBatch([]Key) (int, error)       { return 0, sensor.ErrNotSupported }
func (p *Program) Flows(func(Key, Counters) bool) error { return sensor.ErrNotSupported }
func (p *Program) Stats() (Stats, error)                { return Stats{}, sensor.ErrNotSupported }
func (p *Program) Close() error                         { return nil }
