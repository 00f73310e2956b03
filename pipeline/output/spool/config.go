package spool

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxRecordBytes is the largest document a spool accepts.
const MaxRecordBytes = 16 << 20

// Config bounds a spool. A zero field means the default in its comment.
type Config struct {
	// Dir holds the segment files and the cursor. Required.
	Dir string `yaml:"dir"`
	// MaxBytes bounds the queue plus the segment files. Defaults to 4 GiB.
	MaxBytes Size `yaml:"max_bytes"`
	// SegmentBytes is the size past which the writer starts a new segment
	// file (at a batch boundary). Defaults to 64 MiB.
	SegmentBytes Size `yaml:"segment_bytes"`
	// QueueBytes bounds the in-memory queue in front of the files.
	// Defaults to 64 MiB.
	QueueBytes Size `yaml:"queue_bytes"`
	// MaxInFlight bounds the documents read but not yet acknowledged.
	// Defaults to 65536.
	MaxInFlight int `yaml:"max_in_flight"`
	// SyncInterval is how often the active segment is fsynced and the
	// cursor written. Defaults to 1s.
	SyncInterval time.Duration `yaml:"sync_interval"`
}

// DefaultConfig returns the defaults documented on Config (Dir empty).
func DefaultConfig() Config {
	return Config{
		MaxBytes:     4 << 30,
		SegmentBytes: 64 << 20,
		QueueBytes:   64 << 20,
		MaxInFlight:  65536,
		SyncInterval: time.Second,
	}
}

// WithDefaults fills zero fields with their defaults and checks the rest.
// Errors name the configuration keys ("max_bytes: must be > 0").
func (c Config) WithDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	size := func(name string, v *Size, def, min Size) {
		switch {
		case *v == 0:
			*v = def
		case *v < min:
			errs = append(errs, fmt.Errorf("%s: at least %s, got %s", name, min, *v))
		}
	}
	size("max_bytes", &c.MaxBytes, d.MaxBytes, 1<<20)
	size("segment_bytes", &c.SegmentBytes, d.SegmentBytes, 64<<10)
	size("queue_bytes", &c.QueueBytes, d.QueueBytes, 64<<10)
	if c.SegmentBytes > c.MaxBytes && c.MaxBytes != 0 {
		errs = append(errs, fmt.Errorf("segment_bytes: at most max_bytes (%s), got %s", c.MaxBytes, c.SegmentBytes))
	}
	switch {
	case c.MaxInFlight == 0:
		c.MaxInFlight = d.MaxInFlight
	case c.MaxInFlight < 0 || c.MaxInFlight > 1<<24:
		errs = append(errs, fmt.Errorf("max_in_flight: between 1 and %d, got %d", 1<<24, c.MaxInFlight))
	}
	switch {
	case c.SyncInterval == 0:
		c.SyncInterval = d.SyncInterval
	case c.SyncInterval < time.Millisecond:
		errs = append(errs, fmt.Errorf("sync_interval: at least 1ms, got %s", c.SyncInterval))
	}
	return c, errors.Join(errs...)
}

// Validate reports problems with c other than a missing Dir (which the
// appliance fills in from the data directory).
func (c Config) Validate() error {
	_, err := c.WithDefaults()
	return err
}

// Size is a byte count that reads "512MiB", "4GiB", "64KiB", "10GB" or a
// plain number of bytes from configuration.
type Size int64

var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize parses a Size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || (mult > 1 && n > (1<<62)/mult) {
		return 0, fmt.Errorf("%q is not a size such as 512MiB or 4GiB", s)
	}
	return Size(n * mult), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String writes the size in the largest binary unit that divides it.
func (s Size) String() string {
	for i := 3; i >= 0; i-- {
		if m := units[i].mult; s != 0 && int64(s)%m == 0 {
			return strconv.FormatInt(int64(s)/m, 10) + units[i].suffix
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}
