package elasticsearch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
)

// AssetVersion is bumped when the assets change in a way their digest
// alone should not decide (it is in _meta too).
const AssetVersion = 1

// PolicyName is the ILM policy: rollover at 50 GB a primary shard or 30
// days, warm (force-merged, read-only) at 30 days, cold at 90, deleted 400
// days after rollover, so every document is kept at least 400 days.
const PolicyName = "mamori-400d"

// Asset is one object setup installs: an ILM policy, a component template
// or an index template.
type Asset struct {
	Kind string // "ilm_policy", "component_template", "index_template"
	Name string
	Path string // REST path, e.g. "/_ilm/policy/mamori-400d"
	Body []byte // the PUT body, _meta included
	// Digest identifies Body without _meta; it is in _meta.digest.
	Digest string
}

func meta(extra map[string]any) map[string]any {
	m := map[string]any{"managed_by": "mamori", "version": AssetVersion}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// Assets returns the ILM policy and templates in installation order.
func Assets() []Asset {
	ilm := map[string]any{"policy": map[string]any{
		"phases": map[string]any{
			"hot": map[string]any{"min_age": "0ms", "actions": map[string]any{
				"rollover":     map[string]any{"max_primary_shard_size": "50gb", "max_age": "30d"},
				"set_priority": map[string]any{"priority": 100},
			}},
			"warm": map[string]any{"min_age": "30d", "actions": map[string]any{
				"forcemerge":   map[string]any{"max_num_segments": 1},
				"readonly":     map[string]any{},
				"set_priority": map[string]any{"priority": 50},
			}},
			"cold": map[string]any{"min_age": "90d", "actions": map[string]any{
				"set_priority": map[string]any{"priority": 0},
			}},
			"delete": map[string]any{"min_age": "400d", "actions": map[string]any{
				"delete": map[string]any{"delete_searchable_snapshot": true},
			}},
		},
	}}
	mappings := map[string]any{"template": map[string]any{"mappings": map[string]any{
		"properties": properties(Fields),
	}}}
	healthMappings := map[string]any{"template": map[string]any{"mappings": map[string]any{
		// Health records carry counters as mamori.<component>.<name>.
		"dynamic_templates": []any{map[string]any{"mamori_counters": map[string]any{
			"path_match": "mamori.*", "match_mapping_type": "long", "mapping": map[string]any{"type": "long"},
		}}},
	}}}
	settings := map[string]any{"template": map[string]any{"settings": map[string]any{
		"index.lifecycle.name":             PolicyName,
		"index.codec":                      "best_compression",
		"index.number_of_shards":           1,
		"index.refresh_interval":           "5s",
		"index.mapping.total_fields.limit": 2000,
		"index.mapping.ignore_malformed":   true,
		"index.query.default_field":        []string{"message", "source.ip", "destination.ip", "dns.question.name", "tls.client.server_name", "rule.name", "url.original"},
	}}}
	logsTemplate := map[string]any{
		"index_patterns":                     []string{"logs-mamori.*-*"},
		"data_stream":                        map[string]any{},
		"priority":                           501,
		"composed_of":                        []string{"logs@mappings", "logs@settings", "ecs@mappings", "mamori-mappings", "mamori-settings", "logs-mamori@custom"},
		"ignore_missing_component_templates": []string{"logs@mappings", "logs@settings", "ecs@mappings", "logs-mamori@custom"},
	}
	metricsTemplate := map[string]any{
		"index_patterns":                     []string{"metrics-mamori.*-*"},
		"data_stream":                        map[string]any{},
		"priority":                           501,
		"composed_of":                        []string{"metrics@mappings", "metrics@settings", "ecs@mappings", "mamori-mappings", "mamori-health-mappings", "mamori-settings", "metrics-mamori@custom"},
		"ignore_missing_component_templates": []string{"metrics@mappings", "metrics@settings", "ecs@mappings", "metrics-mamori@custom"},
	}
	var out []Asset
	add := func(kind, name, path string, body map[string]any, metaAt map[string]any) {
		plain, _ := json.Marshal(body)
		sum := sha256.Sum256(plain)
		digest := hex.EncodeToString(sum[:12])
		metaAt["_meta"] = meta(map[string]any{"digest": digest})
		b, err := json.MarshalIndent(body, "", "  ")
		if err != nil {
			panic(err) // static data: cannot happen
		}
		out = append(out, Asset{Kind: kind, Name: name, Path: path, Body: append(b, '\n'), Digest: digest})
	}
	add("ilm_policy", PolicyName, "/_ilm/policy/"+PolicyName, ilm, ilm["policy"].(map[string]any))
	add("component_template", "mamori-mappings", "/_component_template/mamori-mappings", mappings, mappings)
	add("component_template", "mamori-health-mappings", "/_component_template/mamori-health-mappings", healthMappings, healthMappings)
	add("component_template", "mamori-settings", "/_component_template/mamori-settings", settings, settings)
	add("index_template", "logs-mamori", "/_index_template/logs-mamori", logsTemplate, logsTemplate)
	add("index_template", "metrics-mamori", "/_index_template/metrics-mamori", metricsTemplate, metricsTemplate)
	return out
}

// SetupResult says what Setup did with one asset.
type SetupResult struct {
	Asset  Asset
	Action string // "installed", "updated", "unchanged"
}

// ErrUnsupportedVersion is returned for clusters older than 8.7 (the
// first with ignore_missing_component_templates).
var ErrUnsupportedVersion = errors.New("unsupported Elasticsearch version")

// Setup installs the assets in order, skipping those whose installed
// _meta.digest is the same (unless force), so running it again is a no-op.
// It needs a key with manage_ilm and manage_index_templates, not the
// sensor's shipping key.
func Setup(ctx context.Context, c *elasticsearch.Client, force bool) (version string, results []SetupResult, err error) {
	if version, err = ClusterVersion(ctx, c); err != nil {
		return "", nil, err
	}
	for _, a := range Assets() {
		installed, err := installedDigest(ctx, c, a)
		if err != nil {
			return version, results, err
		}
		if installed == a.Digest && !force {
			results = append(results, SetupResult{a, "unchanged"})
			continue
		}
		if _, err := do(ctx, c, http.MethodPut, a.Path, a.Body); err != nil {
			return version, results, fmt.Errorf("installing %s %s: %w", a.Kind, a.Name, err)
		}
		action := "installed"
		if installed != "" {
			action = "updated"
		}
		results = append(results, SetupResult{a, action})
	}
	return version, results, nil
}

// CheckResult is the state of one asset on the cluster.
type CheckResult struct {
	Asset Asset
	State string // "current", "outdated", "missing"
}

// Check compares the installed assets with these and lists mamori's data
// streams.
func Check(ctx context.Context, c *elasticsearch.Client) (version string, assets []CheckResult, streams []string, err error) {
	if version, err = ClusterVersion(ctx, c); err != nil {
		return "", nil, nil, err
	}
	for _, a := range Assets() {
		d, err := installedDigest(ctx, c, a)
		if err != nil {
			return version, assets, nil, err
		}
		st := "current"
		switch {
		case d == "":
			st = "missing"
		case d != a.Digest:
			st = "outdated"
		}
		assets = append(assets, CheckResult{a, st})
	}
	body, err := do(ctx, c, http.MethodGet, "/_data_stream/logs-mamori.*,metrics-mamori.*", nil)
	if err != nil {
		return version, assets, nil, err
	}
	var ds struct {
		DataStreams []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		} `json:"data_streams"`
	}
	if err := json.Unmarshal(body, &ds); err != nil {
		return version, assets, nil, fmt.Errorf("reading data streams: %w", err)
	}
	for _, d := range ds.DataStreams {
		streams = append(streams, d.Name+" (template "+d.Template+")")
	}
	return version, assets, streams, nil
}

