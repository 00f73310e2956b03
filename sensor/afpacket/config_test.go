package afpacket

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestConfig checks defaults and refusals without opening a socket.
func TestConfig(t *testing.T) {
	d, err := Config{Interface: "eth1"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Interface: "eth1", Workers: runtime.NumCPU(), BlockSize: 256 << 10, BlockCount: 256, FrameSize: 65536,
		BlockTimeout: 50 * time.Millisecond, IdleTick: time.Second, StatsInterval: time.Second}
	if d != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", d, want)
	}
	small, err := Config{BlockSize: 8192}.withDefaults()
	if err != nil || small.FrameSize != 8192-blockOverhead {
		t.Fatalf("frame size for an 8 KiB block: %d, %v", small.FrameSize, err)
	}
	if c, _ := (Config{IdleTick: -1}).withDefaults(); c.IdleTick != -1 {
		t.Fatalf("negative idle tick became %s", c.IdleTick)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Workers: -1}, "workers: must be between 1 and 256"},
		{Config{Workers: 1000}, "workers: must be between 1 and 256"},
		{Config{BlockSize: 5000}, "block_size: must be a multiple of the page size"},
		{Config{BlockSize: 4096, FrameSize: 4096}, "frame_size: must be at most block_size-256"},
		{Config{FrameSize: 10}, "frame_size: must be at least 64"},
		{Config{BlockSize: 1 << 30, BlockCount: 8}, "block_count: block_size × block_count"},
		{Config{BlockTimeout: time.Microsecond}, "block_timeout: must be between 1ms and 1m"},
		{Config{FanoutGroup: 70000}, "fanout_group: must be between 1 and 65535"},
		{Config{IdleTick: time.Millisecond}, "idle_tick: must be at least 10ms"},
		{Config{StatsInterval: time.Minute}, "stats_interval: must be between 10ms and 10s"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
