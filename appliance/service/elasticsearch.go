package service

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"mamori/appliance/config"
	"mamori/pipeline/event"
	"mamori/pipeline/output/elasticsearch"
	"mamori/pipeline/output/ndjson"
)

// OpenElasticsearch opens the Elasticsearch output described by cfg, with
// its spool under <sensor.data_dir>/spool unless elasticsearch.spool.dir
// says otherwise. Its Write never blocks: the packet path can call it.
// Records left in the spool by an earlier run are sent first.
func OpenElasticsearch(cfg *config.Config, obs *event.Observer) (*elasticsearch.Output, error) {
	return elasticsearch.New(cfg.Elasticsearch, elasticsearch.Options{
		Dir:      filepath.Join(cfg.Sensor.DataDir, "spool"),
		Observer: obs,
		Now:      time.Now,
	})
}

// esDrainWait is how long a replay waits at its end for the cluster to
// acknowledge everything; what is left stays spooled for the next run.
const esDrainWait = 2 * time.Minute

// teeSink writes NDJSON and, when configured, ships to Elasticsearch.
type teeSink struct {
	*ndjson.Writer
	es     *elasticsearch.Output
	stderr io.Writer
	quiet  bool
}

// withElasticsearch adds the Elasticsearch output to a replay's NDJSON
// sink when the configuration enables it.
func withElasticsearch(o ReplayOptions, cfg *config.Config, w *ndjson.Writer, obs *event.Observer) (*teeSink, error) {
	t := &teeSink{Writer: w, stderr: o.Stderr, quiet: o.Quiet}
	if !cfg.Elasticsearch.Enabled {
		return t, nil
	}
	es, err := OpenElasticsearch(cfg, obs)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: elasticsearch: %w", cfg.File, err)
	}
	t.es = es
	return t, nil
}

// Write writes r to the file and queues it for Elasticsearch, encoding it
// once when both write the same observer (they do: one run, one sensor).
func (t *teeSink) Write(r event.Record) error {
	if t.es == nil {
		return t.Writer.Write(r)
	}
	if t.es.Observer() != t.Writer.Observer() {
		if err := t.Writer.Write(r); err != nil {
			return err
		}
		return t.es.Write(r)
	}
	line, err := t.Writer.WriteLine(r)
	if err != nil {
		return err
	}
	return t.es.WriteJSON(r, line)
}

// Close closes the file, then waits (at most esDrainWait) for the cluster
// to acknowledge every record and closes the output; records it did not
// acknowledge stay in the spool.
func (t *teeSink) Close() error {
	err := t.Writer.Close()
	if t.es == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), esDrainWait)
	derr := t.es.Drain(ctx)
	cancel()
	st := t.es.Stats()
	if !t.quiet || derr != nil {
		fmt.Fprintf(t.stderr, "elasticsearch: %d flows/protocol records and %d alerts acknowledged (%d duplicates, %d dead-lettered, %d dropped at the spool cap)\n",
			st.Flows.Acked, st.Alerts.Acked, st.Flows.Duplicates+st.Alerts.Duplicates,
			st.Flows.DeadLettered+st.Alerts.DeadLettered, st.Flows.Spool.DroppedFull+st.Flows.Spool.DroppedQueue)
	}
	if derr != nil {
		fmt.Fprintf(t.stderr, "elasticsearch: %v; the rest stays in the spool and is sent by the next run\n", derr)
	}
	if cerr := t.es.Close(); err == nil {
		err = cerr
	}
	return err
}

// ESSetup installs the ILM policy and templates (and, with a Kibana URL,
// the saved objects), reporting each step on w. It uses the credentials of
// the elasticsearch: section, which need manage_ilm and
// manage_index_templates (and Kibana's saved-objects privileges).
func ESSetup(ctx context.Context, cfg *config.Config, kibana string, force bool, w io.Writer) error {
	c, err := elasticsearch.NewClient(cfg.Elasticsearch)
	if err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	version, res, err := elasticsearch.Setup(ctx, c, force)
	if version != "" {
		fmt.Fprintf(w, "cluster: Elasticsearch %s\n", version)
	}
	for _, r := range res {
		fmt.Fprintf(w, "%-9s %s %s\n", r.Action, r.Asset.Kind, r.Asset.Name)
	}
	if err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	if kibana != "" {
		kr, err := elasticsearch.ImportKibana(ctx, kibana, cfg.Elasticsearch, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "kibana: %d saved objects imported (dashboard \"mamori overview\")\n", kr.SuccessCount)
	}
	return nil
}

// ESCheck reports whether the cluster has current assets and which of
// mamori's data streams exist. It returns an error when an asset is
// missing or outdated.
func ESCheck(ctx context.Context, cfg *config.Config, w io.Writer) error {
	c, err := elasticsearch.NewClient(cfg.Elasticsearch)
	if err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	version, assets, streams, err := elasticsearch.Check(ctx, c)
	if version != "" {
		fmt.Fprintf(w, "cluster: Elasticsearch %s\n", version)
	}
	bad := 0
	for _, a := range assets {
		fmt.Fprintf(w, "%-9s %s %s\n", a.State, a.Asset.Kind, a.Asset.Name)
		if a.State != "current" {
			bad++
		}
	}
	for _, s := range streams {
		fmt.Fprintf(w, "stream    %s\n", s)
	}
	if err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("elasticsearch: %d assets missing or outdated: run mamori es setup", bad)
	}
	return nil
}