// ClusterVersion asks GET / (which also passes the client's product check)
// and refuses versions before 8.7.
func ClusterVersion(ctx context.Context, c *elasticsearch.Client) (string, error) {
	body, err := do(ctx, c, http.MethodGet, "/", nil)
	if err != nil {
		return "", err
	}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("reading cluster info: %w", err)
	}
	v := info.Version.Number
	maj, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(maj)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || ma < 8 || ma == 8 && mi < 7 {
		return v, fmt.Errorf("%w %q: need 8.7 or later", ErrUnsupportedVersion, v)
	}
	return v, nil
}

// installedDigest returns the _meta.digest of the installed asset, "" when
// it is missing or was not installed by mamori.
func installedDigest(ctx context.Context, c *elasticsearch.Client, a Asset) (string, error) {
	body, err := do(ctx, c, http.MethodGet, a.Path, nil)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s %s: %w", a.Kind, a.Name, err)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("reading %s %s: %w", a.Kind, a.Name, err)
	}
	return findDigest(v), nil
}

// findDigest finds the first _meta written by mamori in a GET response
// (the three APIs nest it differently).
func findDigest(v any) string {
	switch x := v.(type) {
	case map[string]any:
		if m, ok := x["_meta"].(map[string]any); ok && m["managed_by"] == "mamori" {
			d, _ := m["digest"].(string)
			return d
		}
		for _, c := range x {
			if d := findDigest(c); d != "" {
				return d
			}
		}
	case []any:
		for _, c := range x {
			if d := findDigest(c); d != "" {
				return d
			}
		}
	}
	return ""
}

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

func do(ctx context.Context, c *elasticsearch.Client, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Perform(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return b, &HTTPError{Method: method, Path: path, Status: res.StatusCode, Body: string(bytes.TrimSpace(b[:min(len(b), 512)]))}
	}
	return b, nil
}
