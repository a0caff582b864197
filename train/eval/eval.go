package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	_ "coderflow/internal/blasimpl" // program-wide BLAS choice (pure Go or -tags openblas)
)

// CaptionsPerImage is the number of captions per image the protocol requires.
const CaptionsPerImage = 5

// DefaultMemBudget is the similarity-block budget used when
// Options.MemBudget is 0: 256 MiB.
const DefaultMemBudget = 256 << 20

// DefaultAlpha is the CODER test-time similarity mix (CODER-METHOD.md).
const DefaultAlpha = 0.9

// Metrics of one evaluation (one fold). Recalls are in percent, ranks are
// 1-based (medr = floor(median)+1, meanr = mean+1).
type Metrics struct {
	R1I2T    float64 `json:"i2t_r1"`
	R5I2T    float64 `json:"i2t_r5"`
	R10I2T   float64 `json:"i2t_r10"`
	MedrI2T  float64 `json:"i2t_medr"`
	MeanrI2T float64 `json:"i2t_meanr"`
	R1T2I    float64 `json:"t2i_r1"`
	R5T2I    float64 `json:"t2i_r5"`
	R10T2I   float64 `json:"t2i_r10"`
	MedrT2I  float64 `json:"t2i_medr"`
	MeanrT2I float64 `json:"t2i_meanr"`
	RSum     float64 `json:"rsum"`
}

// Inputs are N images and 5N captions; caption 5i+k belongs to image i.
// Vectors are row-major and should be L2-normalised, as the protocol says
// (not checked here: any finite vectors are ranked by their dot products,
// as long as no similarity can overflow float32 (see [Evaluate]); the
// evaluate stage rejects rows that are not normalised).
type Inputs struct {
	N          int
	Dim        int
	Images     []float32 // N*Dim
	Captions   []float32 // 5N*Dim
	ConceptDim int       // 0 if no concept vectors (then ImageC and CaptionC must be empty)
	ImageC     []float32 // N*ConceptDim or nil
	CaptionC   []float32 // 5N*ConceptDim or nil
}

// Options control [Evaluate].
type Options struct {
	// Folds is 0 or 1 for no folds, K > 1 for K folds (5: the COCO 1K
	// protocol). N must be divisible by K.
	Folds int
	// Alpha weighs the two similarity terms when concept vectors are given:
	// similarity = Alpha*inst + (1-Alpha)*concept. It must be in [0, 1] and
	// is taken literally (0 means concept similarity only), so pass
	// [DefaultAlpha] explicitly. It is ignored without concept vectors.
	Alpha float64
	// BlockRows is the largest number of image rows per similarity block (0
	// = as many as fit in MemBudget); the blocks of a fold are made equal.
	// It changes speed and memory, not the result, except for the BLAS
	// rounding caveats of the package documentation.
	BlockRows int
	// MemBudget is the byte budget of one similarity block (0 = 256 MiB).
	MemBudget int64
}

// Result of [Evaluate].
type Result struct {
	Folds []Metrics // one per fold (one entry without folds)
	Mean  Metrics   // mean of each metric over folds; RSum = sum of the mean recalls
}

// ambiguousCap bounds the number of text-to-image entries kept for exact
// comparison (12 bytes each); beyond it the counts are redone in a second
// pass with exact positive scores.
var ambiguousCap = 1 << 21

