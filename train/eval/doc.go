// Package eval implements the Recall@K image-text retrieval protocol of
// VSE++, SCAN and VSE-infinity (see EVAL-PROTOCOL.md), which the CODER paper's
// tables follow, plus helpers to read and write the metrics.json file the
// `evaluate` stage produces.
//
// # Protocol
//
// The test data are N images and 5N captions; caption 5i+k belongs to image
// i. The similarity of image i and caption q is
//
//	s(i, q) = Alpha*<img_i, cap_q> + (1-Alpha)*<imgC_i, capC_q>
//
// (only the first term, with weight 1, when no concept vectors are given).
//
//   - Image-to-text: rank_i is the best (smallest, 0-based) position of any of
//     the captions 5i..5i+4 in row i sorted by descending similarity.
//   - Text-to-image: rank_q is the 0-based position of image q/5 in column q
//     sorted by descending similarity.
//   - R@K = 100 * #{rank < K} / count for K = 1, 5, 10; medr = floor(median of
//     the ranks) + 1 (the median of an even count is the mean of the two middle
//     values, as numpy computes it); meanr = mean of the ranks + 1.
//   - rSum = the sum of the six recalls.
//   - Folds (Options.Folds = K > 1, COCO 1K uses 5): fold f uses images
//     f*N/K .. (f+1)*N/K-1 and their captions; every metric of [Result.Mean] is
//     the arithmetic mean over the folds and its RSum is the sum of the mean
//     recalls. N must be divisible by K.
//
// # Ties
//
// Ties are broken by index, as a stable sort of the row (or column) would:
// the position of entry q is the number of entries strictly greater plus the
// number of equal entries with a smaller index, as EVAL-PROTOCOL.md asks.
// (The public VSE++/SCAN scripts use numpy's default argsort, which is not
// stable, so on exact ties their ranks may differ from these; on data without
// ties they are the same.)
//
// # Computation
//
// The N x 5N similarity matrix is never materialised: [Evaluate] computes it
// in blocks of image rows (BlockRows, or as many rows as fit in MemBudget)
// with one blas32 Sgemm per block and per similarity term, and ranks by
// counting, not sorting: image-to-text counts, per row, the entries above the
// best positive; text-to-image accumulates, per caption column, the number of
// images scoring above the caption's own image across all blocks. Both
// directions come from the same blocks, so the matrix is computed once.
//
// A caption's positive score is only known once the block holding its image
// has been computed, so text-to-image counting compares earlier blocks with a
// float64 estimate of the positive score and an estimated bound on the
// float32 GEMM's rounding error (not rigorous when alpha mixes two terms, and
// not relied on: every positive's GEMM value is checked against its window at
// the end, and a miss redoes the counts exactly). Entries outside that window
// are counted (or not) with certainty; the rare entries inside it are kept and
// compared with the exact GEMM value at the end. If too many entries fall inside windows
// (degenerate data where most similarities are equal), the text-to-image
// counts are redone in a second pass with the exact positive scores. Either
// way, the result is exact with respect to the similarities the GEMM
// computed, and the counting does not depend on the block size (the GEMM
// values can, on small data with OpenBLAS: see below).
//
// The blocks of a fold are made equal (at most BlockRows rows each), and
// every GEMM of a fold has the same shape (block rows x 5N x Dim): a shorter
// last block is computed as the block rows ending at the last image and the
// rows already counted (at most one per block) are skipped. BLAS kernels may round differently
// for other shapes (OpenBLAS 0.3.21 does on small matrices, e.g. one row
// against 250 or 650 captions), and two identical image vectors, one in the
// last block, then no longer tied.
//
// What is exact is the ranking of the GEMM values. Where similarities are
// equal or nearly equal, rounding can move an entry by one place in three
// cases (none changes a rank on random unit vectors; the tests check
// that): the pure-Go and OpenBLAS builds sum in different orders; OpenBLAS
// rounds small GEMMs (one to a few rows against a few hundred captions)
// differently from larger ones, so on such small data BlockRows or
// MemBudget can change a near-tie, and in such a GEMM two identical caption
// vectors may get different values (measured with OpenBLAS 0.3.21: no GEMM
// value changed with the block size for 300 or 1,000 images of 1,024
// dimensions); the pure-Go kernel, for a Dim that is not a multiple of 4,
// can round two identical caption vectors differently (it aligns its loads
// to each caption row's address). Exact ties of identical image vectors are
// broken by index with either BLAS and any block size (the tests check
// this with both builds).
//
// The BLAS behind blas32 is chosen program-wide by importing
// coderflow/internal/blasimpl (pure Go by default, OpenBLAS with -tags
// openblas); this package imports it, so binaries that use eval get the
// selected implementation.
package eval
