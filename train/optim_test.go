package train

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// refUpdate is clipping, Adam and EMA as three separate passes (the
// definition fusedRange must reproduce bit for bit; its products are
// converted, so never fused into FMAs, as in fusedRange).
func refUpdate(w, g, m, v, mw []float32, clip, lr, c1, c2, mu float64) {
	for i := range g {
		if clip != 1 {
			g[i] = float32(float64(g[i]) * clip)
		}
	}
	b1, b2 := float32(adamBeta1), float32(adamBeta2)
	step := float32(lr / c1)
	sc2 := float32(1 / math.Sqrt(c2))
	for i := range w {
		m[i] = float32(b1*m[i]) + float32((1-b1)*g[i])
		v[i] = float32(b2*v[i]) + float32((1-b2)*g[i]*g[i])
		w[i] -= step * m[i] / (float32(float32(math.Sqrt(float64(v[i])))*sc2) + float32(adamEps))
	}
	if mw != nil {
		a, b := float32(mu), float32(1-mu)
		for i := range w {
			mw[i] = float32(a*mw[i]) + float32(b*w[i])
		}
	}
}

func TestFusedRangeMatchesSeparatePasses(t *testing.T) {
	arrays := func(n int) [5][]float32 {
		var r [5][]float32
		rng := rand.New(rand.NewSource(1))
		for k := range r {
			r[k] = make([]float32, n)
			for i := range r[k] {
				r[k][i] = float32(rng.NormFloat64())
				if k == 3 {
					r[k][i] *= r[k][i] // second moments are >= 0
				}
			}
		}
		return r
	}
	for _, tc := range []struct {
		name string
		clip float64
		ema  bool
	}{{"no clip, EMA", 1, true}, {"clip, EMA", 0.37, true}, {"no clip, no EMA", 1, false}, {"clip, no EMA", 0.37, false}} {
		t.Run(tc.name, func(t *testing.T) {
			got, got32, want := arrays(1002), arrays(1002), arrays(1002)
			mwGot, mwGot32, mwWant := got[4], got32[4], want[4]
			if !tc.ema {
				mwGot, mwGot32, mwWant = nil, nil, nil
			}
			for step := int64(1); step <= 3; step++ {
				c1, c2 := 1-math.Pow(adamBeta1, float64(step)), 1-math.Pow(adamBeta2, float64(step))
				gGot := append([]float32(nil), got[1]...)
				gGot32 := append([]float32(nil), got32[1]...)
				fusedRange(got[0], gGot, got[2], got[3], mwGot, tc.clip, 1e-3, c1, c2, 0.99)
				// the float32 path (SSE on amd64) on a misaligned sub-range
				fusedRange32(got32[0][1:], gGot32[1:], got32[2][1:], got32[3][1:], sub(mwGot32, 1, len(got32[0])), tc.clip, 1e-3, c1, c2, 0.99)
				fusedRange32(got32[0][:1], gGot32[:1], got32[2][:1], got32[3][:1], sub(mwGot32, 0, 1), tc.clip, 1e-3, c1, c2, 0.99)
				gWant := append([]float32(nil), want[1]...)
				refUpdate(want[0], gWant, want[2], want[3], mwWant, tc.clip, 1e-3, c1, c2, 0.99)
			}
			for k, name := range []string{"w", "g", "m", "v", "mw"} {
				for i := range got[k] {
					if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("fusedRange: %s[%d] = %g, want %g", name, i, got[k][i], want[k][i])
					}
					if math.Float32bits(got32[k][i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("fusedRange32: %s[%d] = %g, want %g", name, i, got32[k][i], want[k][i])
					}
				}
			}
		})
	}
}

func TestSumSq(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 17, 1000} {
		x := make([]float32, n)
		var want float64
		for i := range x {
			x[i] = float32(i%7) - 2.5
			want += float64(x[i]) * float64(x[i])
		}
		if got := sumSq(x); math.Abs(got-want) > 1e-12*math.Max(1, want) {
			t.Errorf("n=%d: sumSq = %g, want %g", n, got, want)
		}
	}
}