// Evaluate runs the Recall@K protocol (see the package documentation) on in.
// It returns an error for inconsistent shapes, non-finite values, values so
// large that a similarity could overflow float32 (Dim * max|image value| *
// max|caption value|, summed over the weighted terms, above MaxFloat32/2),
// an Alpha outside [0, 1], a fold count that does not divide N, or ctx's
// error.
func Evaluate(ctx context.Context, in Inputs, opt Options) (*Result, error) {
	mx, err := in.validate()
	if err != nil {
		return nil, err
	}
	folds := opt.Folds
	if folds < 0 {
		return nil, fmt.Errorf("eval: folds = %d, want >= 0", folds)
	}
	if folds <= 1 {
		folds = 1
	}
	if in.N%folds != 0 {
		return nil, fmt.Errorf("eval: %d images cannot be split into %d equal folds", in.N, folds)
	}
	useConcept := in.ConceptDim > 0
	if err := in.checkAlpha(opt.Alpha); err != nil {
		return nil, err
	}
	if opt.BlockRows < 0 || opt.MemBudget < 0 {
		return nil, errors.New("eval: negative BlockRows or MemBudget")
	}
	n := in.N / folds
	c := CaptionsPerImage * n
	rows := opt.BlockRows
	if rows == 0 {
		budget := opt.MemBudget
		if budget == 0 {
			budget = DefaultMemBudget
		}
		rows = int(budget / int64(4*c))
		if rows < 1 {
			rows = 1
		}
	}
	rows = min(rows, n)
	// equal blocks: the last one, computed with the same shape as the
	// others (see shiftedBlock), then recomputes at most blocks-1 rows
	blocks := (n + rows - 1) / rows
	rows = (n + blocks - 1) / blocks

	var terms []term
	var maxes [][2]float64 // per term: max |image value|, max |caption value|
	if !useConcept {
		terms = []term{{w: 1, dim: in.Dim, img: in.Images, cap: in.Captions}}
		maxes = [][2]float64{{mx[0], mx[1]}}
	} else {
		if a := float32(opt.Alpha); a != 0 {
			terms = append(terms, term{w: a, dim: in.Dim, img: in.Images, cap: in.Captions})
			maxes = append(maxes, [2]float64{mx[0], mx[1]})
		}
		if a := float32(1 - opt.Alpha); a != 0 {
			terms = append(terms, term{w: a, dim: in.ConceptDim, img: in.ImageC, cap: in.CaptionC})
			maxes = append(maxes, [2]float64{mx[2], mx[3]})
		}
	}
	if err := checkOverflow(terms, maxes); err != nil {
		return nil, err
	}

	ev := &evaluator{n: n, c: c, rows: rows, buf: make([]float32, rows*c)}
	res := &Result{}
	for f := range folds {
		ft := make([]term, len(terms))
		for i, t := range terms {
			ft[i] = t
			ft[i].img = t.img[f*n*t.dim : (f+1)*n*t.dim]
			ft[i].cap = t.cap[f*c*t.dim : (f+1)*c*t.dim]
		}
		i2t, t2i, err := ev.run(ctx, ft)
		if err != nil {
			return nil, err
		}
		res.Folds = append(res.Folds, metricsFromRanks(i2t, t2i))
	}
	res.Mean = MeanMetrics(res.Folds)
	return res, nil
}

func (in *Inputs) validate() ([4]float64, error) {
	var mx [4]float64 // max |x| of images, captions, image concepts, caption concepts
	if err := in.checkShape(); err != nil {
		return mx, err
	}
	for k, s := range []struct {
		name string
		v    []float32
		dim  int
	}{{"image", in.Images, in.Dim}, {"caption", in.Captions, in.Dim},
		{"image concept", in.ImageC, in.ConceptDim}, {"caption concept", in.CaptionC, in.ConceptDim}} {
		b := maxAbsBits(s.v)
		if b < infBits {
			mx[k] = float64(math.Float32frombits(b))
			continue
		}
		for i, x := range s.v {
			if x*0 != 0 {
				return mx, fmt.Errorf("eval: %s vectors: value %d (row %d) is %v", s.name, i, i/max(s.dim, 1), x)
			}
		}
	}
	return mx, nil
}

