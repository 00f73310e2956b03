package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"mamori/pipeline/output/spool"
)

// Config is the elasticsearch: section of the configuration file. A zero
// field means the default in its comment.
type Config struct {
	// Enabled ships records to Elasticsearch. Defaults to false: records go
	// to NDJSON files only.
	Enabled bool `yaml:"enabled"`
	// URLs of the cluster's HTTP endpoints, e.g. https://es1:9200.
	URLs []string `yaml:"urls"`
	// APIKey is the encoded API key (base64 of "id:key", as Kibana and the
	// create API key API return it). It takes precedence over Username.
	APIKey string `yaml:"api_key"`
	// Username and Password for basic authentication.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CAFile is a PEM file with the CA that signed the cluster's certificate.
	CAFile string `yaml:"ca_file"`
	// CAFingerprint is the SHA-256 fingerprint (hex, colons allowed) of the
	// cluster's CA or certificate, as Elasticsearch prints it on first start.
	CAFingerprint string `yaml:"ca_fingerprint"`
	// CompressionLevel is the gzip level of request bodies, 1 (fastest) to 9;
	// -1 sends them uncompressed. Defaults to 1.
	CompressionLevel int `yaml:"compression_level"`
	// Workers is the number of concurrent bulk requests for flows and
	// protocol records. Defaults to 2.
	Workers int `yaml:"workers"`
	// FlushBytes is the uncompressed size of one bulk request. Defaults to
	// 5 MiB.
	FlushBytes spool.Size `yaml:"flush_bytes"`
	// FlushInterval bounds how long a flow waits in a partly filled bulk
	// request. Defaults to 5s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// AlertFlushInterval is the same for alerts, which have their own
	// indexer so that flows never delay them. Defaults to 1s.
	AlertFlushInterval time.Duration `yaml:"alert_flush_interval"`
	// Timeout is the limit of one HTTP request. Defaults to 60s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBackoff caps the wait between retries (exponential, with jitter,
	// from 500ms). Defaults to 60s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Spool keeps records on disk while the cluster is slow or away.
	Spool SpoolConfig `yaml:"spool"`
}

// SpoolConfig sizes the two spools: one for flows, protocol records and
// health, one (the alerts' reserve) for alerts.
type SpoolConfig struct {
	// Dir defaults to <sensor.data_dir>/spool.
	Dir string `yaml:"dir"`
	// MaxBytes bounds the flow spool; past it the newest flows and protocol
	// records are dropped and counted. Defaults to 4 GiB.
	MaxBytes spool.Size `yaml:"max_bytes"`
	// AlertBytes is the alerts' own spool. Alerts are never dropped: past
	// this they are still kept, and counted. Defaults to 256 MiB.
	AlertBytes spool.Size `yaml:"alert_bytes"`
	// SegmentBytes is the size of one spool file. Defaults to 64 MiB.
	SegmentBytes spool.Size `yaml:"segment_bytes"`
	// QueueBytes bounds the in-memory queue in front of the files.
	// Defaults to 64 MiB.
	QueueBytes spool.Size `yaml:"queue_bytes"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		CompressionLevel:   1,
		Workers:            2,
		FlushBytes:         5 << 20,
		FlushInterval:      5 * time.Second,
		AlertFlushInterval: time.Second,
		Timeout:            60 * time.Second,
		MaxBackoff:         60 * time.Second,
		Spool: SpoolConfig{
			MaxBytes:     4 << 30,
			AlertBytes:   256 << 20,
			SegmentBytes: 64 << 20,
			QueueBytes:   64 << 20,
		},
	}
}

// WithDefaults fills zero fields and checks the rest; errors name the
// configuration keys.
func (c Config) WithDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	if c.CompressionLevel == 0 {
		c.CompressionLevel = d.CompressionLevel
	} else if c.CompressionLevel < -1 || c.CompressionLevel > 9 {
		errs = append(errs, fmt.Errorf("compression_level: 1 to 9, or -1 for none; got %d", c.CompressionLevel))
	}
	if c.Workers == 0 {
		c.Workers = d.Workers
	} else if c.Workers < 0 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("workers: 1 to 64, got %d", c.Workers))
	}
	sz := func(name string, v *spool.Size, def, min spool.Size) {
		if *v == 0 {
			*v = def
		} else if *v < min {
			errs = append(errs, fmt.Errorf("%s: at least %s, got %s", name, min, *v))
		}
	}
	sz("flush_bytes", &c.FlushBytes, d.FlushBytes, 4<<10)
	if c.FlushBytes > 100<<20 {
		errs = append(errs, fmt.Errorf("flush_bytes: at most 100MiB (http.max_content_length), got %s", c.FlushBytes))
	}
	dur := func(name string, v *time.Duration, def, min time.Duration) {
		if *v == 0 {
			*v = def
		} else if *v < min {
			errs = append(errs, fmt.Errorf("%s: at least %s, got %s", name, min, *v))
		}
	}
	dur("flush_interval", &c.FlushInterval, d.FlushInterval, time.Millisecond)
	dur("alert_flush_interval", &c.AlertFlushInterval, d.AlertFlushInterval, time.Millisecond)
	dur("timeout", &c.Timeout, d.Timeout, 100*time.Millisecond)
	dur("max_backoff", &c.MaxBackoff, d.MaxBackoff, 10*time.Millisecond)
	sz("spool.max_bytes", &c.Spool.MaxBytes, d.Spool.MaxBytes, 1<<20)
	sz("spool.alert_bytes", &c.Spool.AlertBytes, d.Spool.AlertBytes, 1<<20)
	sz("spool.segment_bytes", &c.Spool.SegmentBytes, d.Spool.SegmentBytes, 64<<10)
	sz("spool.queue_bytes", &c.Spool.QueueBytes, d.Spool.QueueBytes, 64<<10)
	if c.Spool.SegmentBytes > c.Spool.AlertBytes || c.Spool.SegmentBytes > c.Spool.MaxBytes {
		errs = append(errs, fmt.Errorf("spool.segment_bytes: at most spool.alert_bytes and spool.max_bytes, got %s", c.Spool.SegmentBytes))
	}
	if c.Enabled && len(c.URLs) == 0 {
		errs = append(errs, errors.New("urls: at least one URL is needed when enabled"))
	}
	for i, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("urls.%d: %q is not an http or https URL", i, u))
		}
	}
	if c.APIKey == "" && c.Username == "" && c.Password != "" {
		errs = append(errs, errors.New("password: set without username"))
	}
	if fp := normFingerprint(c.CAFingerprint); c.CAFingerprint != "" && len(fp) != 64 {
		errs = append(errs, fmt.Errorf("ca_fingerprint: want 64 hex digits (SHA-256), got %q", c.CAFingerprint))
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c.
func (c Config) Validate() error {
	_, err := c.WithDefaults()
	return err
}

// normFingerprint lowercases a fingerprint and removes colons and spaces;
// it returns "" when something else than hex digits remains.
func normFingerprint(s string) string {
	s = strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return ""
		}
	}
	return s
}

// spoolConfigs derives the two spools' configurations.
func (c Config) spoolConfigs(dir string) (flows, alerts spool.Config) {
	flows = spool.Config{Dir: dir + "/flows", MaxBytes: c.Spool.MaxBytes, SegmentBytes: c.Spool.SegmentBytes, QueueBytes: c.Spool.QueueBytes}
	alerts = spool.Config{Dir: dir + "/alerts", MaxBytes: c.Spool.AlertBytes, SegmentBytes: c.Spool.SegmentBytes, QueueBytes: min(c.Spool.QueueBytes, c.Spool.AlertBytes)}
	return flows, alerts
}
