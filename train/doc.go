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
// queues, exclusion masks, Sinkhorn-Knopp codes) is computed in Go and fed
// to that graph as inputs, because gorgonia has no stop-gradient op; the
// DCL weights, which depend on the live similarities, are computed in Go
// inside the contrastive head op, whose gradient treats them as constants.
// gorgonia's LogSumExp is broken, so the contrastive heads use an explicit
// log-sum-exp whose stabilising shift is folded into the log-weights. Gradients are symbolic
// (G.Grad) nodes of a training graph compiled for the losses and parameter
// gradients only; they are read after each run and never accumulate.
//
// gorgonia v0.9.18 pitfalls this package works around (see
// docs/train-model.md): Slice bounds are hashed as single bytes, so slices of
// one node whose bounds agree mod 256 are merged by common-subexpression
// elimination (the code uses no Slice and no Concat); the backward pass of
// Slice/ByIndices/Concat allocates or copies whole tensors; SoftMax and
// LogSoftMax of one node collide; SoftMax shifts every row by a maximum
// that starts at the first element of the whole matrix (rows far below it
// give 0/0), so the package uses its own row softmax (softmaxOp).
//
// The formulas as implemented are in docs/train-model.md. Build with
// `-tags openblas` (CGO_LDFLAGS=-lopenblas) to run the matrix products on
// OpenBLAS; the default build is pure Go (see [BLAS]). The OpenBLAS build
// sets OpenBLAS's idle-thread timeout to 2^16 cycles at package
// initialisation unless OPENBLAS_THREAD_TIMEOUT is set: with the default
// (2^28 cycles) its worker threads spin between products and slow down the
// Go code of the step (see blas_openblas.go).
//
// Elementwise chains that dominated the step once the products were fast
// are hand-written gorgonia ops with symbolic gradients (ops.go, gru.go):
// the DCL head, row L2 normalisation, LeakyReLU, the mean of word
// embeddings and each direction of the bi-GRU (backpropagation through time
// by hand).
//
// A Model is not safe for concurrent use. Runs are deterministic for a
// given Config.Seed and batch sequence.
package train
