package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBoundsRoundTrip(t *testing.T) {
	// Every bucket's bounds must map back to that bucket, and buckets must
	// tile the range with no gaps.
	var prevHi uint64
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d] maps to %d/%d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
	}
	if prevHi != 1<<maxBits-1 {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, uint64(1<<maxBits-1))
	}
	if bucketOf(1<<62) != numBuckets-1 {
		t.Fatal("huge values must clamp into the last bucket")
	}
}

func TestBucketRelativeError(t *testing.T) {
	for i := subCount; i < numBuckets; i++ {
		lo, hi := bucketBounds(i)
		if rel := float64(hi-lo) / float64(lo); rel > 1.0/subCount {
			t.Fatalf("bucket %d [%d,%d] relative width %.4f", i, lo, hi, rel)
		}
	}
}

func TestQuantilesMatchExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]uint64, 100000)
	for i := range vals {
		// Log-uniform between 1µs and 100ms, like real latencies.
		v := uint64(1000 * math.Pow(100000, rng.Float64()))
		vals[i] = v
		h.Record(time.Duration(v))
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := uint64(h.Quantile(q))
		if got < exact {
			t.Errorf("q%.3f: got %d below exact %d (must be an upper bound)", q, got, exact)
		}
		if float64(got-exact) > float64(exact)/subCount+1 {
			t.Errorf("q%.3f: got %d, exact %d: error beyond bucket width", q, got, exact)
		}
	}
	if h.Max() != time.Duration(vals[len(vals)-1]) || h.Min() != time.Duration(vals[0]) {
		t.Errorf("min/max %v/%v, want %v/%v", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
	if h.Quantile(1) != h.Max() || h.Quantile(0) != h.Min() {
		t.Error("q0/q1 must be the exact min/max")
	}
}

func TestSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	if got := h.Quantile(0.5); got != 50 {
		t.Fatalf("p50 of 1..100 = %v, want 50", got)
	}
	if got := h.Quantile(0.99); got != 99 {
		t.Fatalf("p99 of 1..100 = %v, want 99", got)
	}
	if got := h.Mean(); got != 50 { // 5050/100 = 50.5, truncated
		t.Fatalf("mean = %v, want 50", got)
	}
}

func TestMergeEqualsCombined(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 5000; i++ {
		d := time.Duration(i * 997)
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	if m != all {
		t.Fatal("merged histogram differs from one fed all values")
	}
	m.Reset()
	if m.Count() != 0 || m.Quantile(0.5) != 0 || m.Mean() != 0 {
		t.Fatal("reset histogram not empty")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	n := testing.AllocsPerRun(1000, func() { h.Record(123456 * time.Nanosecond) })
	if n != 0 {
		t.Fatalf("Record allocates %v times per call", n)
	}
	h.Record(-5) // negative durations clamp to zero rather than wrapping
	if h.Min() != 0 {
		t.Fatalf("min after negative = %v", h.Min())
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i & 0xfffff))
	}
}