// f64Of returns a float64 copy of a float32 or float64 slice.
func f64Of(data any) []float64 {
	switch d := data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic(fmt.Sprintf("f64Of: %T", data))
}

// stepGrads returns the parameter gradients (in the order of m.names) of
// the training graph on batch b at m's current weights and queues: the
// gradients the next Step(b, .) computes before it clips them (the graph is
// deterministic; the tests check that Step saw the same ones).
func stepGrads(t *testing.T, m *Model, b *Batch) [][]float64 {
	t.Helper()
	tg := runTrainGraph(t, m, b)
	out := make([][]float64, len(tg.grads))
	for i, g := range tg.grads {
		out[i] = f64Of(g.Value().Data())
	}
	tg.vm.Reset()
	return out
}

// textbookAdam is global-norm clipping followed by Adam (Kingma & Ba,
// Algorithm 1, as torch.optim.Adam), in float64, written from the
// definition and not from the code:
//
//	c = min(1, maxNorm / ||g||) over all gradients (maxNorm 0: c = 1)
//	m <- b1 m + (1 - b1) c g,  v <- b2 v + (1 - b2) (c g)^2
//	mhat = m / (1 - b1^t),  vhat = v / (1 - b2^t)
//	w <- w - lr mhat / (sqrt(vhat) + eps)
//
// with b1 = 0.9, b2 = 0.999, eps = 1e-8 and t = 1, 2, ... counted here.
// mag tracks b1 mag + (1 - b1) |c g|, the size of the terms summed into m
// (the scale of its rounding error when they cancel).
type textbookAdam struct {
	t            int
	m, v, mag    [][]float64
	clips, norms []float64 // per step: the clip factor c and ||g||
}

func (a *textbookAdam) step(w, g [][]float64, maxNorm, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	if a.m == nil {
		for _, gi := range g {
			a.m = append(a.m, make([]float64, len(gi)))
			a.v = append(a.v, make([]float64, len(gi)))
			a.mag = append(a.mag, make([]float64, len(gi)))
		}
	}
	var ss float64
	for _, gi := range g {
		for _, x := range gi {
			ss += x * x
		}
	}
	c := 1.0
	if norm := math.Sqrt(ss); maxNorm > 0 && norm > maxNorm {
		c = maxNorm / norm
	}
	a.clips, a.norms = append(a.clips, c), append(a.norms, math.Sqrt(ss))
	a.t++
	c1, c2 := 1-math.Pow(b1, float64(a.t)), 1-math.Pow(b2, float64(a.t))
	for k := range g {
		for i, x := range g[k] {
			gc := c * x
			a.m[k][i] = b1*a.m[k][i] + (1-b1)*gc
			a.v[k][i] = b2*a.v[k][i] + (1-b2)*gc*gc
			a.mag[k][i] = b1*a.mag[k][i] + (1-b1)*math.Abs(gc)
			w[k][i] -= lr * (a.m[k][i] / c1) / (math.Sqrt(a.v[k][i]/c2) + eps)
		}
	}
}

