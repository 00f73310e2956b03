// Package output defines where records go: a Sink. The NDJSON file sink
// (output/ndjson) is the default; the Elasticsearch sink and its disk spool
// come in their own packages.
package output

import "mamori/pipeline/event"

// Sink receives records in order. Write must not retain r after it returns.
// A Sink is owned by one goroutine unless its documentation says otherwise.
type Sink interface {
	Write(r event.Record) error
	// Flush pushes buffered records to their destination.
	Flush() error
	Close() error
}
