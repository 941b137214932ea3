package main

import "testing"

func TestGCPercentFor(t *testing.T) {
	cases := []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent},   // tiny heap: collect rarely
		{64 << 20, 100},           // the headroom equals the heap
		{160 << 20, gcMinPercent}, // large tree: 40% headroom
		{4 << 30, gcMinPercent},
	}
	for _, c := range cases {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}
