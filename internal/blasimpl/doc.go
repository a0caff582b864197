// Package blasimpl selects the BLAS behind gonum's blas32/blas64 for the
// whole program. The default build is pure Go (gonum's own kernels, about 5 %
// of this machine's peak). Building with `-tags openblas` and
// CGO_LDFLAGS=-lopenblas routes them through gonum's netlib binding to
// OpenBLAS (Debian libopenblas-dev), 5-10x faster. Import it for its side
// effect and report [Name] in benchmarks.
package blasimpl
