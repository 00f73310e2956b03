package dns

import (
	"testing"

	"mamori/pipeline/proto/prototest"
)

// BenchmarkSession measures the parser alone (Match, session, records) on
// the bundled captures' flows, already reassembled.
func BenchmarkSession(b *testing.B) {
	prototest.BenchSessions(b, mustNew(b, Config{}), bundled, false)
}

// BenchmarkSessionJSON is BenchmarkSession with every record encoded as
// the NDJSON output would encode it.
func BenchmarkSessionJSON(b *testing.B) {
	prototest.BenchSessions(b, mustNew(b, Config{}), bundled, true)
}
