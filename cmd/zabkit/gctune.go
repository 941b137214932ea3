package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// GC policy. A coordination server's heap is mostly its data tree, which
// lives forever. Go's default GOGC=100 lets garbage grow to the size of the
// whole tree, doubling resident memory for a large tree; a fixed low GOGC
// instead makes a small heap collect constantly, which costs throughput.
// So the GC target is "live heap + max(gcHeadroom, gcMinPercent% of it)":
// generous while the tree is small, ~1.4× the tree once it is large.
const (
	gcHeadroom   = 64 << 20 // bytes of garbage tolerated regardless of heap size
	gcMinPercent = 40
	gcMaxPercent = 800
)

// gcPercentFor returns the GOGC value that gives the target above.
func gcPercentFor(liveBytes uint64) int {
	if liveBytes == 0 {
		return gcMaxPercent
	}
	p := int(uint64(gcHeadroom) * 100 / liveBytes)
	return max(gcMinPercent, min(gcMaxPercent, p))
}

// tuneGC adjusts GOGC every second until ctx ends. It is not started when
// the GOGC environment variable is set: an explicit setting wins.
func tuneGC(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := -1
	apply := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64()); p != set {
			debug.SetGCPercent(p)
			set = p
		}
	}
	apply()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			apply()
		}
	}
}
