//go:build !openblas

package train

import (
	"fmt"
	"runtime"
)

// serialBLAS runs f. gonum's pure-Go kernels have no thread pool to wake:
// each product splits its blocks over new goroutines, which the Go
// scheduler places on the cores the concurrent callers leave free.
func serialBLAS(f func()) { f() }

// serialThread runs f (see serialBLAS).
func serialThread(f func()) { f() }

// blasThreads returns the number of cores gonum's kernels may use.
func blasThreads() int { return runtime.GOMAXPROCS(0) }

// blasBuild describes the BLAS in use for benchmark logs.
func blasBuild() string {
	return fmt.Sprintf("gonum (pure Go, GOMAXPROCS %d)", runtime.GOMAXPROCS(0))
}
