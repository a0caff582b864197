//go:build openblas

package train

import (
	"sync"
	"testing"
)

// TestSerialBLAS checks that serialBLAS runs OpenBLAS single-threaded while
// any of its callers is inside, concurrent and nested calls included, and
// restores the thread count after the last one.
func TestSerialBLAS(t *testing.T) {
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
