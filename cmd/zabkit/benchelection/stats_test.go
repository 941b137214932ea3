package benchelection

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPercentile(t *testing.T) {
	xs := []float64{9, 1, 8, 2, 7, 3, 6, 4, 5, 10} // 1..10 shuffled
	for _, tc := range []struct{ p, want float64 }{
		{50, 5}, {90, 9}, {99, 10}, {100, 10}, {10, 1}, {1, 1}, {55, 6},
	} {
		if got := Percentile(xs, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if xs[0] != 9 {
		t.Fatal("Percentile sorted its input")
	}
	if !math.IsNaN(Percentile(nil, 50)) || !math.IsNaN(Mean(nil)) {
		t.Fatal("empty samples must give NaN")
	}
	if Mean([]float64{1, 2, 6}) != 3 {
		t.Fatal("mean")
	}
}

// TestBootstrap: a clear shift is found, with an interval around it, and
// two samples of one distribution give an interval around 0; a fixed
// generator gives the same interval twice.
func TestBootstrap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b, c []float64
	for range 400 {
		a = append(a, 100+r.NormFloat64()*10)
		b = append(b, 130+r.NormFloat64()*10)
		c = append(c, 100+r.NormFloat64()*10)
	}
	d := BootstrapMedianDiff(a, b, 1000, 0.95, rand.New(rand.NewPCG(7, 7)))
	if !d.Excludes(0) || d.Low > -25 || d.High < -35 || d.Low > d.Estimate || d.High < d.Estimate {
		t.Fatalf("a − b: %+v, want about −30 with an interval excluding 0", d)
	}
	n := BootstrapMedianDiff(a, c, 1000, 0.95, rand.New(rand.NewPCG(7, 7)))
	if n.Excludes(0) || n.High-n.Low > 10 {
		t.Fatalf("a − c: %+v, want a narrow interval around 0", n)
	}
	again := BootstrapMedianDiff(a, b, 1000, 0.95, rand.New(rand.NewPCG(7, 7)))
	if again != d {
		t.Fatalf("same seed, different intervals: %+v vs %+v", again, d)
	}
}
