package pcapstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the pcap store's configuration (the pcap_store section of the
// configuration file). A zero field means the default given in its comment.
type Config struct {
	// Dir is the store's directory. Empty means "pcap" under the sensor's
	// data directory (the service fills it in).
	Dir string `yaml:"dir"`
	// MaxBytes bounds the store's packet and index files together; past it
	// the oldest unpinned files are deleted. Defaults to 100GiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxAge deletes unpinned files this long after they were written.
	// Defaults to 720h (30 days); negative keeps files until MaxBytes.
	MaxAge time.Duration `yaml:"max_age"`
	// MinFree keeps this much free space on the store's file system,
	// deleting the oldest unpinned files to get it. Defaults to 1GiB;
	// negative means no minimum.
	MinFree ByteSize `yaml:"min_free"`
	// PinFor is how long the files holding an alert's packets are kept
	// after the alert is pinned, whatever MaxBytes and MaxAge say.
	// Defaults to 2160h (90 days).
	PinFor time.Duration `yaml:"pin_for"`
	// FileSize closes a packet file once it holds this many bytes.
	// Defaults to 256MiB; at most 2GiB.
	FileSize ByteSize `yaml:"file_size"`
	// FileDuration closes a packet file this long after its first packet
	// (packet time) or after it was opened (wall time), so that recent
	// packets are indexed soon. Defaults to 5m.
	FileDuration time.Duration `yaml:"file_duration"`
	// WriteBuffer is the size of one write: packets are gathered into
	// buffers this large and written sequentially. Defaults to 1MiB.
	WriteBuffer ByteSize `yaml:"write_buffer"`
	// WriteQueue is how many full buffers may wait for the writer; when
	// they are all in use, live packets are dropped and counted.
	// Defaults to 64.
	WriteQueue int `yaml:"write_queue"`
	// MaxResultPackets and MaxResultBytes bound one query's result unless
	// the query sets a smaller limit. Default to 10,000,000 packets and
	// 4GiB.
	MaxResultPackets int64    `yaml:"max_result_packets"`
	MaxResultBytes   ByteSize `yaml:"max_result_bytes"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxBytes:         100 << 30,
		MaxAge:           30 * 24 * time.Hour,
		MinFree:          1 << 30,
		PinFor:           90 * 24 * time.Hour,
		FileSize:         256 << 20,
		FileDuration:     5 * time.Minute,
		WriteBuffer:      1 << 20,
		WriteQueue:       64,
		MaxResultPackets: 10_000_000,
		MaxResultBytes:   4 << 30,
	}
}

const (
	maxFileSize    = 2 << 30 // offsets in the index are 32-bit
	minWriteBuffer = 64 << 10
	maxWriteBuffer = 64 << 20
)

// WithDefaults fills zero fields with their defaults and checks the rest,
// naming fields by their configuration keys.
func (c Config) WithDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	size := func(name string, v *ByteSize, def ByteSize, lo, hi ByteSize) {
		switch {
		case *v == 0:
			*v = def
		case *v < lo:
			errs = append(errs, fmt.Errorf("%s: must be at least %s, got %s", name, lo, *v))
		case hi > 0 && *v > hi:
			errs = append(errs, fmt.Errorf("%s: must be at most %s, got %s", name, hi, *v))
		}
	}
	size("max_bytes", &c.MaxBytes, d.MaxBytes, 64<<10, 0)
	if c.MinFree == 0 {
		c.MinFree = d.MinFree
	}
	size("file_size", &c.FileSize, d.FileSize, 64<<10, maxFileSize)
	size("write_buffer", &c.WriteBuffer, d.WriteBuffer, minWriteBuffer, maxWriteBuffer)
	size("max_result_bytes", &c.MaxResultBytes, d.MaxResultBytes, 1<<10, 0)
	if c.MaxAge == 0 {
		c.MaxAge = d.MaxAge
	} else if c.MaxAge > 0 && c.MaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("max_age: must be at least 1m (or negative for none), got %s", c.MaxAge))
	}
	switch {
	case c.PinFor == 0:
		c.PinFor = d.PinFor
	case c.PinFor < time.Minute:
		errs = append(errs, fmt.Errorf("pin_for: must be at least 1m, got %s", c.PinFor))
	}
	switch {
	case c.FileDuration == 0:
		c.FileDuration = d.FileDuration
	case c.FileDuration < time.Second:
		errs = append(errs, fmt.Errorf("file_duration: must be at least 1s, got %s", c.FileDuration))
	}
	switch {
	case c.WriteQueue == 0:
		c.WriteQueue = d.WriteQueue
	case c.WriteQueue < 2 || c.WriteQueue > 4096:
		errs = append(errs, fmt.Errorf("write_queue: must be between 2 and 4096, got %d", c.WriteQueue))
	}
	switch {
	case c.MaxResultPackets == 0:
		c.MaxResultPackets = d.MaxResultPackets
	case c.MaxResultPackets < 0:
		errs = append(errs, fmt.Errorf("max_result_packets: must be > 0, got %d", c.MaxResultPackets))
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys ("file_size: must be at most 2GiB, got 3GiB").
func (c Config) Validate() error {
	_, err := c.WithDefaults()
	return err
}

// ByteSize is a number of bytes. In the configuration file it is written as
// an integer or with a unit: 512KiB, 256MiB, 100GiB, 2TiB (powers of 1024),
// or kB, MB, GB, TB (powers of 1000).
type ByteSize int64

// String formats s with the largest binary unit that divides it.
func (s ByteSize) String() string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := int64(s), 0
	for i < len(units)-1 && v != 0 && v%1024 == 0 {
		v /= 1024
		i++
	}
	return strconv.FormatInt(v, 10) + units[i]
}

// ParseByteSize parses a size such as "256MiB", "10GB" or "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size such as 256MiB or 10GB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 256MiB or 10GB", s)
	}
	mult := int64(1)
	switch strings.TrimSpace(t[i:]) {
	case "", "B":
	case "KiB", "K", "k":
		mult = 1 << 10
	case "MiB", "M":
		mult = 1 << 20
	case "GiB", "G":
		mult = 1 << 30
	case "TiB", "T":
		mult = 1 << 40
	case "kB", "KB":
		mult = 1e3
	case "MB":
		mult = 1e6
	case "GB":
		mult = 1e9
	case "TB":
		mult = 1e12
	default:
		return 0, fmt.Errorf("%q: unknown unit (use KiB, MiB, GiB, TiB, kB, MB, GB or TB)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseByteSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML decodes a size from YAML (the yaml package's function form,
// so this package need not import it). A bad size is reported by the yaml
// decoder with its line: it is decoded again as a plain integer, which fails
// with "line N: cannot unmarshal".
func (s *ByteSize) UnmarshalYAML(unmarshal func(any) error) error {
	var text string
	if err := unmarshal(&text); err != nil {
		return err
	}
	v, err := ParseByteSize(text)
	if err != nil {
		var n int64
		if err2 := unmarshal(&n); err2 != nil {
			return err2
		}
		v = ByteSize(n)
	}
	*s = v
	return nil
}
