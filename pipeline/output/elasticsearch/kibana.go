package elasticsearch

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// KibanaObjects are mamori's Kibana saved objects as NDJSON (the format of
// Kibana's saved-objects export): the data views logs-mamori.*-* and
// metrics-mamori.*-*, visualisations (alerts by rule over time, alerts by
// rule/severity/host, flows over time, top talkers, external peers, RDP and
// SMB activity) and the "mamori overview" dashboard. Stable ids (mamori-*)
// make a re-import an overwrite.
//
//go:embed kibana/mamori.ndjson
var KibanaObjects []byte

// KibanaResult is Kibana's answer to an import.
type KibanaResult struct {
	Success      bool `json:"success"`
	SuccessCount int  `json:"successCount"`
	Errors       []struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	} `json:"errors"`
}

// ImportKibana imports KibanaObjects through Kibana's saved-objects API
// (POST /api/saved_objects/_import?overwrite=true), authenticating as cfg
// does (API key, else basic). Kibana answers 200 even when objects fail:
// those are returned as an error.
func ImportKibana(ctx context.Context, kibanaURL string, cfg Config, client *http.Client) (KibanaResult, error) {
	var res KibanaResult
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", "mamori.ndjson")
	if err != nil {
		return res, err
	}
	part.Write(KibanaObjects)
	mw.Close()
	u := strings.TrimRight(kibanaURL, "/") + "/api/saved_objects/_import?overwrite=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &body)
	if err != nil {
		return res, fmt.Errorf("kibana: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("kbn-xsrf", "true")
	switch {
	case cfg.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+cfg.APIKey)
	case cfg.Username != "":
		req.SetBasicAuth(cfg.Username, cfg.Password)
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return res, fmt.Errorf("kibana: importing saved objects: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		return res, fmt.Errorf("kibana: importing saved objects: %d %s", resp.StatusCode, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("kibana: reading import result: %w", err)
	}
	if !res.Success || len(res.Errors) > 0 {
		var ids []string
		for _, e := range res.Errors {
			ids = append(ids, e.Type+"/"+e.ID+": "+e.Error.Type)
		}
		return res, fmt.Errorf("kibana: %d objects imported, %d failed: %s", res.SuccessCount, len(res.Errors), strings.Join(ids, ", "))
	}
	return res, nil
}
