package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in log-linear buckets, in the style of
// HdrHistogram: values below 2^subBits nanoseconds get one bucket each, and
// every further power of two is split into 2^subBits equal buckets. That
// keeps the relative error under 1/2^subBits (0.8%) over the whole range
// while Record stays a few integer ops and never allocates, so recording
// does not disturb the latency being measured.
//
// A Histogram is not safe for concurrent use: each client owns one and the
// report merges them at the end.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	sum    uint64 // nanoseconds; wraps only after ~584 years of latency
	min    uint64
	max    uint64
}

const (
	subBits  = 7
	subCount = 1 << subBits
	// maxBits bounds the recordable range at 2^maxBits ns (~18 minutes);
	// larger values are clamped into the last bucket (max stays exact).
	maxBits    = 40
	numBuckets = (maxBits - subBits + 1) * subCount
)

// bucketOf maps a value in nanoseconds to its bucket index.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v >= 1<<maxBits {
		return numBuckets - 1
	}
	msb := bits.Len64(v) - 1 // >= subBits
	shift := msb - subBits
	// v>>shift lies in [subCount, 2*subCount); the group index is shift+1.
	return (shift+1)*subCount + int(v>>uint(shift)) - subCount
}

// bucketBounds returns the smallest and largest value mapped to bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	group := i / subCount // >= 1
	shift := uint(group - 1)
	sub := uint64(i%subCount + subCount)
	lo = sub << shift
	hi = lo + (1 << shift) - 1
	return lo, hi
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += v
}

// Merge adds every observation of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Reset forgets every observation (used when warm-up ends).
func (h *Histogram) Reset() { *h = Histogram{} }

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the exact largest observation.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the exact smallest observation.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the exact arithmetic mean.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}

// Quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding the ceil(q*count)-th smallest observation, clamped to the
// exact min and max. Reporting the upper bound errs on the pessimistic side,
// as HdrHistogram does.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			if hi > h.max {
				hi = h.max
			}
			if hi < h.min {
				hi = h.min
			}
			return time.Duration(hi)
		}
	}
	return time.Duration(h.max)
}
