package train

import "coderflow/internal/blasimpl"

// BLAS names the BLAS behind the model's matrix products: "gonum" (pure Go,
// the default build) or "openblas" (build with -tags openblas and
// CGO_LDFLAGS=-lopenblas).
const BLAS = blasimpl.Name
