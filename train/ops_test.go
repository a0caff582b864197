package train

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// TestFloat32MatchesFloat64 runs one training pass of the same model in
// float32 and float64 and compares losses, every parameter gradient and
// the encoders' outputs. The float64 graph is the one TestGradientCheck
// verifies; the fused ops take different code paths for float32 (expf,
// exp32 in the GRU gates, float32 BLAS). B = 64 makes the row-parallel
// paths of the fused ops run.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"all-mean", func(*Config) {}},
		{"all-bigru-attn", func(c *Config) { c.TextEncoder, c.Pooling = TextBiGRU, PoolAttn }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.VocabSize, cfg.Queue = 300, 40
			tc.mutate(&cfg)
			const B = 64
			s := makeSynth(cfg, B, 4)
			type result struct {
				l     Losses
				grads [][]float64
				enc   []float32
			}
			run := func(dt tensor.Dtype) result {
				m, err := newModel(cfg, adjFor(cfg), dt)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				prefillQueues(m, 30, 6)
				tg := runTrainGraph(t, m, s.batch(cfg, 0, B))
				var r result
				r.l = tg.losses()
				for _, g := range tg.grads {
					var v []float64
					switch d := g.Value().Data().(type) {
					case []float32:
						for _, x := range d {
							v = append(v, float64(x))
						}
					case []float64:
						v = append(v, d...)
					}
					r.grads = append(r.grads, v)
				}
				tg.vm.Reset()
				if r.enc, _, err = m.EncodeCaptions(s.tokens, s.lengths, s.labels, B); err != nil {
					t.Fatal(err)
				}
				return r
			}
			a, b := run(tensor.Float32), run(tensor.Float64)
			for _, c := range [][2]float64{{a.l.Total, b.l.Total}, {a.l.Inst, b.l.Inst}, {a.l.Concept, b.l.Concept}, {a.l.Swap, b.l.Swap}, {a.l.Pred, b.l.Pred}} {
				if math.Abs(c[0]-c[1]) > 2e-6*math.Max(1, math.Abs(c[1])) { // float32 rounding gives <= 7e-7
					t.Errorf("losses float32 %+v, float64 %+v", a.l, b.l)
					break
				}
			}
			names := paramSpecs(cfg)
			for i := range b.grads {
				var scale, diff float64
				for k, x := range b.grads[i] {
					scale = math.Max(scale, math.Abs(x))
					diff = math.Max(diff, math.Abs(a.grads[i][k]-x))
				}
				if scale == 0 {
					t.Errorf("%s: zero gradient: test would not catch errors", names[i].name)
				}
				if diff > 1e-3*scale {
					t.Errorf("%s: float32 gradient differs from float64 by %.3g (max |g| %.3g)", names[i].name, diff, scale)
				}
			}
			var diff float64
			for k, x := range a.enc {
				diff = math.Max(diff, math.Abs(float64(x)-float64(b.enc[k])))
			}
			if diff > 1e-5 {
				t.Errorf("caption embeddings differ by %.3g between float32 and float64", diff)
			}
		})
	}
}

// TestMeanTextEncoder checks EncodeCaptions of the mean encoder (fused
// embedMeanOp) against l2(mean_t E[token_t] W + b), computed directly.
func TestMeanTextEncoder(t *testing.T) {
	cfg := tinyConfig()
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := makeSynth(cfg, 5, 3)
	got, _, err := m.EncodeCaptions(s.tokens, s.lengths, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	E, W, bias := denseF32(m.w["txt.E"]), denseF32(m.w["txt.W"]), denseF32(m.w["txt.b"])
	D, Wd, T := cfg.Dim, cfg.WordDim, cfg.MaxLen
	for i := range 5 {
		L := int(s.lengths[i])
		mean := make([]float64, Wd)
		for tt := range L {
			tok := int(s.tokens[i*T+tt])
			for k := range Wd {
				mean[k] += float64(E[tok*Wd+k]) / float64(L)
			}
		}
		out := make([]float64, D)
		var n float64
		for o := range D {
			x := float64(bias[o])
			for k := range Wd {
				x += mean[k] * float64(W[k*D+o])
			}
			out[o] = x
			n += x * x
		}
		for o := range D {
			if want := out[o] / math.Sqrt(n); math.Abs(float64(got[i*D+o])-want) > 1e-5 {
				t.Fatalf("caption %d dim %d: %g, want %g", i, o, got[i*D+o], want)
			}
		}
	}
}

// TestWorkerPanicReachesCaller checks that a panic in a worker goroutine of
// parallelRange or bothDirections reaches the caller (where the train
// stage's recovery makes it an error) after every worker has stopped,
// instead of ending the process.
func TestWorkerPanicReachesCaller(t *testing.T) {
	for name, run := range map[string]func(done *atomic.Int32){
		"parallelRange": func(done *atomic.Int32) {
			parallelRange(1000, 1, func(lo, hi int) {
				defer done.Add(1)
				if lo > 0 {
					panic("boom")
				}
			})
		},
		"bothDirections": func(done *atomic.Int32) {
			bothDirections(func(d int) {
				defer done.Add(1)
				if d == 1 {
					panic("boom")
				}
			})
		},
		"caller's share": func(done *atomic.Int32) {
			bothDirections(func(d int) {
				defer done.Add(1)
				if d == 0 {
					panic("boom")
				}
				time.Sleep(20 * time.Millisecond)
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			if runtime.GOMAXPROCS(0) < 2 && name == "parallelRange" {
				t.Skip("parallelRange runs inline with GOMAXPROCS 1")
			}
			var done atomic.Int32
			func() {
				defer func() {
					r := recover()
					if r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
						t.Errorf("recovered %v, want the worker's panic", r)
					}
					if n := done.Load(); n < 2 {
						t.Errorf("%d of the 2 shares had finished when the panic reached the caller", n)
					}
				}()
				run(&done)
			}()
		})
	}
}
