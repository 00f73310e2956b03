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
	Multiple   int     // regular intervals spanning missed beats (k = 2 or 3)
	Missed     int     // the beats those missed: Σ(k − 1)
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
	var w scorer
	if len(sizes) != len(times) || len(times) > maxBeats {
		return Score{}
	}
	var ns [maxBeats]int64
	for i, t := range times {
		ns[i] = t.UnixNano()
	}
	s := w.period(ns[:len(times)], maxJitter, 0)
	if s.Intervals > 0 {
		w.rest(&s, sizes, maxJitter)
	}
	return s
}

// scorer is score in two steps, so that a series that fails the
// single-period test costs only the first: period (the period, the count
// of single and multiple intervals, Cluster), then rest (dispersion,
// skew, sizes, the scores). Its work arrays live on the caller's stack.
type scorer struct {
	sorted, norm, dev [maxBeats]float64
	n, regular        int
	p                 float64
}

// period fills Period, Intervals, Single, Multiple, Missed and Cluster
// from the beats' times (Unix nanoseconds, ascending); Intervals is 0 when
// there is nothing to score. When Cluster falls short of need, so does
// Single (at most Cluster): period returns then without counting Single,
// Multiple and Missed (left 0), and rest must not follow.
func (w *scorer) period(times []int64, maxJitter float64, need int) Score {
	var s Score
	if len(times) < 3 || len(times) > maxBeats {
		return s
	}
	// The intervals are sorted as integers, then made seconds: Seconds
	// never reverses an order, so this is the sorted seconds. (The order
	// of the intervals plays no part below.)
	var ivs [maxBeats]int64
	n := len(times) - 1
	for i := range n {
		ivs[i] = times[i+1] - times[i]
	}
	slices.Sort(ivs[:n])
	sorted := w.sorted[:n]
	for i, d := range ivs[:n] {
		sorted[i] = time.Duration(d).Seconds()
	}
	iv := sorted
	var lo, hi int
	s.Cluster, lo, hi = cluster(sorted, maxJitter)
	// The period is the median interval when that lies in the densest
	// cluster (the usual case: few missed beats); when missed beats are
	// so many that the median is a multiple of the period, the cluster's
	// own median.
	p := sortedMedian(sorted)
	if s.Cluster > 0 && (p < sorted[lo] || p > sorted[hi-1]) {
		p = sortedMedian(sorted[lo:hi])
	}
	if p <= 0 {
		return Score{}
	}
	s.Period = time.Duration(p * float64(time.Second))
	s.Intervals = len(iv)
	if s.Cluster < need {
		return s
	}
	regular := 0
	for i, d := range iv {
		k := math.Round(d / p)
		if k < 1 {
			k = 1
		}
		w.norm[i] = d / k
		// Jitter adds up over missed beats: allow √k times the jitter, but
		// no more than √2 times (the windows of k = 2 and 3 stay apart).
		if k <= maxK && math.Abs(d-k*p) <= maxJitter*p*math.Sqrt(min(k, 2)) {
			regular++
			if k == 1 {
				s.Single++
			} else {
				s.Multiple++
				s.Missed += int(k) - 1
			}
		}
	}
	w.n, w.regular, w.p = len(iv), regular, p
	return s
}

// rest fills the rest of s, which period returned, from the normalised
// intervals period left and the sizes.
func (w *scorer) rest(s *Score, sizes []uint64, maxJitter float64) {
	p := w.p
	s.Regular = float64(w.regular) / float64(w.n)
	norm := w.norm[:w.n]
	slices.Sort(norm) // the order of the normalised intervals plays no part below
	m := sortedMedian(norm)
	dev := w.dev[:w.n]
	for i, n := range norm {
		dev[i] = math.Abs(n - m)
	}
	slices.Sort(dev)
	s.Dispersion = sortedMedian(dev) / p
	s.Skew = bowley(norm)
	s.Timing = s.Regular * (0.8*(1-math.Min(1, s.Dispersion/(2*maxJitter))) + 0.2*(1-math.Abs(s.Skew)))

	fs := w.sorted[:len(sizes)]
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
}

// maxK is the most periods a regular interval may span: two missed beats
// in a row.
const maxK = 3

// cluster is the largest number of the sorted intervals v that one period
// P counts as single, |d − P| ≤ maxJitter·P: those lying within a factor
// (1+maxJitter)/(1−maxJitter) of each other, and where they are, v[lo:hi]
// (of several such clusters, the one of the shortest intervals). The bound
// is widened by a hair so that float rounding in the single test can never
// beat it.
func cluster(v []float64, maxJitter float64) (best, lo, hi int) {
	end := 0
	for i := range v {
		lim := v[i] * (1 + maxJitter) / (1 - maxJitter) * (1 + 1e-9)
		for end < len(v) && v[end] <= lim {
			end++
		}
		if end-i > best {
			best, lo, hi = end-i, i, end
		}
	}
	return best, lo, hi
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
