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
}

// score rates the beats at times (ascending) with their sizes.
func score(times []time.Time, sizes []uint64, maxJitter float64) Score {
	var s Score
	if len(times) < 3 {
		return s
	}
	iv := make([]float64, 0, len(times)-1)
	for i := 1; i < len(times); i++ {
		iv = append(iv, times[i].Sub(times[i-1]).Seconds())
	}
	p := median(slices.Clone(iv))
	if p <= 0 {
		return s
	}
	s.Period = time.Duration(p * float64(time.Second))
	s.Intervals = len(iv)
	norm := make([]float64, 0, len(iv))
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
	m := median(slices.Clone(norm))
	dev := make([]float64, len(norm))
	for i, n := range norm {
		dev[i] = math.Abs(n - m)
	}
	s.Dispersion = median(dev) / p
	s.Skew = bowley(norm)
	s.Timing = s.Regular * (0.8*(1-math.Min(1, s.Dispersion/(2*maxJitter))) + 0.2*(1-math.Abs(s.Skew)))

	fs := make([]float64, len(sizes))
	for i, v := range sizes {
		fs[i] = float64(v)
	}
	ms := median(slices.Clone(fs))
	for i, v := range fs {
		fs[i] = math.Abs(v - ms)
	}
	s.Size = 1
	if ms > 0 {
		s.Size = 1 - math.Min(1, median(fs)/(ms/2))
	}
	s.Total = 0.75*s.Timing + 0.25*s.Size
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
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

// bowley is the Bowley (quartile) skewness, 0 when the quartiles meet.
func bowley(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	q1, q2, q3 := quantile(s, 0.25), quantile(s, 0.5), quantile(s, 0.75)
	if q3-q1 < 1e-9*math.Max(1, q2) {
		return 0
	}
	return (q3 + q1 - 2*q2) / (q3 - q1)
}