// checkShape checks N, the dimensions and the lengths of the vectors.
func (in *Inputs) checkShape() error {
	if in.N <= 0 || in.Dim <= 0 {
		return fmt.Errorf("eval: N = %d, Dim = %d, want both > 0", in.N, in.Dim)
	}
	nc := CaptionsPerImage * in.N
	if len(in.Images) != in.N*in.Dim {
		return fmt.Errorf("eval: %d image values, want N*Dim = %d", len(in.Images), in.N*in.Dim)
	}
	if len(in.Captions) != nc*in.Dim {
		return fmt.Errorf("eval: %d caption values, want 5N*Dim = %d", len(in.Captions), nc*in.Dim)
	}
	if in.ConceptDim < 0 {
		return fmt.Errorf("eval: ConceptDim = %d", in.ConceptDim)
	}
	if in.ConceptDim == 0 && (len(in.ImageC) > 0 || len(in.CaptionC) > 0) {
		return fmt.Errorf("eval: %d image and %d caption concept values with ConceptDim = 0", len(in.ImageC), len(in.CaptionC))
	}
	if in.ConceptDim > 0 {
		if len(in.ImageC) != in.N*in.ConceptDim || len(in.CaptionC) != nc*in.ConceptDim {
			return fmt.Errorf("eval: concept vectors: %d image and %d caption values, want %d and %d",
				len(in.ImageC), len(in.CaptionC), in.N*in.ConceptDim, nc*in.ConceptDim)
		}
	}
	return nil
}

// checkAlpha checks alpha when it is used (with concept vectors).
func (in *Inputs) checkAlpha(alpha float64) error {
	if in.ConceptDim > 0 && (alpha < 0 || alpha > 1 || math.IsNaN(alpha)) {
		return fmt.Errorf("eval: alpha = %v, want a value in [0, 1]", alpha)
	}
	return nil
}

// checkOverflow returns an error when a similarity could overflow float32:
// |s(i, q)| <= sum over terms of w * dim * max|img| * max|cap| (maxes, per
// term, from validate), and a GEMM value that overflows (or an Inf - Inf
// partial sum, NaN) would be ranked by comparisons that are all false.
// Finite inputs below the bound (any L2-normalised ones) are ranked as
// given.
func checkOverflow(terms []term, maxes [][2]float64) error {
	var bound float64
	var desc []string
	for i, t := range terms {
		a, b := maxes[i][0], maxes[i][1]
		bound += float64(t.w) * float64(t.dim) * a * b
		desc = append(desc, fmt.Sprintf("%d dimensions with values up to %g (images) and %g (captions)", t.dim, a, b))
	}
	if bound > math.MaxFloat32/2 {
		return fmt.Errorf("eval: similarities could overflow float32 (bound %g): %s; the protocol ranks L2-normalised vectors",
			bound, strings.Join(desc, ", "))
	}
	return nil
}

// infBits is the bit pattern of +Inf: |x|'s bits are below it exactly when
// x is finite (NaNs are above).
const infBits = 0x7f800000

// maxAbsBits returns the largest bit pattern of |x| over v (sign bit
// cleared): below infBits when every value is finite, and then the bits of
// max |x| (the order of non-negative floats is that of their bits). One
// pass, four integer-max chains per range.
func maxAbsBits(v []float32) uint32 {
	var mu sync.Mutex
	var m uint32
	parallelRange(len(v), 1<<16, func(lo, hi int) {
		var m0, m1, m2, m3 uint32
		x := v[lo:hi]
		for len(x) >= 4 {
			m0 = max(m0, math.Float32bits(x[0])&^(1<<31))
			m1 = max(m1, math.Float32bits(x[1])&^(1<<31))
			m2 = max(m2, math.Float32bits(x[2])&^(1<<31))
			m3 = max(m3, math.Float32bits(x[3])&^(1<<31))
			x = x[4:]
		}
		for _, y := range x {
			m0 = max(m0, math.Float32bits(y)&^(1<<31))
		}
		mu.Lock()
		m = max(m, m0, m1, m2, m3)
		mu.Unlock()
	})
	return m
}

// parallelRange splits [0, n) into one contiguous range per CPU (fewer when
// n/minChunk is smaller) and runs fn on them concurrently.
func parallelRange(n, minChunk int, fn func(lo, hi int)) {
	k := max(1, min(runtime.GOMAXPROCS(0), n/max(minChunk, 1)))
	if k == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for t := range k {
		wg.Go(func() { fn(t*n/k, (t+1)*n/k) })
	}
	wg.Wait()
}

