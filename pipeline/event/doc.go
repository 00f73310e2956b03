// Package event defines the records mamori emits (flows, metrics, and later
// protocol records and alerts) and their Elastic Common Schema (ECS) JSON form.
//
// Records are typed Go structs, never map[string]any. Each one writes its own
// JSON with AppendJSON into a caller-owned buffer through the small JSON
// writer in this package, so encoding a record allocates nothing and the
// field order is fixed (goldens are byte-for-byte stable).
//
// Invariants:
//   - Every record carries @timestamp, ecs.version, event.{kind,dataset,module}
//     and observer.* (which sensor, which interface).
//   - Times are packet times in UTC with nanosecond precision.
//   - event.dataset equals data_stream.dataset, so the same line can be sent to
//     an Elasticsearch data stream unchanged.
//
// Nothing in this package is safe for concurrent use unless stated; records
// are values handed from one stage to the next.
package event
