package benchelection

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of xs:
// the smallest value with at least p% of the sample at or below it. It
// is always one of the observed values, so a reported p99 really
// happened. NaN for an empty sample.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Mean is the arithmetic mean; NaN for an empty sample.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// Interval is a point estimate with a confidence interval.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// Excludes reports whether v lies outside the interval.
func (iv Interval) Excludes(v float64) bool { return v < iv.Low || v > iv.High }

// BootstrapMedianDiff estimates median(a) − median(b) with a percentile
// bootstrap confidence interval at level (e.g. 0.95): each of resamples
// rounds draws len(a) values from a and len(b) from b with replacement
// and takes the difference of the medians; the interval is the middle
// level of those differences. The two samples are independent trials, so
// they are resampled independently. rng makes it reproducible.
func BootstrapMedianDiff(a, b []float64, resamples int, level float64, rng *rand.Rand) Interval {
	if len(a) == 0 || len(b) == 0 {
		nan := math.NaN()
		return Interval{nan, nan, nan}
	}
	est := Percentile(a, 50) - Percentile(b, 50)
	diffs := make([]float64, resamples)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	for i := range diffs {
		diffs[i] = resampledMedian(a, ra, rng) - resampledMedian(b, rb, rng)
	}
	slices.Sort(diffs)
	tail := (1 - level) / 2 * 100
	return Interval{Estimate: est, Low: percentileSorted(diffs, tail), High: percentileSorted(diffs, 100-tail)}
}

func resampledMedian(xs, buf []float64, rng *rand.Rand) float64 {
	for i := range buf {
		buf[i] = xs[rng.IntN(len(xs))]
	}
	slices.Sort(buf)
	return percentileSorted(buf, 50)
}
