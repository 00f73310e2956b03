package elasticsearch

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func tlsES(t *testing.T) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		io.WriteString(w, `{"name":"fake","cluster_name":"replay","version":{"number":"8.19.7","build_flavor":"default"},"tagline":"You Know, for Search"}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSTrust(t *testing.T) {
	srv := tlsES(t)
	sum := sha256.Sum256(srv.Certificate().Raw)
	fp := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(fp); i += 2 {
		colons = append(colons, strings.ToUpper(fp[i:i+2]))
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	other := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"no trust", Config{}, false},
		{"fingerprint", Config{CAFingerprint: fp}, true},
		{"fingerprint with colons", Config{CAFingerprint: strings.Join(colons, ":")}, true},
		{"other fingerprint", Config{CAFingerprint: other}, false},
		{"ca file", Config{CAFile: caFile}, true},
		{"ca file, uncompressed", Config{CAFile: caFile, CompressionLevel: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.URLs, tc.cfg.MaxBackoff = []string{srv.URL}, 40*time.Millisecond
			c, err := NewClient(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Info()
			if err == nil {
				res.Body.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("Info: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := NewClient(Config{URLs: []string{srv.URL}, CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("missing ca_file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := NewClient(Config{URLs: []string{srv.URL}, CAFile: bad}); err == nil {
		t.Error("ca_file without a certificate accepted")
	}
}

// The body the server decompresses (with compress/gzip, as a cluster's
// own gzip decoder would) is the body the caller sent, also when the
// transport retries the request.
func TestGzipTransport(t *testing.T) {
	var got [][]byte
	var sizes []int64
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		sizes = append(sizes, r.ContentLength)
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Content-Encoding %q", r.Header.Get("Content-Encoding"))
		}
		zr, err := stdgzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Write([]byte(`{"errors":false,"items":[]}`))
	}))
	defer srv.Close()
	c, err := NewClient(Config{URLs: []string{srv.URL}, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte(`{"create":{}}`+"\n"+`{"a":1}`+"\n"), 10000)
	res, err := c.Bulk(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(got) != 2 {
		t.Fatalf("status %d after %d requests", res.StatusCode, len(got))
	}
	for i, g := range got {
		if !bytes.Equal(g, body) {
			t.Errorf("request %d: %d bytes arrived, %d sent", i, len(g), len(body))
		}
	}
	if sizes[0] <= 0 || sizes[0] > int64(len(body)/10) || sizes[1] != sizes[0] {
		t.Errorf("compressed to %v bytes of %d", sizes, len(body))
	}
}
