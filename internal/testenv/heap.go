package testenv

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// HeapGrowth runs fn and returns by how much the live heap (the bytes
// reachable at the end of a collection, runtime/metrics
// "/gc/heap/live:bytes") grew above what it was before fn at its largest,
// sampled every millisecond while fn ran. The collector runs at GOGC 25
// meanwhile, so that the live heap is measured often; the memory tests of
// streaming stages compare it between data sets of different sizes.
func HeapGrowth(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[0].Value.Uint64()
	}
	base := read()
	peak := base
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	runtime.GC() // the last cycle's live heap counts too
	peak = max(peak, read())
	if peak < base {
		return 0
	}
	return peak - base
}
