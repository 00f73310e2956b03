package afpacket

import (
	"testing"

	"mamori/internal/testenv"
)

// The test network (a namespace of the test's own with a veth pair) is
// shared with the other live-capture tests: internal/testenv.
type testNet = testenv.Net

func newTestNet(t testing.TB, mtu int) *testNet { return testenv.NewNet(t, mtu) }
