// Package worker runs one packet path: it reads a sensor.Source, decodes
// each packet, accounts it to the flow table and hands finished records to
// an output function. Live capture runs one Worker per fanout ring; a replay
// runs one over the merged input files.
//
// A Worker owns its decoder, flow table and counters and runs on one
// goroutine: nothing in it is locked or safe for concurrent use. Its only
// clock is packet time. Per-packet problems are counted by reason, never
// logged one by one; the first problem of each kind per input is reported
// to the caller with the file and packet index, so a person can find it.
package worker