// checkStepsAgainstTextbook runs Step on len(lrs) batches of a fresh model
// of config cfg and dtype dt and checks after every step (t = 1, 2, ...)
// the weights and both Adam moments against textbookAdam applied to the
// gradients of the same graph (stepGrads). It returns the reference (for
// its clip factors and norms).
//
// Tolerances: the code's update, lr/(1-b1^t) m / (sqrt(v) / sqrt(1-b2^t) + eps),
// is the textbook formula (torch.optim.Adam's factorisation; eps is added
// to sqrt(vhat), as in the textbook, so there is no epsilon-placement
// difference). What remains is rounding: in float64 that alone (relative
// 1e-12); in float32 the rounded constants (1 - float32(0.999) is
// 0.00099998713, 1.3e-5 below 0.001, so v is 1.3e-5 low) plus float32
// arithmetic (relative 2e-5), and the rounding of the stored weight
// (2^-23 |w|).
func checkStepsAgainstTextbook(t *testing.T, cfg Config, dt tensor.Dtype, lrs []float64) *textbookAdam {
	t.Helper()
	m, err := newModel(cfg, adjFor(cfg), dt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rel, wulp := 1e-12, 0x1p-51
	if dt == tensor.Float32 {
		rel, wulp = 2e-5, 0x1p-23
	}
	const B = 6
	s := makeSynth(cfg, B*len(lrs), 17)
	ref := &textbookAdam{}
	for k, lr := range lrs {
		b := s.batch(cfg, k*B, B)
		w, before := make([][]float64, len(m.names)), make([][]float64, len(m.names))
		for i, name := range m.names {
			w[i] = f64Of(m.w[name].Data())
			before[i] = append([]float64(nil), w[i]...)
		}
		g := stepGrads(t, m, b)
		ref.step(w, g, cfg.ClipNorm, lr) // w: the textbook weights after the step
		if _, err := m.Step(b, lr); err != nil {
			t.Fatal(err)
		}
		tg := m.train[B]
		c1, c2 := 1-math.Pow(0.9, float64(ref.t)), 1-math.Pow(0.999, float64(ref.t))
		for i, name := range m.names {
			for j, x := range f64Of(tg.grads[i].Value().Data()) {
				if x != g[i][j] {
					t.Fatalf("t=%d %s[%d]: Step's gradient %g, the graph's before the step %g", ref.t, name, j, x, g[i][j])
				}
			}
			gotW, gotM, gotV := f64Of(m.w[name].Data()), f64Of(m.am[name].Data()), f64Of(m.av[name].Data())
			for j := range gotW {
				if d, tol := math.Abs(gotM[j]-ref.m[i][j]), rel*ref.mag[i][j]; d > tol {
					t.Fatalf("t=%d %s[%d]: first moment %.9g, textbook %.9g", ref.t, name, j, gotM[j], ref.m[i][j])
				}
				if d, tol := math.Abs(gotV[j]-ref.v[i][j]), rel*ref.v[i][j]; d > tol {
					t.Fatalf("t=%d %s[%d]: second moment %.9g, textbook %.9g", ref.t, name, j, gotV[j], ref.v[i][j])
				}
				// the update's own error scale: lr |terms of m|/c1 / (sqrt(vhat) + eps)
				scale := lr * (ref.mag[i][j] / c1) / (math.Sqrt(ref.v[i][j]/c2) + 1e-8)
				if d, tol := math.Abs(gotW[j]-w[i][j]), rel*scale+wulp*math.Abs(w[i][j]); d > tol {
					t.Fatalf("t=%d lr=%g %s[%d]: weight %.9g, textbook Adam %.9g (update %.4g, want %.4g)",
						ref.t, lr, name, j, gotW[j], w[i][j], gotW[j]-before[i][j], w[i][j]-before[i][j])
				}
			}
		}
	}
	return ref
}

// TestStepAdamMatchesTextbook pins Adam with bias correction inside
// Model.Step against textbookAdam over four steps (t = 1 .. 4, different
// learning rates), in float32 (the SSE kernel) and float64, clipping off.
// A step count off by one (c1 = 1 - b1^(t+1) at t = 1 is 0.19, not 0.1)
// changes the first update by about a quarter.
func TestStepAdamMatchesTextbook(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := tinyConfig()
			cfg.ClipNorm = 0
			checkStepsAgainstTextbook(t, cfg, dt, []float64{1e-2, 5e-3, 2e-2, 1e-2})
		})
	}
}

// TestStepClipsGlobalNorm runs Model.Step with gradients whose global norm
// is far above ClipNorm and checks the moments and weights after each step
// against textbookAdam on the clipped gradients c g, c = ClipNorm/||g||
// (one norm over every parameter, as torch.nn.utils.clip_grad_norm_): in
// particular the first moment after one step is (1 - b1) c g. Without the
// clipping it would be (1 - b1) g, more than 10 times larger.
func TestStepClipsGlobalNorm(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := tinyConfig()
			cfg.ClipNorm = 0.01
			ref := checkStepsAgainstTextbook(t, cfg, dt, []float64{1e-2, 1e-2})
			for k, c := range ref.clips {
				if c > 0.1 {
					t.Errorf("step %d: gradient norm %g is not far above ClipNorm %g: the test cannot see the clipping", k+1, ref.norms[k], cfg.ClipNorm)
				}
			}
		})
	}
}
