// Package rulestest is the shared test harness of the rules: crafted flow
// records, a collector for raised alerts, a driver that feeds records and
// packet-time ticks to a detector, deterministic alert NDJSON for golden
// files, and a generator of hospital traffic with labelled attack
// episodes and near misses (Scenario).
//
// It is imported only by _test.go files.
package rulestest
