// Package service wires the layers together: sources from sensor, the packet
// path from pipeline, outputs, and (later) rules and the API. It is the only
// package that knows all of them. Its entry points are what the command line
// runs: Replay now, the live service later.
package service
