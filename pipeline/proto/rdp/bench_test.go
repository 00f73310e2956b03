package rdp

import (
	"testing"

	"mamori/pipeline/proto/prototest"
)

// BenchmarkSession measures the parser alone (Match, session, records) on
// the bundled captures' flows, already reassembled.
func BenchmarkSession(b *testing.B) {
	prototest.BenchSessions(b, mustNew(b, Config{}), captures, false)
}
