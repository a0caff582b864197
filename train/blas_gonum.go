//go:build !openblas

package train

import "runtime"

// serialBLAS runs f. gonum's pure-Go kernels have no thread pool to wake:
// each product splits its blocks over new goroutines, which the Go
// scheduler places on the cores the concurrent callers leave free.
func serialBLAS(f func()) { f() }

// blasThreads returns the number of cores gonum's kernels may use.
func blasThreads() int { return runtime.GOMAXPROCS(0) }
