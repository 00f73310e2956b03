//go:build !race

package nightbeacon

const raceEnabled = false
