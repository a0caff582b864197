//go:build openblas

package train

/*
void openblas_read_env(void);
void blas_thread_shutdown_(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
int openblas_get_parallel(void);
char* openblas_get_config(void);

// OpenMP's thread-count calls, resolved only when the OpenBLAS linked in is
// an OpenMP build (which loads libgomp); weak, so that the pthreads build
// links without libgomp.
extern int omp_get_max_threads(void) __attribute__((weak));
extern void omp_set_num_threads(int) __attribute__((weak));
static int coder_omp_get_max_threads(void) { return omp_get_max_threads ? omp_get_max_threads() : -1; }
static void coder_omp_set_num_threads(int n) { if (omp_set_num_threads) omp_set_num_threads(n); }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
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

// blasOpenMP reports whether the OpenBLAS linked in is an OpenMP build
// (Debian's libopenblas0-openmp) rather than a pthreads one
// (libopenblas0-pthread, what libopenblas-dev installs by default). Both
// work; they differ in how a thread count is set (see serialBLAS) and in
// their worker threads' idle behaviour (the timeout below is the pthreads
// server's).
var blasOpenMP = C.openblas_get_parallel() == 2 && C.coder_omp_get_max_threads() > 0

func init() {
	G.Use(netlib.Implementation{})
	if blasOpenMP {
		return // libgomp's own idle policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT) applies
	}
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

// serialBLAS and serialThread make the BLAS calls of several goroutines
// that run independent chains of small products side by side (biGRUOp's
// two directions, one per core) single-threaded, each on its calling
// thread: serialBLAS around the whole, serialThread around each
// goroutine's share. Which of the two does the work depends on the build
// of OpenBLAS:
//
//   - pthreads: the thread count is process-wide (openblas_set_num_threads).
//     serialBLAS sets it to 1; nested and concurrent calls share one
//     setting, restored when the last of them returns. A BLAS call of
//     another goroutine in that window runs single-threaded too (slower,
//     the same result). serialThread only runs f.
//   - OpenMP: OpenBLAS takes the count from the calling OS thread's OpenMP
//     setting (omp_get_max_threads) at every call, and
//     openblas_set_num_threads changes that of the thread it runs on. A
//     process-wide switch would leave the other goroutines' threads at the
//     full count, and a thread whose goroutine moved on before the restore
//     single-threaded for good. So serialBLAS only runs f, and serialThread
//     locks its goroutine to its OS thread, sets that thread's count to 1
//     and restores it before it unlocks.
//
// The products' results do not depend on the thread count.
func serialBLAS(f func()) {
	if blasOpenMP {
		f()
		return
	}
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

// serialThread runs f with the OpenMP thread count of its OS thread at 1
// (OpenMP builds of OpenBLAS; see serialBLAS), or just runs f.
func serialThread(f func()) {
	if !blasOpenMP {
		f()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	saved := C.coder_omp_get_max_threads()
	C.coder_omp_set_num_threads(1)
	defer C.coder_omp_set_num_threads(saved)
	f()
}

// blasThreads returns OpenBLAS's thread count: process-wide in a pthreads
// build, the calling OS thread's in an OpenMP one (meaningful to a caller
// that locked its goroutine to its thread).
func blasThreads() int {
	if blasOpenMP {
		return int(C.coder_omp_get_max_threads())
	}
	return int(C.openblas_get_num_threads())
}

// blasBuild describes the BLAS in use for benchmark logs: OpenBLAS's
// configuration string, its threading and its thread count.
func blasBuild() string {
	mode := "pthreads"
	if blasOpenMP {
		mode = "OpenMP"
	}
	return fmt.Sprintf("OpenBLAS %s (%s, %d threads)", C.GoString(C.openblas_get_config()), mode, blasThreads())
}
