//go:build race

package nightbeacon

// raceEnabled: the race detector slows the statistical tests tenfold.
const raceEnabled = true
