package afpacket

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// Config sets up one fanout group of TPACKET_V3 rings on an interface. A
// zero field means the default given in its comment. The defaults are
// sized for a 1 Gbit/s mirror port: 64 MiB of ring per worker holds half a
// second of line rate even if one worker got all of it.
//
// The kernel hands a block over when it is full or BlockTimeout after its
// first packet, so when traffic is light a ring holds only BlockCount ×
// BlockTimeout of it, however large its blocks: a worker that stalls
// longer (a busy machine, a slow output) loses packets at any rate. Many
// small blocks and a timeout of tens of milliseconds keep that margin at
// seconds: 256 × 50ms = 12.8s with the defaults (64 × 10ms was 0.64s).
type Config struct {
	// Interface is the capture interface, e.g. "enp3s0f1". Required.
	Interface string `yaml:"interface"`
	// Workers is the number of sockets in the fanout group, each read by
	// its own worker. Defaults to the number of CPUs.
	Workers int `yaml:"workers"`
	// BlockSize is the size of one ring block: a multiple of the page size.
	// The kernel fills a block with packets and hands it over when it is
	// full or BlockTimeout has passed. Defaults to 256 KiB.
	BlockSize int `yaml:"block_size"`
	// BlockCount is the number of blocks in each worker's ring. Defaults to
	// 256 (64 MiB per worker with the default block size).
	BlockCount int `yaml:"block_count"`
	// FrameSize is the most bytes of one packet copied to user space;
	// longer packets are truncated (their length on the wire is still
	// reported and counted). TPACKET_V3 packs packets into a block by their
	// real size, so a large FrameSize costs nothing for small packets.
	// At most BlockSize-256. Defaults to 65,536 (or BlockSize-256 if that
	// is less): jumbo frames and packets merged by GRO are kept whole.
	FrameSize int `yaml:"frame_size"`
	// BlockTimeout is how long the kernel waits before handing over a block
	// that is not full: the most a packet waits in the kernel when traffic
	// is light. Defaults to 50ms.
	BlockTimeout time.Duration `yaml:"block_timeout"`
	// NoDefrag turns off the fanout's IPv4 defragmentation. With it on (the
	// default), the kernel reassembles IPv4 fragments before choosing a
	// worker, so every fragment of a datagram reaches the worker that owns
	// its flow, which then sees one reassembled packet instead of the
	// fragments.
	NoDefrag bool `yaml:"no_defrag"`
	// FanoutGroup is the fanout group ID. Defaults to one the kernel picks
	// and no other process uses.
	FanoutGroup int `yaml:"fanout_group"`
	// IdleTick is how long a ring waits without packets before it hands
	// its reader an idle tick (a packet of length 0 whose timestamp is the
	// current time), so that flow timeouts run on a quiet link. Defaults to
	// 1s; negative turns ticks off.
	IdleTick time.Duration `yaml:"idle_tick"`
	// StatsInterval is how often each ring reads the kernel's counters
	// (packets, drops, queue freezes) even if nobody asks. At most 10s.
	// Defaults to 1s.
	StatsInterval time.Duration `yaml:"stats_interval"`
}

// DefaultConfig returns the defaults documented on Config (Interface empty).
func DefaultConfig() Config {
	return Config{
		Workers:       runtime.NumCPU(),
		BlockSize:     256 << 10,
		BlockCount:    256,
		FrameSize:     1 << 16,
		BlockTimeout:  50 * time.Millisecond,
		IdleTick:      time.Second,
		StatsInterval: time.Second,
	}
}

// Bounds on the configuration.
const (
	maxWorkers   = 256
	maxRingBytes = 4 << 30 // per worker
	// blockOverhead is what a block loses to its header and the alignment
	// of its first packet's header, rounded up.
	blockOverhead = 256
)

// Validate checks the configuration; errors read "key: reason". An empty
// Interface is allowed here (the command line may supply it).
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	fill := func(name string, v *int, def, max int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0 || *v > max:
			errs = append(errs, fmt.Errorf("%s: must be between 1 and %d, got %d", name, max, *v))
		}
	}
	fill("workers", &c.Workers, d.Workers, maxWorkers)
	fill("block_size", &c.BlockSize, d.BlockSize, 1<<30)
	fill("block_count", &c.BlockCount, d.BlockCount, 1<<20)
	if c.FrameSize == 0 && c.BlockSize > 0 {
		c.FrameSize = min(d.FrameSize, c.BlockSize-blockOverhead)
	}
	fill("frame_size", &c.FrameSize, d.FrameSize, 1<<30)
	if page := os.Getpagesize(); c.BlockSize > 0 && c.BlockSize%page != 0 {
		errs = append(errs, fmt.Errorf("block_size: must be a multiple of the page size (%d), got %d", page, c.BlockSize))
	}
	if c.FrameSize > 0 && c.FrameSize < 64 {
		errs = append(errs, fmt.Errorf("frame_size: must be at least 64, got %d", c.FrameSize))
	}
	if c.FrameSize > c.BlockSize-blockOverhead && c.BlockSize > 0 {
		errs = append(errs, fmt.Errorf("frame_size: must be at most block_size-%d (%d), got %d", blockOverhead, c.BlockSize-blockOverhead, c.FrameSize))
	}
	if int64(c.BlockSize)*int64(c.BlockCount) > maxRingBytes {
		errs = append(errs, fmt.Errorf("block_count: block_size × block_count is %d bytes, more than %d", int64(c.BlockSize)*int64(c.BlockCount), int64(maxRingBytes)))
	}
	switch {
	case c.BlockTimeout == 0:
		c.BlockTimeout = d.BlockTimeout
	case c.BlockTimeout < time.Millisecond || c.BlockTimeout > time.Minute:
		errs = append(errs, fmt.Errorf("block_timeout: must be between 1ms and 1m, got %s", c.BlockTimeout))
	}
	if c.FanoutGroup < 0 || c.FanoutGroup > 0xffff {
		errs = append(errs, fmt.Errorf("fanout_group: must be between 1 and 65535, got %d", c.FanoutGroup))
	}
	switch {
	case c.IdleTick == 0:
		c.IdleTick = d.IdleTick
	case c.IdleTick > 0 && c.IdleTick < 10*time.Millisecond:
		errs = append(errs, fmt.Errorf("idle_tick: must be at least 10ms, got %s", c.IdleTick))
	}
	switch {
	case c.StatsInterval == 0:
		c.StatsInterval = d.StatsInterval
	case c.StatsInterval < 10*time.Millisecond || c.StatsInterval > 10*time.Second:
		errs = append(errs, fmt.Errorf("stats_interval: must be between 10ms and 10s, got %s", c.StatsInterval))
	}
	return c, errors.Join(errs...)
}
