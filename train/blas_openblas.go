//go:build openblas

package train

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

func init() { G.Use(netlib.Implementation{}) }
