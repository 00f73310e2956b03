package nightbeacon

import (
	"math"
	"slices"
	"time"
)

// Score is the periodicity of a series of beats (see the package doc).
type Score struct {
	Period     time.Duration
	Intervals  int     // intervals scored
	Single     int     // regular intervals of one period (no missed beat)
	Regular    float64 // share of regular intervals
	Dispersion float64 // MAD of normalised intervals / period
	Skew       float64 // Bowley skewness of normalised intervals
	Timing     float64
	Size       float64
	Total      float64
	// Cluster is the most intervals that any period could count as
	// single (within MaxJitter of it): an upper bound of Single for every
	// period, whatever the median becomes as beats come and go.
	Cluster int
}

// score rates the beats at times (ascending) with their sizes. It
// allocates nothing: a series holds at most maxBeats beats, and the work
// arrays live on the stack.
func score(times []time.Time, sizes []uint64, maxJitter float64) Score {
	var s Score
	if len(times) < 3 || len(times) > maxBeats || len(sizes) != len(times) {
		return s
	}
	var ivb, sortedb, normb, devb [maxBeats]float64
	iv := ivb[:0]
	for i := 1; i < len(times); i++ {
		iv = append(iv, times[i].Sub(times[i-1]).Seconds())
	}
	sorted := append(sortedb[:0], iv...)
	slices.Sort(sorted)
	p := sortedMedian(sorted)
	if p <= 0 {
		return s
	}
	s.Cluster = cluster(sorted, maxJitter)
	s.Period = time.Duration(p * float64(time.Second))
	s.Intervals = len(iv)
	norm := normb[:0]
	regular := 0
	for _, d := range iv {
		k := math.Round(d / p)
		if k < 1 {
			k = 1
		}
		n := d / k
		norm = append(norm, n)
		// Jitter adds up over missed beats: allow √k times the jitter.
		if k <= 2 && math.Abs(d-k*p) <= maxJitter*p*math.Sqrt(k) {
			regular++
			if k == 1 {
				s.Single++
			}
		}
	}
	s.Regular = float64(regular) / float64(len(iv))
	slices.Sort(norm) // the order of the normalised intervals plays no part below
	m := sortedMedian(norm)
	dev := devb[:len(norm)]
	for i, n := range norm {
		dev[i] = math.Abs(n - m)
	}
	slices.Sort(dev)
	s.Dispersion = sortedMedian(dev) / p
	s.Skew = bowley(norm)
	s.Timing = s.Regular * (0.8*(1-math.Min(1, s.Dispersion/(2*maxJitter))) + 0.2*(1-math.Abs(s.Skew)))

	fs := sortedb[:len(sizes)]
	for i, v := range sizes {
		fs[i] = float64(v)
	}
	slices.Sort(fs)
	ms := sortedMedian(fs)
	for i, v := range fs {
		fs[i] = math.Abs(v - ms)
	}
	slices.Sort(fs)
	s.Size = 1
	if ms > 0 {
		s.Size = 1 - math.Min(1, sortedMedian(fs)/(ms/2))
	}
	s.Total = 0.75*s.Timing + 0.25*s.Size
	return s
}

// cluster is the largest number of the sorted intervals v that one period
// P counts as single, |d − P| ≤ maxJitter·P: those lying within a factor
// (1+maxJitter)/(1−maxJitter) of each other. The bound is widened by a
// hair so that float rounding in the single test can never beat it.
func cluster(v []float64, maxJitter float64) int {
	best, hi := 0, 0
	for lo := range v {
		lim := v[lo] * (1 + maxJitter) / (1 - maxJitter) * (1 + 1e-9)
		for hi < len(v) && v[hi] <= lim {
			hi++
		}
		best = max(best, hi-lo)
	}
	return best
}

// sortedMedian is the median of sorted v.
func sortedMedian(v []float64) float64 {
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// quantile by linear interpolation on sorted v.
func quantile(v []float64, q float64) float64 {
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

// bowley is the Bowley (quartile) skewness of sorted v, 0 when the
// quartiles meet.
func bowley(s []float64) float64 {
	q1, q2, q3 := quantile(s, 0.25), quantile(s, 0.5), quantile(s, 0.75)
	if q3-q1 < 1e-9*math.Max(1, q2) {
		return 0
	}
	return (q3 + q1 - 2*q2) / (q3 - q1)
}
