//go:build openblas

package train

/*
void openblas_read_env(void);
void blas_thread_shutdown_(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
*/
import "C"

import (
	"os"
	"strconv"
	"sync"

	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// blasThreadTimeout is the OpenBLAS idle-thread timeout this package sets
// (log2 of CPU cycles, as OPENBLAS_THREAD_TIMEOUT) unless the environment
// sets one. OpenBLAS's default, 2^28 cycles (about 0.1 s), keeps its worker
// threads spinning on sched_yield between the products of a training step,
// taking CPU time from the Go code that runs between them (the full-size
// Adam/EMA update took 31 ms right after a product, 20 ms otherwise). With
// 2^16 cycles (tens of microseconds) they sleep right after a product and
// the next one wakes them; back-to-back products are not affected.
const blasThreadTimeout = 16

func init() {
	G.Use(netlib.Implementation{})
	if _, set := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); set {
		return
	}
	// Package initialisation runs before main (no BLAS call in flight), so
	// restarting the (idle) thread pool here is safe; OpenBLAS starts it
	// again with the new timeout on the next threaded call.
	os.Setenv("OPENBLAS_THREAD_TIMEOUT", strconv.Itoa(blasThreadTimeout))
	C.openblas_read_env()
	os.Unsetenv("OPENBLAS_THREAD_TIMEOUT") // not inherited by child processes
	C.blas_thread_shutdown_()
}

// serialBLAS runs f with OpenBLAS's thread count at 1, so that each BLAS
// call of f runs on its calling thread alone: f's callers run several
// independent chains of small products side by side (biGRUOp), one per
// core. The thread count is process-wide; nested and concurrent calls
// share one setting, restored when the last of them returns. A BLAS call
// of another goroutine in that window runs single-threaded too (slower,
// the same result).
func serialBLAS(f func()) {
	serialMu.Lock()
	if serialUsers == 0 {
		serialSaved = C.openblas_get_num_threads()
		C.openblas_set_num_threads(1)
	}
	serialUsers++
	serialMu.Unlock()
	defer func() {
		serialMu.Lock()
		serialUsers--
		if serialUsers == 0 {
			C.openblas_set_num_threads(serialSaved)
		}
		serialMu.Unlock()
	}()
	f()
}

var (
	serialMu    sync.Mutex
	serialUsers int
	serialSaved C.int
)

// blasThreads returns OpenBLAS's thread count.
func blasThreads() int { return int(C.openblas_get_num_threads()) }
