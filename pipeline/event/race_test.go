//go:build race

package event

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
