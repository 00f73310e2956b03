package elasticsearch

import (
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
)

// NewClient builds the Elasticsearch client from cfg: authentication (API
// key, else basic), TLS trust (CA file, or a pinned fingerprint), gzip
// request bodies (gzipTransport), and transport-level retries of whole
// requests answered 429, 502, 503 or 504 (or not answered) with
// exponential backoff and jitter. It reads cfg.CAFile. The client is safe
// for concurrent use.
func NewClient(cfg Config) (*elasticsearch.Client, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("urls: none configured")
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   8, // the default of 2 churns connections with several workers
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if cfg.CompressionLevel > gzip.BestCompression {
		return nil, fmt.Errorf("compression_level: %d", cfg.CompressionLevel)
	}
	// TLS trust is set on tr here, not through the client's CACert and
	// CertificateFingerprint, which need tr to be the client's transport.
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s: no PEM certificate", cfg.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if cfg.CAFingerprint != "" {
		if err := pinFingerprint(tr, normFingerprint(cfg.CAFingerprint)); err != nil {
			return nil, err
		}
	}
	var rt http.RoundTripper = tr
	if cfg.CompressionLevel > 0 {
		rt = newGzipTransport(tr, cfg.CompressionLevel)
	}
	ec := elasticsearch.Config{
		Addresses:     cfg.URLs,
		APIKey:        cfg.APIKey,
		Transport:     rt,
		RetryOnStatus: []int{429, 502, 503, 504},
		MaxRetries:    3,
		RetryBackoff:  backoff(500*time.Millisecond, cfg.MaxBackoff/4),
	}
	if cfg.APIKey == "" {
		ec.Username, ec.Password = cfg.Username, cfg.Password
	}
	c, err := elasticsearch.NewClient(ec)
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return c, nil
}

// backoff returns an exponential backoff with jitter: attempt n waits a
// random duration in [d/2, d) where d = base·2^(n-1), capped at limit.
func backoff(base, limit time.Duration) func(int) time.Duration {
	return func(n int) time.Duration { return jittered(base, limit, n) }
}

func jittered(base, limit time.Duration, n int) time.Duration {
	d := base << min(max(n-1, 0), 20)
	if d > limit || d <= 0 {
		d = limit
	}
	return d/2 + rand.N(d/2+1)
}