// term is one weighted similarity term restricted to a fold.
type term struct {
	w        float32
	dim      int
	img, cap []float32
}

// evaluator holds the scratch of one evaluation (reused across folds).
type evaluator struct {
	n, c, rows int
	buf        []float32
}

// block computes sims for image rows [i0, i0+rb) into ev.buf (rb x c).
func (ev *evaluator) block(terms []term, i0, rb int) []float32 {
	out := ev.buf[:rb*ev.c]
	cm := blas32.General{Rows: rb, Cols: ev.c, Stride: ev.c, Data: out}
	for k, t := range terms {
		a := blas32.General{Rows: rb, Cols: t.dim, Stride: t.dim, Data: t.img[i0*t.dim : (i0+rb)*t.dim]}
		b := blas32.General{Rows: ev.c, Cols: t.dim, Stride: t.dim, Data: t.cap}
		beta := float32(0)
		if k > 0 {
			beta = 1
		}
		blas32.Gemm(blas.NoTrans, blas.Trans, t.w, a, b, beta, cm)
	}
	return out
}

// shiftedBlock returns the sims of image rows [i0, i0+rb) (rb x c), always
// computed by a GEMM of ev.rows rows: a shorter last block is computed as
// the ev.rows rows ending at i0+rb (overlapping the previous block) and the
// rows before i0 are skipped. BLAS kernels may round differently for other
// shapes (OpenBLAS does): with a shorter last block, two identical image
// vectors in the last and an earlier block got different similarities and
// their tie was decided by rounding instead of by index.
func (ev *evaluator) shiftedBlock(terms []term, i0, rb int) []float32 {
	start := min(i0, ev.n-ev.rows)
	s := ev.block(terms, start, ev.rows)
	return s[(i0-start)*ev.c : (i0-start+rb)*ev.c]
}

type ambiguous struct {
	q, j int32
	s    float32
}

// worker owns the caption columns [c0, c1).
type worker struct {
	c0, c1 int
	i2t    []int32 // partial image-to-text counts for the rows of the current block
	amb    []ambiguous
	full   bool // amb reached its cap
}

// run evaluates one fold and returns the 0-based ranks.
func (ev *evaluator) run(ctx context.Context, terms []term) (i2t, t2i []int32, err error) {
	n, c := ev.n, ev.c
	lo, hi := make([]float32, c), make([]float32, c)
	positiveWindows(terms, lo, hi)
	g := make([]float32, c) // exact positive scores as the GEMM computed them
	gSet := make([]bool, c) // g[q] was seen
	cnt := make([]int32, c) // t2i: images certainly above the positive
	i2t = make([]int32, n)
	ws := ev.workers()
	perCap := ambiguousCap / len(ws)

	for i0 := 0; i0 < n; i0 += ev.rows {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		rb := min(ev.rows, n-i0)
		s := ev.shiftedBlock(terms, i0, rb)
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Go(func() {
				w.i2t = slices.Grow(w.i2t[:0], rb)[:rb]
				for r := range rb {
					i := i0 + r
					row := s[r*c : (r+1)*c]
					// best positive: the first caption of image i with the maximum score
					qs := CaptionsPerImage * i
					m := row[qs]
					for k := 1; k < CaptionsPerImage; k++ {
						if v := row[CaptionsPerImage*i+k]; v > m {
							m, qs = v, CaptionsPerImage*i+k
						}
					}
					var gt int32
					// subslices of equal length let the compiler drop bounds checks
					rw := row[w.c0:w.c1]
					lw := lo[w.c0:w.c1]
					lw = lw[:len(rw)]
					for j, v := range rw {
						if v >= m && (v > m || w.c0+j < qs) {
							gt++
						}
						if v >= lw[j] {
							q := w.c0 + j
							switch {
							case q/CaptionsPerImage == i:
								// the positive itself: recorded below
							case v > hi[q]:
								cnt[q]++
							case len(w.amb) < perCap:
								w.amb = append(w.amb, ambiguous{q: int32(q), j: int32(i), s: v})
							default:
								w.full = true
							}
						}
					}
					w.i2t[r] = gt
					for q := max(CaptionsPerImage*i, w.c0); q < min(CaptionsPerImage*(i+1), w.c1); q++ {
						g[q], gSet[q] = row[q], true
					}
				}
			})
		}
		wg.Wait()
		for _, w := range ws {
			for r, v := range w.i2t {
				i2t[i0+r] += v
			}
		}
	}

	exact := true
	for q := range c {
		if !gSet[q] || g[q] < lo[q] || g[q] > hi[q] {
			exact = false // the error bound did not hold: recount exactly
			break
		}
	}
	for _, w := range ws {
		if w.full {
			exact = false
		}
	}
	if exact {
		for _, w := range ws {
			for _, a := range w.amb {
				if gq := g[a.q]; a.s > gq || (a.s == gq && int(a.j) < int(a.q)/CaptionsPerImage) {
					cnt[a.q]++
				}
			}
		}
		return i2t, cnt, nil
	}
	if err := ev.recount(ctx, terms, ws, g, gSet, cnt); err != nil {
		return nil, nil, err
	}
	return i2t, cnt, nil
}

