package train

import (
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// TestAttnPoolingRowIndependent pins that the attention pooling of one image
// does not depend on the other images of its batch: its softmax over the
// regions must be shifted by that image's own maximum score. gorgonia's
// SoftMax (tensor v0.9.24, softMaxLastDim) starts every row's maximum at
// the first element of the whole matrix, so an image whose scores are far
// below those of image 0 of the batch gets exp underflow (0/0 = NaN), and
// one whose first region scores far above the rest overflows. The attention
// pooling uses the package's own softmaxOp, which shifts each row by its
// own maximum.
func TestAttnPoolingRowIndependent(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Pooling = PoolAttn
			cfg.Concept, cfg.Clustering = false, false
			m, err := newModel(cfg, nil, dt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			const n = 3
			s := makeSynth(cfg, n, 5)
			per := cfg.Regions * cfg.ImageDim
			// image 0 scaled: its attention scores (quadratic in the
			// features) are thousands of times those of the others
			big := append([]float32(nil), s.regions...)
			for k := range per {
				big[k] *= 40
			}
			// each image encoded alone, then image 0 scaled up first and
			// last in a batch with the others
			D := cfg.Dim
			var alone []float32
			for i := range n {
				v, _, err := m.EncodeImages(big[i*per:(i+1)*per], nil, 1)
				if err != nil {
					t.Fatal(err)
				}
				alone = append(alone, v...)
			}
			last := append(append([]float32(nil), big[per:]...), big[:per]...)
			for _, c := range []struct {
				name    string
				regions []float32
				order   []int // batch position -> image
			}{{"first", big, []int{0, 1, 2}}, {"last", last, []int{1, 2, 0}}} {
				mixed, _, err := m.EncodeImages(c.regions, nil, n)
				if err != nil {
					t.Fatal(err)
				}
				for pos, i := range c.order {
					for k := range D {
						got, want := float64(mixed[pos*D+k]), float64(alone[i*D+k])
						if !(math.Abs(got-want) <= 1e-5) {
							t.Fatalf("large-score image %s: image %d dim %d: %g in the batch, %g alone", c.name, i, k, got, want)
						}
					}
				}
			}
			for k, x := range alone[:D] {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("large-score image dim %d: %g", k, x)
				}
			}
			// a training step on such a batch stays finite
			b := s.batch(cfg, 0, n)
			b.Regions = big
			if _, err := m.Step(b, 1e-3); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDCLBetaZeroIsInfoNCE pins that Beta = 0 gives every allowed negative
// the weight 1 exactly (log-weight equal to the positive's, both shifted by
// the same m_i) in the fused head, float32 and float64 similarities, with
// and without a queue, for row lengths that take the vector kernels: the
// DCL loss is then InfoNCE bit for bit, not up to the float32 exp's
// rounding.
func TestDCLBetaZeroIsInfoNCE(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, c := range []struct{ B, K int }{{4, 0}, {9, 0}, {16, 40}, {33, 131}} {
		B, K := c.B, c.K
		ids := make([]int64, B)
		for i := range ids {
			ids[i] = int64(i % (B - 1)) // one duplicate image
		}
		var q *queue
		if K > 0 {
			q = newQueue(K, 2, tensor.Float32)
			keys := make([]float32, 2*(K-3))
			qids := make([]int64, K-3) // three empty slots
			for s := range qids {
				qids[s] = int64(s % (B + 2))
			}
			q.push(keys, qids, K-3)
		}
		ks := keySet{B: B, K: K, D: 2, batch: make([]float32, 2*B), ids: ids, q: q}
		mask := &dclMask{ex: dclExclusions(ks), ids: ids}
		sb, sq := make([]float32, B*B), make([]float32, B*K)
		for i := range sb {
			sb[i] = float32(2*rng.Float64() - 1)
		}
		for i := range sq {
			sq[i] = float32(2*rng.Float64() - 1)
		}
		db, dq := make([]float32, B*B), make([]float32, B*K)
		scratch := make([]float32, 2*(B+K))
		for i := range B {
			dclWeightRow(db, dq, sb, sq, scratch, mask, B, K, 0, 0.07, i)
			pos := db[i*B+i]
			for j := range B + K {
				if !ks.allowed(i, j, ids) {
					continue
				}
				var lw float32
				if j < B {
					lw = db[i*B+j]
				} else {
					lw = dq[i*K+j-B]
				}
				if lw != pos {
					t.Fatalf("B %d K %d: query %d key %d: log-weight %v, positive %v: weight %g, want exactly 1",
						B, K, i, j, lw, pos, math.Exp(float64(lw)-float64(pos)))
				}
			}
		}
	}
}

// TestPaddingTokensDoNotLeak pins that the token ids after a caption's
// length reach neither its embedding (mean and bi-GRU encoders, instance
// and concept vectors) nor the training losses and gradients: the
// encoders must go by Lengths, not by the <pad> id.
func TestPaddingTokensDoNotLeak(t *testing.T) {
	for _, enc := range []string{TextMean, TextBiGRU} {
		t.Run(enc, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.TextEncoder = enc
			m, err := newModel(cfg, adjFor(cfg), tensor.Float64)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			const B = 5
			s := makeSynth(cfg, B, 4)
			T := cfg.MaxLen
			garbage := append([]int32(nil), s.tokens...)
			n := 0
			for i := range B {
				for k := int(s.lengths[i]); k < T; k++ {
					garbage[i*T+k] = int32(4 + (i*7+k*3)%(cfg.VocabSize-4))
					n++
				}
			}
			if n == 0 {
				t.Fatal("test setup: no padded positions")
			}
			encode := func(tok []int32) (inst, conc []float32) {
				inst, conc, err := m.EncodeCaptions(tok, s.lengths, s.labels[:B*cfg.Concepts], B)
				if err != nil {
					t.Fatal(err)
				}
				return inst, conc
			}
			i0, c0 := encode(s.tokens)
			i1, c1 := encode(garbage)
			for k := range i0 {
				if i0[k] != i1[k] || c0[k] != c1[k] {
					t.Fatalf("value %d: embeddings (%g, %g) with <pad>, (%g, %g) with other ids after the caption", k, i0[k], c0[k], i1[k], c1[k])
				}
			}
			run := func(tok []int32) (Losses, [][]float64) {
				b := s.batch(cfg, 0, B)
				b.Tokens = tok
				tg := runTrainGraph(t, m, b)
				defer tg.vm.Reset()
				var gs [][]float64
				for _, g := range tg.grads {
					gs = append(gs, f64Of(g.Value().Data()))
				}
				return tg.losses(), gs
			}
			l0, g0 := run(s.tokens)
			l1, g1 := run(garbage)
			if l0 != l1 {
				t.Fatalf("losses %+v with <pad>, %+v with other ids after the caption", l0, l1)
			}
			for p := range g0 {
				for k := range g0[p] {
					if g0[p][k] != g1[p][k] {
						t.Fatalf("gradient of %s [%d]: %g with <pad>, %g with other ids", m.names[p], k, g0[p][k], g1[p][k])
					}
				}
			}
		})
	}
}
