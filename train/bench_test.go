package train

import (
	"fmt"
	"math"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"coderflow/internal/testenv"
)

// benchConfigs are the BenchmarkStep sizes: "small" is the CPU default the
// demo uses (region descriptors of a few hundred dims), "full-*" the
// paper's sizes (D = 1024, 2048-d regions, queue 4096).
func benchConfigs() []struct {
	name string
	cfg  Config
} {
	small := DefaultConfig()
	small.ImageDim, small.VocabSize, small.MaxLen, small.Queue = 256, 2000, 16, 1024
	smallGRU := small
	smallGRU.TextEncoder = TextBiGRU
	full := DefaultConfig()
	full.Dim, full.ImageDim, full.VocabSize, full.MaxLen, full.Queue = 1024, 2048, 10000, 16, 4096
	fullGRU := full
	fullGRU.TextEncoder = TextBiGRU
	return []struct {
		name string
		cfg  Config
	}{{"small-mean", small}, {"small-bigru", smallGRU}, {"full-mean", full}, {"full-bigru", fullGRU}}
}

// gemm is one matrix product m x k times k x n, counted count times per step.
type gemm struct {
	what    string
	m, k, n int
	count   int
}

func (g gemm) flops() float64 {
	return 2 * float64(g.m) * float64(g.k) * float64(g.n) * float64(g.count)
}

// stepGEMMs lists the matrix products of one training step: forward,
// backward (2 products per forward product whose operands both need a
// gradient, 1 when one side is a no-gradient input), the momentum forward
// pass and the Go-side Sinkhorn product.
func stepGEMMs(c Config, B int) []gemm {
	D, N, M, P := c.Dim, B+c.Queue, c.Concepts, c.Prototypes
	var gs []gemm
	enc := func(train bool) {
		bw := func(both bool) int {
			if !train {
				return 1
			}
			if both {
				return 3
			}
			return 2
		}
		if c.Pooling == PoolAttn {
			gs = append(gs, gemm{"image proj (per region)", B * c.Regions, c.ImageDim, D, bw(false)},
				gemm{"attn scores+pool", B * c.Regions, D, 2, bw(true)})
		} else {
			gs = append(gs, gemm{"image proj (pre-pooled)", B, c.ImageDim, D, bw(false)})
		}
		if c.TextEncoder == TextBiGRU {
			// per direction (gruSeqOp), the three gates side by side: the
			// input projection of all T steps X [Wz Wr Wn] (forward, dW,
			// dX); per time step but the first (zero state) the recurrent
			// product h [Uz Ur Un] (forward, dh); dU of all steps.
			T := c.MaxLen
			gs = append(gs, gemm{"gru input (all steps)", T * B, c.WordDim, 3 * D, 2 * bw(true)},
				gemm{"gru recurrent", B, D, 3 * D, 2 * (T - 1) * min(bw(true), 2)})
			if train {
				gs = append(gs, gemm{"gru dU (all steps)", D, (T - 1) * B, 3 * D, 2})
			}
		} else {
			gs = append(gs, gemm{"text mean+proj", B, c.WordDim, D, bw(true)})
		}
		if c.Concept {
			gs = append(gs, gemm{"gcn X W1", M, c.ConceptEmb, D, bw(true)},
				gemm{"gcn H W2", M, D, D, bw(true)},
				gemm{"gcn A_hat", M, M, D, 2 * bw(false)},
				gemm{"concept attention", B, D, M, 4 * bw(true)})
		}
	}
	enc(true)
	enc(false) // momentum encoders
	con := 2
	if c.Concept {
		con = 4
	}
	// (the DCL weights are computed from these similarities in the head)
	gs = append(gs, gemm{"similarities vs keys (graph)", B, D, N, con * 2})
	if c.Clustering {
		k := 2
		if c.Concept {
			k = 4
		}
		gs = append(gs, gemm{"prototype logits", B, D, P, 3 * k}, gemm{"sinkhorn scores (Go)", B, D, P, 2})
	}
	return gs
}

// sgemmRate measures the raw SGEMM GFLOP/s of the BLAS in use on one shape
// (the BLAS of gonum's blas32, which internal/blasimpl points at the same
// library gorgonia uses) over about window, after one warm-up call.
func sgemmRate(m, k, n int, window time.Duration) float64 {
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for i := range b {
		b[i] = float32(i%5) * 0.1
	}
	run := func() {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: m, Cols: k, Stride: k, Data: a},
			blas32.General{Rows: k, Cols: n, Stride: n, Data: b},
			0, blas32.General{Rows: m, Cols: n, Stride: n, Data: c})
	}
	run()
	start := time.Now()
	reps := 0
	for time.Since(start) < window || reps < 2 {
		run()
		reps++
	}
	return 2 * float64(m) * float64(k) * float64(n) * float64(reps) / time.Since(start).Seconds() / 1e9
}