// recount recomputes the text-to-image counts in a second pass over the
// blocks, comparing with the exact positive scores g found by the first.
func (ev *evaluator) recount(ctx context.Context, terms []term, ws []*worker, g []float32, gSet []bool, cnt []int32) error {
	n, c := ev.n, ev.c
	for q := range c {
		if !gSet[q] {
			return fmt.Errorf("eval: internal error: positive score of caption %d not computed", q)
		}
	}
	clear(cnt)
	for i0 := 0; i0 < n; i0 += ev.rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		rb := min(ev.rows, n-i0)
		s := ev.shiftedBlock(terms, i0, rb)
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Go(func() {
				for r := range rb {
					i := i0 + r
					row := s[r*c : (r+1)*c]
					for q := w.c0; q < w.c1; q++ {
						own := q / CaptionsPerImage
						if v := row[q]; own != i && (v > g[q] || (v == g[q] && i < own)) {
							cnt[q]++
						}
					}
				}
			})
		}
		wg.Wait()
	}
	return nil
}

func (ev *evaluator) workers() []*worker {
	nw := max(1, min(runtime.GOMAXPROCS(0), ev.c/256))
	ws := make([]*worker, nw)
	for k := range ws {
		ws[k] = &worker{c0: k * ev.c / nw, c1: (k + 1) * ev.c / nw}
	}
	return ws
}

// positiveWindows sets, for every caption q, an interval [lo, hi] that
// contains the float32 GEMM value of its positive similarity: a float64 dot
// product widened by the standard bound on float32 summation error,
// gamma(d) * sum |a_k b_k| with gamma(d) = d*u/(1-d*u). The bound is only
// used for speed: Evaluate checks the GEMM values against it and recounts
// exactly when one falls outside.
func positiveWindows(terms []term, lo, hi []float32) {
	const u = 1.0 / (1 << 24)
	gamma := func(d int) float64 { x := float64(d) * u; return x / (1 - x) }
	parallelRange(len(lo), 256, func(q0, q1 int) { positiveWindowRange(terms, q0, q1, lo, hi, gamma) })
}

func positiveWindowRange(terms []term, q0, q1 int, lo, hi []float32, gamma func(int) float64) {
	const u = 1.0 / (1 << 24)
	for q := q0; q < q1; q++ {
		i := q / CaptionsPerImage
		var p, e, tot float64
		for _, t := range terms {
			a := t.img[i*t.dim : (i+1)*t.dim]
			b := t.cap[q*t.dim : (q+1)*t.dim]
			var dot, abs float64
			for k := range a {
				x := float64(a[k]) * float64(b[k])
				dot += x
				abs += math.Abs(x)
			}
			w := float64(t.w)
			p += w * dot
			e += gamma(t.dim+2) * w * abs
			tot += w * abs
		}
		e += 4*u*tot + 1e-30
		e *= 1.01
		lo[q] = math.Nextafter32(float32(p-e), float32(math.Inf(-1)))
		hi[q] = math.Nextafter32(float32(p+e), float32(math.Inf(1)))
	}
}

