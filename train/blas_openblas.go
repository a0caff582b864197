//go:build openblas

package train

/*
void openblas_read_env(void);
void blas_thread_shutdown_(void);
*/
import "C"

import (
	"os"
	"strconv"

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
