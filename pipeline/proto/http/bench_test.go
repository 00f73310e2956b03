package http

import (
	"testing"

	"mamori/pipeline/proto/prototest"
)

// BenchmarkSession measures the parser alone (Match, session, records) on
// the bundled captures' flows, already reassembled.
func BenchmarkSession(b *testing.B) {
	var paths []string
	for _, c := range captures {
		if !c.shared {
			paths = append(paths, c.rel)
		}
	}
	prototest.BenchSessions(b, mustNew(b, Config{}), paths, false)
}
