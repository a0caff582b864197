// Package train implements the CODER model (Wang et al., ECCV 2022, as
// reconstructed in shared/CODER-METHOD.md) and its losses in gorgonia.
//
// A [Model] owns:
//   - the live encoders: image (region features -> linear -> mean or
//     attention pooling -> L2), text (word embeddings -> mean or
//     bidirectional GRU -> L2) and the concept branch (2-layer GCN over the
//     normalised concept adjacency, attention queries, rho mixing);
//   - momentum copies of every encoder weight, updated by EMA after each step;
//   - FIFO queues of momentum keys tagged with image ids;
//   - the prototypes of the online clustering;
//   - hand-written Adam state and global-norm gradient clipping.
//
// Everything that needs a gradient is one gorgonia graph per batch size
// (built on first use). Everything without gradient (momentum forward pass,
// queues, DCL weights and masks, Sinkhorn-Knopp codes) is computed in Go and
// fed to that graph as inputs, because gorgonia has no stop-gradient op.
// Losses use LogSoftMax only (gorgonia's LogSumExp is broken). Gradients are
// symbolic (G.Grad) nodes read after each run, so they never accumulate
// across runs.
//
// The formulas as implemented are in docs/train-model.md. Build with
// `-tags openblas` (CGO_LDFLAGS=-lopenblas) to run the matrix products on
// OpenBLAS; the default build is pure Go (see [BLAS]).
//
// A Model is not safe for concurrent use. Runs are deterministic for a
// given Config.Seed and batch sequence.
package train
