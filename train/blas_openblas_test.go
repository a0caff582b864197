//go:build openblas

package train

import (
	"runtime"
	"sync"
	"testing"
)

// TestSerialBLAS checks that serialBLAS runs OpenBLAS single-threaded while
// any of its callers is inside, concurrent and nested calls included, and
// restores the thread count after the last one.
func TestSerialBLAS(t *testing.T) {
	if blasOpenMP {
		t.Skip("OpenMP build of OpenBLAS: serialBLAS leaves the count to serialThread (TestBothDirectionsSerial)")
	}
	before := blasThreads()
	var wg sync.WaitGroup
	inside := make(chan struct{})
	release := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		serialBLAS(func() {
			close(inside)
			<-release
		})
	}()
	<-inside
	serialBLAS(func() {
		serialBLAS(func() {
			if n := blasThreads(); n != 1 {
				t.Errorf("nested: %d threads, want 1", n)
			}
		})
		if n := blasThreads(); n != 1 {
			t.Errorf("after the nested call: %d threads, want 1", n)
		}
	})
	if n := blasThreads(); n != 1 {
		t.Errorf("while another caller is inside: %d threads, want 1", n)
	}
	close(release)
	wg.Wait()
	if n := blasThreads(); n != before {
		t.Errorf("after the last caller: %d threads, want %d", n, before)
	}
}

// TestBothDirectionsSerial checks that each direction of bothDirections
// makes its BLAS calls single-threaded on its own thread, with either build
// of OpenBLAS (go test -tags openblas links whichever libopenblas the
// linker finds; .ci/run runs this package against both), and that the
// caller's thread has its full count again afterwards.
func TestBothDirectionsSerial(t *testing.T) {
	runtime.LockOSThread() // blasThreads is per thread in an OpenMP build
	defer runtime.UnlockOSThread()
	before := blasThreads()
	if before < 2 {
		t.Skipf("OpenBLAS runs %d thread(s) here: nothing to make serial", before)
	}
	t.Logf("OpenBLAS build: OpenMP %v, %d threads", blasOpenMP, before)
	for round := range 3 {
		var got [2]int
		bothDirections(func(d int) {
			got[d] = blasThreads()
			runtime.Gosched()
			if n := blasThreads(); n != got[d] {
				t.Errorf("round %d, direction %d: %d threads, then %d", round, d, got[d], n)
			}
		})
		for d, n := range got {
			if n != 1 {
				t.Errorf("round %d, direction %d: BLAS calls on %d threads, want 1", round, d, n)
			}
		}
		if n := blasThreads(); n != before {
			t.Errorf("round %d, after: the caller's thread has %d BLAS threads, want %d", round, n, before)
		}
	}
}