// BenchmarkStep measures one training step (B = 128, 36 regions) and, in
// the same run, the raw SGEMM rate of the step's dominant product shape
// (the product with the most FLOPs per step). The machine is shared, so the
// SGEMM rate is sampled between the steps and both the mean and the best
// step are reported: "%-of-sgemm" compares the best step's GEMM FLOP rate
// with the best SGEMM sample, "%-of-sgemm-mean" the means.
func BenchmarkStep(b *testing.B) {
	const B = 128
	for _, bc := range benchConfigs() {
		b.Run(bc.name+"/"+BLAS, func(b *testing.B) {
			cfg := bc.cfg
			m, err := NewModel(cfg, ringAdj(cfg.Concepts))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			s := makeSynth(cfg, 2*B, 1)
			// warm up: graph construction and queue filling
			for k := range 2 {
				if _, err := m.Step(s.batch(cfg, k*B, B), 1e-4); err != nil {
					b.Fatal(err)
				}
			}
			var total float64
			dom := gemm{}
			for _, g := range stepGEMMs(cfg, B) {
				total += g.flops()
				if g.flops() > dom.flops() {
					dom = g
				}
			}
			m.timing = stepTiming{}
			best := time.Duration(math.MaxInt64)
			var rates []float64
			var stepTime, stepCPU time.Duration
			b.ResetTimer()
			for k := range b.N {
				t0, c0 := time.Now(), testenv.CPUTime()
				if _, err := m.Step(s.batch(cfg, (k%2)*B, B), 1e-4); err != nil {
					b.Fatal(err)
				}
				d := time.Since(t0)
				stepCPU += testenv.CPUTime() - c0
				stepTime += d
				best = min(best, d)
				b.StopTimer()
				rates = append(rates, sgemmRate(dom.m, dom.k, dom.n, 150*time.Millisecond))
				b.StartTimer()
			}
			b.StopTimer()
			sec := stepTime.Seconds() / float64(b.N)
			var rawBest, rawMean float64
			for _, r := range rates {
				rawBest = max(rawBest, r)
				rawMean += r / float64(len(rates))
			}
			b.ReportMetric(sec*1e3, "ms/step")
			b.ReportMetric(best.Seconds()*1e3, "ms/step-best")
			// CPU time of the step (all threads: Go and BLAS) and the mean
			// number of cores it kept busy; on 2 cores a step can be no
			// shorter than core-ms/step / 2.
			b.ReportMetric(stepCPU.Seconds()*1e3/float64(b.N), "core-ms/step")
			b.ReportMetric(stepCPU.Seconds()/stepTime.Seconds(), "cores-busy")
			b.ReportMetric(total/1e9, "GFLOP/step")
			b.ReportMetric(total/best.Seconds()/1e9, "GFLOP/s-best")
			b.ReportMetric(rawBest, "sgemm-GFLOP/s-best")
			b.ReportMetric(100*total/best.Seconds()/1e9/rawBest, "%-of-sgemm")
			b.ReportMetric(100*total/sec/1e9/rawMean, "%-of-sgemm-mean")
			per := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(b.N) }
			b.ReportMetric(per(m.timing.prepare), "ms-prepare")
			b.ReportMetric(per(m.timing.graph), "ms-graph")
			b.ReportMetric(per(m.timing.update), "ms-update")
			b.Logf("%s: dominant GEMM %s %dx%dx%d; BLAS: %s", bc.name, dom.what, dom.m, dom.k, dom.n, blasBuild())
		})
	}
}

// BenchmarkProductsOfStep runs the products of one training step (stepGEMMs:
// every shape its count of times, back to back, plain NoTrans calls on
// cache-warm operands) and reports their time and "%-of-sgemm" against the
// dominant shape's rate sampled in the same run: the ceiling of
// BenchmarkStep's ratio, were everything but the products free.
func BenchmarkProductsOfStep(b *testing.B) {
	const B = 128
	for _, bc := range benchConfigs() {
		b.Run(bc.name+"/"+BLAS, func(b *testing.B) {
			type op struct {
				gemm
				a, x, c []float32
			}
			var ops []op
			var total float64
			dom := gemm{}
			// nonzero operands: gonum's kernels skip zero elements
			fillNZ := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(i%7+1) * 0.1
				}
				return x
			}
			for _, g := range stepGEMMs(bc.cfg, B) {
				ops = append(ops, op{g, fillNZ(g.m * g.k), fillNZ(g.k * g.n), make([]float32, g.m*g.n)})
				total += g.flops()
				if g.flops() > dom.flops() {
					dom = g
				}
			}
			run := func() {
				for _, o := range ops {
					for range o.count {
						blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
							blas32.General{Rows: o.m, Cols: o.k, Stride: o.k, Data: o.a},
							blas32.General{Rows: o.k, Cols: o.n, Stride: o.n, Data: o.x},
							0, blas32.General{Rows: o.m, Cols: o.n, Stride: o.n, Data: o.c})
					}
				}
			}
			run()
			best := time.Duration(math.MaxInt64)
			var rawBest float64
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				run()
				best = min(best, time.Since(t0))
				b.StopTimer()
				rawBest = max(rawBest, sgemmRate(dom.m, dom.k, dom.n, 150*time.Millisecond))
				b.StartTimer()
			}
			b.ReportMetric(best.Seconds()*1e3, "ms-products-best")
			b.ReportMetric(100*total/best.Seconds()/1e9/rawBest, "%-of-sgemm")
			b.ReportMetric(rawBest, "sgemm-GFLOP/s-best")
		})
	}
}

func ExampleDefaultConfig() {
	c := DefaultConfig()
	fmt.Println(c.Dim, c.TextEncoder, c.Loss, c.Queue, c.Tau, c.Momentum)
	// Output: 256 mean dcl 4096 0.07 0.995
}
