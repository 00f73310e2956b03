// Package elasticsearch ships records to Elasticsearch data streams and
// installs what those need (ILM policy, component and index templates,
// Kibana saved objects).
//
// # Path of a record
//
// Write encodes the record (event.Record.AppendJSON) and puts it, with its
// data stream name and _id, into a spool (pipeline/output/spool): it never
// blocks and never does I/O, so the packet path can call it. There are two
// lanes, each a spool feeding its own esutil.BulkIndexer:
//
//   - flows: flows, protocol records, health metrics and dead letters;
//     several workers, large requests (FlushBytes, FlushInterval). At the
//     spool's cap the newest of these are dropped and counted.
//   - alerts: its own spool (the alerts' reserve, never dropped: past its
//     size alerts are still kept and counted) and a one-worker indexer with
//     a short flush interval, so that a flow backlog never delays an alert.
//
// Every document is sent with the create action into the data stream
// "<type>-<dataset>-<namespace>": logs-mamori.flow-default,
// logs-mamori.alert-hospital_a, metrics-mamori.health-default,
// logs-mamori.deadletter-default. Request bodies are gzip-compressed and the
// response is reduced with filter_path to what the per-item policy needs.
// A spooled document is acknowledged (and its segment eventually deleted)
// only when Elasticsearch has it.
//
// # Alerts
//
// An alert is a record whose Dataset is "mamori.alert" or that implements
// Alert (AlertID() string). Its _id is AlertID(), or a digest of its
// document when that is empty, so that re-sending it after a lost answer or
// a restart gives a 409, which counts as delivered. Flows and protocol
// records get automatic ids (faster to index); a flow can be duplicated
// only when the sensor crashes between Elasticsearch's answer and the
// spool's next cursor write, or when an answer is lost after the cluster
// indexed the request.
//
// # Failures (per item, as in the reference's §2.4)
//
//	2xx                      acknowledged (failure_store "used" counted apart)
//	409                      already there: acknowledged as a duplicate
//	429, 5xx, es_rejected_*  retried after an exponential backoff with jitter
//	other 4xx (mapping…)     written to logs-mamori.deadletter-<ns> with
//	                         error.type, error.message and event.original;
//	                         a refused dead letter is dropped and counted
//
// A whole request that fails (connection refused, timeout, 429, 5xx) is
// first retried by the transport (429, 502, 503, 504; three times with
// backoff); after that the lane's circuit breaker opens for a backoff that
// grows with consecutive failures (capped by MaxBackoff), reading from the
// spool pauses, and the documents are sent again when it closes. Documents
// stay in the spool all along, so an outage only grows the spool.
//
// # Concurrency
//
// Output's methods are safe for concurrent use. Each lane has one drainer
// goroutine (the only caller of BulkIndexer.Add); BulkIndexer callbacks only
// acknowledge, schedule retries or write dead letters into the spool, never
// Add, so they cannot deadlock on a full indexer queue.
package elasticsearch