// metricsFromRanks computes R@K, medr, meanr and rSum from 0-based ranks.
func metricsFromRanks(i2t, t2i []int32) Metrics {
	m := Metrics{
		R1I2T: recall(i2t, 1), R5I2T: recall(i2t, 5), R10I2T: recall(i2t, 10),
		MedrI2T: medr(i2t), MeanrI2T: meanr(i2t),
		R1T2I: recall(t2i, 1), R5T2I: recall(t2i, 5), R10T2I: recall(t2i, 10),
		MedrT2I: medr(t2i), MeanrT2I: meanr(t2i),
	}
	m.RSum = m.R1I2T + m.R5I2T + m.R10I2T + m.R1T2I + m.R5T2I + m.R10T2I
	return m
}

func recall(ranks []int32, k int32) float64 {
	var hit int
	for _, r := range ranks {
		if r < k {
			hit++
		}
	}
	return 100 * float64(hit) / float64(len(ranks))
}

func medr(ranks []int32) float64 {
	s := slices.Clone(ranks)
	slices.Sort(s)
	n := len(s)
	var med float64
	if n%2 == 1 {
		med = float64(s[n/2])
	} else {
		med = (float64(s[n/2-1]) + float64(s[n/2])) / 2
	}
	return math.Floor(med) + 1
}

func meanr(ranks []int32) float64 {
	var sum float64
	for _, r := range ranks {
		sum += float64(r)
	}
	return sum/float64(len(ranks)) + 1
}

// MeanMetrics returns the arithmetic mean of every metric over folds, with
// RSum the sum of the mean recalls (the COCO 1K convention).
func MeanMetrics(folds []Metrics) Metrics {
	var m Metrics
	if len(folds) == 0 {
		return m
	}
	for _, f := range folds {
		m.R1I2T += f.R1I2T
		m.R5I2T += f.R5I2T
		m.R10I2T += f.R10I2T
		m.MedrI2T += f.MedrI2T
		m.MeanrI2T += f.MeanrI2T
		m.R1T2I += f.R1T2I
		m.R5T2I += f.R5T2I
		m.R10T2I += f.R10T2I
		m.MedrT2I += f.MedrT2I
		m.MeanrT2I += f.MeanrT2I
	}
	k := float64(len(folds))
	m.R1I2T /= k
	m.R5I2T /= k
	m.R10I2T /= k
	m.MedrI2T /= k
	m.MeanrI2T /= k
	m.R1T2I /= k
	m.R5T2I /= k
	m.R10T2I /= k
	m.MedrT2I /= k
	m.MeanrT2I /= k
	m.RSum = m.R1I2T + m.R5I2T + m.R10I2T + m.R1T2I + m.R5T2I + m.R10T2I
	return m
}

// Named returns the metrics as (name, value) pairs in a fixed order, with
// the names used by env.SetMetric, metrics.json and the metrics table.
func (m Metrics) Named() []NamedValue {
	return []NamedValue{
		{"i2t_r1", m.R1I2T}, {"i2t_r5", m.R5I2T}, {"i2t_r10", m.R10I2T},
		{"i2t_medr", m.MedrI2T}, {"i2t_meanr", m.MeanrI2T},
		{"t2i_r1", m.R1T2I}, {"t2i_r5", m.R5T2I}, {"t2i_r10", m.R10T2I},
		{"t2i_medr", m.MedrT2I}, {"t2i_meanr", m.MeanrT2I},
		{"rsum", m.RSum},
	}
}

// NamedValue is one named metric.
type NamedValue struct {
	Name  string
	Value float64
}
