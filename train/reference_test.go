package train

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// This file pins formulas of CODER-METHOD.md that the other tests only
// reach through the model's own encoders: each expected value is computed
// here in float64 from the definition, never with the code under test.

// refMat is a row-major float64 matrix.
type refMat struct {
	r, c int
	v    []float64
}

func refFrom(x []float32, r, c int) refMat {
	m := refMat{r, c, make([]float64, r*c)}
	for i, v := range x {
		m.v[i] = float64(v)
	}
	return m
}

func (a refMat) mul(b refMat) refMat {
	out := refMat{a.r, b.c, make([]float64, a.r*b.c)}
	for i := range a.r {
		for k := range a.c {
			x := a.v[i*a.c+k]
			for j := range b.c {
				out.v[i*b.c+j] += x * b.v[k*b.c+j]
			}
		}
	}
	return out
}

func (a refMat) row(i int) []float64 { return a.v[i*a.c : (i+1)*a.c] }

func refL2(x []float64) []float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v / math.Sqrt(s)
	}
	return out
}

func refSoftmax(x []float64, scale float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, scale*v)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(scale*v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func refDot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// refConcepts is C = L2rows( A_hat LeakyReLU_0.2( A_hat X W1 ) W2 ) (M x D).
func refConcepts(m *Model) refMat {
	cfg := m.cfg
	M, e, D := cfg.Concepts, cfg.ConceptEmb, cfg.Dim
	A := refFrom(denseF32(m.ahat), M, M)
	X := refFrom(denseF32(m.w["cpt.X"]), M, e)
	W1 := refFrom(denseF32(m.w["cpt.W1"]), e, D)
	W2 := refFrom(denseF32(m.w["cpt.W2"]), D, D)
	h := A.mul(X.mul(W1))
	for i, v := range h.v {
		if v < 0 {
			h.v[i] = 0.2 * v
		}
	}
	h = A.mul(h.mul(W2))
	for i := range M {
		copy(h.row(i), refL2(h.row(i)))
	}
	return h
}

// refDescriptor is L2( a C ) for the attention a over the concepts.
func refDescriptor(a []float64, C refMat) []float64 {
	out := make([]float64, C.c)
	for k, w := range a {
		for j := range C.c {
			out[j] += w * C.v[k*C.c+j]
		}
	}
	return refL2(out)
}

func nearDef(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s[%d] = %g, want %g (definition)", what, i, got[i], want[i])
		}
	}
}

// TestConceptBranchDirect checks the concept descriptors of EncodeImages
// and EncodeCaptions against CODER-METHOD.md section 4 computed directly:
// the 2-layer GCN, a = softmax(lambda x C^T), c = L2(a C), and for captions
// with linked concepts a_t = rho softmax(lambda y_t) + (1 - rho) softmax(lambda t C^T)
// (rho = 0 for a caption without linked concepts). It also pins the
// attention pooling of the image encoder (CVSE-style, guided by the mean).
func TestConceptBranchDirect(t *testing.T) {
	for _, tc := range []struct {
		name, pool string
		padded     bool // images with fewer real regions than Regions, garbage padding
	}{{"mean", PoolMean, false}, {"attn", PoolAttn, false}, {"attn-padded", PoolAttn, true}} {
		pool := tc.pool
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Pooling = pool
			cfg.Rho, cfg.Lambda = 0.3, 4 // not the defaults: the test must see them used
			m, err := NewModel(cfg, adjFor(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			const n = 7
			s := makeSynth(cfg, 3*n, 11)
			for k := range 2 { // move the weights away from their initialisation
				if _, err := m.Step(s.batch(cfg, k*n, n), 1e-2); err != nil {
					t.Fatal(err)
				}
			}
			b := s.batch(cfg, 2*n, n)
			if tc.padded {
				b = padBatch(cfg, b, 5)
			}
			labels := append([]float32(nil), b.ConceptLabels...)
			M, D := cfg.Concepts, cfg.Dim
			clear(labels[3*M : 4*M]) // caption 3: no linked concept
			labels[5*M+(M-1)] = 1    // caption 5: two linked concepts
			v, cv, err := m.EncodeImages(b.Regions, b.RegionCounts, n)
			if err != nil {
				t.Fatal(err)
			}
			tt, ct, err := m.EncodeCaptions(b.Tokens, b.Lengths, labels, n)
			if err != nil {
				t.Fatal(err)
			}
			C := refConcepts(m)

			// image instance vectors (attention pooling only; mean pooling is
			// TestMeanPoolingEncoder's)
			if pool == PoolAttn {
				R, d := cfg.Regions, cfg.ImageDim
				W := refFrom(denseF32(m.w["img.W"]), d, D)
				bias := denseF32(m.w["img.b"])
				var want []float64
				for i := range n {
					R := R // the image's real regions: the model must ignore the rest
					if b.RegionCounts != nil {
						R = int(b.RegionCounts[i])
					}
					r := refFrom(b.Regions[i*cfg.Regions*d:(i*cfg.Regions+R)*d], R, d).mul(W)
					for k := range R {
						for j := range D {
							r.v[k*D+j] += float64(bias[j])
						}
					}
					g := make([]float64, D)
					for k := range R {
						for j := range D {
							g[j] += r.v[k*D+j] / float64(R)
						}
					}
					sc := make([]float64, R)
					for k := range R {
						sc[k] = refDot(r.row(k), g) / math.Sqrt(float64(D))
					}
					a := refSoftmax(sc, 1)
					pooled := make([]float64, D)
					for k := range R {
						for j := range D {
							pooled[j] += a[k] * r.v[k*D+j]
						}
					}
					want = append(want, refL2(pooled)...)
				}
				nearDef(t, "attention-pooled v", v, want, 1e-5)
			}

			var wantCV, wantCT []float64
			for i := range n {
				vi := refFrom(v[i*D:(i+1)*D], 1, D)
				wantCV = append(wantCV, refDescriptor(refSoftmax(vi.mul(transpose(C)).v, cfg.Lambda), C)...)

				ti := refFrom(tt[i*D:(i+1)*D], 1, D)
				a := refSoftmax(ti.mul(transpose(C)).v, cfg.Lambda)
				y := refFrom(labels[i*M:(i+1)*M], 1, M).v
				if refDot(y, y) > 0 {
					sy := refSoftmax(y, cfg.Lambda)
					for k := range a {
						a[k] = cfg.Rho*sy[k] + (1-cfg.Rho)*a[k]
					}
				}
				wantCT = append(wantCT, refDescriptor(a, C)...)
			}
			nearDef(t, "c_v", cv, wantCV, 2e-5)
			nearDef(t, "c_t", ct, wantCT, 2e-5)

			// without labels every caption uses rho = 0
			_, ct0, err := m.EncodeCaptions(b.Tokens, b.Lengths, nil, n)
			if err != nil {
				t.Fatal(err)
			}
			var want0 []float64
			for i := range n {
				ti := refFrom(tt[i*D:(i+1)*D], 1, D)
				want0 = append(want0, refDescriptor(refSoftmax(ti.mul(transpose(C)).v, cfg.Lambda), C)...)
			}
			nearDef(t, "c_t without labels", ct0, want0, 2e-5)
		})
	}
}

func transpose(a refMat) refMat {
	out := refMat{a.c, a.r, make([]float64, len(a.v))}
	for i := range a.r {
		for j := range a.c {
			out.v[j*a.r+i] = a.v[i*a.c+j]
		}
	}
	return out
}

// momentumClone returns a model whose live weights are m's momentum
// weights (and whose prototypes are m's): its encoders are m's momentum
// encoders.
func momentumClone(t *testing.T, m *Model) *Model {
	t.Helper()
	c, err := newModel(m.cfg, ahatOf(m), m.dt)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range c.w {
		src := m.mw[name]
		if name == "proto" {
			src = m.w[name]
		}
		fill(w, denseF32(src))
	}
	return c
}

// encodeBatch returns m's image and caption embeddings of batch b
// (instance and concept vectors).
func encodeBatch(t *testing.T, m *Model, b *Batch) (v, cv, tt, ct []float32) {
	t.Helper()
	v, cv, err := m.EncodeImages(b.Regions, nil, b.Size)
	if err != nil {
		t.Fatal(err)
	}
	tt, ct, err = m.EncodeCaptions(b.Tokens, b.Lengths, b.ConceptLabels, b.Size)
	if err != nil {
		t.Fatal(err)
	}
	return v, cv, tt, ct
}

func ahatOf(m *Model) []float32 {
	if m.ahat == nil {
		return nil
	}
	return denseF32(m.ahat)
}

// TestMomentumUpdateAndKeys checks, after training steps with a small
// momentum m (so that live and momentum encoders differ a lot):
//   - the EMA of every encoder weight, theta' = m theta'_old + (1 - m) theta_new,
//     and that the prototypes have no momentum copy;
//   - that the queues receive the momentum encoders' keys of the batch
//     (computed before the step's EMA), tagged with the batch's image ids;
//   - every loss term against the definitions, with live queries, momentum
//     keys, DCL weights from the live queries' similarities, Sinkhorn codes
//     of the momentum embeddings.
func TestMomentumUpdateAndKeys(t *testing.T) {
	cfg := tinyConfig()
	cfg.Momentum = 0.6
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const B = 6
	s := makeSynth(cfg, 4*B, 13)
	for k := range 2 {
		if _, err := m.Step(s.batch(cfg, k*B, B), 2e-2); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := m.mw["proto"]; ok {
		t.Error("the prototypes have a momentum copy")
	}
	old := map[string][]float32{}
	for name, w := range m.mw {
		old[name] = denseF32(w)
	}
	b := s.batch(cfg, 2*B, B)
	s.ids[2*B+4] = s.ids[2*B+1] // two captions of one image in the batch

	// the loss of the next step from the definitions
	mc := momentumClone(t, m)
	defer mc.Close()
	kv, kcv, kt, kct := encodeBatch(t, mc, b)
	v, cv, tt, ct := encodeBatch(t, m, b)
	protos := normRows(denseF32(m.w["proto"]), cfg.Prototypes, cfg.Dim)
	code := func(x []float32) []float32 {
		return sinkhornRef(matmulT(x, B, protos, cfg.Prototypes, cfg.Dim), B, cfg.Prototypes, cfg.SinkhornEps, cfg.SinkhornIters)
	}
	qv, qt := code(kv), code(kt)
	var want Losses
	want.Inst = 0.5 * (refContrastive(cfg, v, kt, b.ImageIDs, m.qTxt) + refContrastive(cfg, tt, kv, b.ImageIDs, m.qImg))
	want.Concept = 0.5 * (refContrastive(cfg, cv, kct, b.ImageIDs, m.qcTxt) + refContrastive(cfg, ct, kcv, b.ImageIDs, m.qcImg))
	want.Swap = directCE(cfg, v, protos, qt) + directCE(cfg, tt, protos, qv)
	want.Pred = directCE(cfg, cv, protos, qv) + directCE(cfg, ct, protos, qt)
	want.Total = want.Inst + cfg.LambdaC*want.Concept + cfg.LambdaP*want.Pred + cfg.LambdaS*want.Swap

	got, err := m.Step(b, 2e-2)
	if err != nil {
		t.Fatal(err)
	}
	compareLosses(t, got, want, func(w float64) float64 { return 1e-3 * math.Max(1, math.Abs(w)) }, false, "definition with momentum keys")

	// EMA of the weights after the step
	for name, w := range m.mw {
		live, mom := denseF32(m.w[name]), denseF32(w)
		for i := range mom {
			want := cfg.Momentum*float64(old[name][i]) + (1-cfg.Momentum)*float64(live[i])
			if math.Abs(float64(mom[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Fatalf("%s[%d]: momentum weight %g, want m*old + (1-m)*live = %g", name, i, mom[i], want)
			}
		}
	}

	// the newest B queue entries are the momentum keys of the batch
	for _, qc := range []struct {
		name string
		q    *queue
		keys []float32
	}{{"text", m.qTxt, kt}, {"image", m.qImg, kv}, {"concept text", m.qcTxt, kct}, {"concept image", m.qcImg, kcv}} {
		D := cfg.Dim
		for i := range B {
			slot := (qc.q.head - B + i + qc.q.K) % qc.q.K
			if qc.q.ids[slot] != b.ImageIDs[i] {
				t.Errorf("%s queue slot %d: image %d, want %d", qc.name, slot, qc.q.ids[slot], b.ImageIDs[i])
			}
			got := qc.q.key(slot)
			for k := range D {
				if math.Abs(float64(got[k]-qc.keys[i*D+k])) > 1e-5 {
					t.Fatalf("%s queue slot %d holds %v, want the momentum key %v", qc.name, slot, got, qc.keys[i*D:(i+1)*D])
				}
			}
		}
	}
}

// refContrastive is one direction of the DCL / InfoNCE / VSE++ loss from
// CODER-METHOD.md section 2 with live queries q (also those of the DCL
// weights, c_ij = q_i . k_j), batch keys pk and queue qu, excluding keys of
// the query's image. pk are the momentum keys of the batch for DCL and the live
// embeddings of the other modality for VSE++.
func refContrastive(cfg Config, q, pk []float32, ids []int64, qu *queue) float64 {
	D := cfg.Dim
	B := len(ids)
	var total float64
	for i := range B {
		qi := q[i*D : (i+1)*D]
		var negs [][]float32
		for j := range B {
			if ids[j] != ids[i] {
				negs = append(negs, pk[j*D:(j+1)*D])
			}
		}
		if qu != nil {
			for s := range qu.count {
				if qu.ids[s] != ids[i] {
					negs = append(negs, qu.key(s))
				}
			}
		}
		pos := dot(qi, pk[i*D:(i+1)*D])
		if cfg.Loss == LossVSEPP {
			hard := math.Inf(-1)
			for _, k := range negs {
				hard = math.Max(hard, dot(qi, k))
			}
			total += math.Max(0, cfg.Margin+hard-pos)
			continue
		}
		c := make([]float64, len(negs))
		var mu, sd float64
		for j, k := range negs {
			c[j] = dot(qi, k)
			mu += c[j]
		}
		mu /= float64(len(c))
		for _, x := range c {
			sd += (x - mu) * (x - mu)
		}
		sd = math.Sqrt(sd / float64(len(c)))
		var zs float64
		for _, x := range c {
			zs += math.Exp(cfg.Beta * (x - mu) / (sd + dclEps))
		}
		den := math.Exp(pos / cfg.Tau)
		for j, k := range negs {
			w := float64(len(c)) * math.Exp(cfg.Beta*(c[j]-mu)/(sd+dclEps)) / zs
			den += w * math.Exp(dot(qi, k)/cfg.Tau)
		}
		total += math.Log(den) - pos/cfg.Tau
	}
	return total / float64(B)
}

// TestClipScale pins the global-norm clipping of CODER-METHOD.md section 5
// (torch.nn.utils.clip_grad_norm_): one L2 norm over every gradient of
// every parameter, scale maxNorm/norm when it exceeds maxNorm, 1 otherwise,
// 0 disables; including tensors longer than one 64k chunk.
func TestClipScale(t *testing.T) {
	mk := func(vals ...float32) tensor.Tensor { return tensor.New(tensor.WithBacking(vals)) }
	big := make([]float32, 3<<16+5)
	for i := range big {
		big[i] = float32(i%7) - 3
	}
	var ssBig float64
	for _, v := range big {
		ssBig += float64(v) * float64(v)
	}
	for _, tc := range []struct {
		name      string
		grads     []tensor.Tensor
		max       float64
		norm, scl float64
	}{
		{"clipped over two tensors", []tensor.Tensor{mk(3, 0), mk(0, 4)}, 2, 5, 0.4},
		{"below the bound", []tensor.Tensor{mk(3, 0), mk(0, 4)}, 6, 5, 1},
		{"at the bound", []tensor.Tensor{mk(3, 0), mk(0, 4)}, 5, 5, 1},
		{"disabled", []tensor.Tensor{mk(30, 0), mk(0, 40)}, 0, 50, 1},
		{"several chunks", []tensor.Tensor{tensor.New(tensor.WithBacking(big)), mk(1, 0)}, 2, math.Sqrt(ssBig + 1), 2 / math.Sqrt(ssBig+1)},
		{"float64", []tensor.Tensor{tensor.New(tensor.WithBacking([]float64{6, 8}))}, 2, 10, 0.2},
	} {
		norm, scale := clipScale(tc.grads, tc.max)
		if math.Abs(norm-tc.norm) > 1e-9*tc.norm || math.Abs(scale-tc.scl) > 1e-12 {
			t.Errorf("%s: norm %g scale %g, want %g %g", tc.name, norm, scale, tc.norm, tc.scl)
		}
	}
}

// refBiGRU is the bi-GRU caption embedding of docs/train-model.md section 1
// and CODER-METHOD.md section 1, computed for one caption from its
// definition (float64, no masks: only the caption's L real tokens exist
// here). w returns a weight by name (row-major). Per direction d in {f, b},
// from h = 0:
//
//	z = sigmoid(x Wz + bz + h Uz), r = sigmoid(x Wr + br + h Ur)
//	n = tanh(x Wn + bn + r * (h Un)), h = (1 - z) n + z h
//
// the forward direction over tokens 1..L, the backward one over L..1 (it
// starts at the last real token); t = L2( 1/L sum_tau (h_f,tau + h_b,tau) / 2 ):
// the masked mean over the tokens of the averaged directions, L2-normalised.
func refBiGRU(cfg Config, w func(string) []float64, tokens []int32) []float64 {
	D, Wd := cfg.Dim, cfg.WordDim
	L := len(tokens)
	E := w("txt.E")
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	// x W + b and h U for gate g of direction d (row vectors times matrices)
	pre := func(d, g string, x []float64) []float64 {
		W, b := w("gru."+d+".W"+g), w("gru."+d+".b"+g)
		out := make([]float64, D)
		for j := range D {
			s := b[j]
			for k := range Wd {
				s += x[k] * W[k*D+j]
			}
			out[j] = s
		}
		return out
	}
	hU := func(d, g string, h []float64) []float64 {
		U := w("gru." + d + ".U" + g)
		out := make([]float64, D)
		for j := range D {
			for k := range D {
				out[j] += h[k] * U[k*D+j]
			}
		}
		return out
	}
	cell := func(d string, x, h []float64) []float64 {
		xz, xr, xn := pre(d, "z", x), pre(d, "r", x), pre(d, "n", x)
		uz, ur, un := hU(d, "z", h), hU(d, "r", h), hU(d, "n", h)
		out := make([]float64, D)
		for j := range D {
			z := sigmoid(xz[j] + uz[j])
			r := sigmoid(xr[j] + ur[j])
			n := math.Tanh(xn[j] + r*un[j])
			out[j] = (1-z)*n + z*h[j]
		}
		return out
	}
	x := make([][]float64, L)
	for tau, tok := range tokens {
		x[tau] = E[int(tok)*Wd : (int(tok)+1)*Wd]
	}
	hf, hb := make([][]float64, L), make([][]float64, L)
	h := make([]float64, D)
	for tau := 0; tau < L; tau++ {
		h = cell("f", x[tau], h)
		hf[tau] = h
	}
	h = make([]float64, D)
	for tau := L - 1; tau >= 0; tau-- {
		h = cell("b", x[tau], h)
		hb[tau] = h
	}
	mean := make([]float64, D)
	for tau := range L {
		for j := range D {
			mean[j] += (hf[tau][j] + hb[tau][j]) / 2 / float64(L)
		}
	}
	return refL2(mean)
}

// TestBiGRUEncoderDirect checks the bi-GRU caption embedding end to end
// against refBiGRU, a plain float64 computation from the definition: the
// encoder the embed stage uses (EncodeCaptions, stages/train/encode.go), the
// momentum encoder of a training step (the keys prepare computes, on the
// momentum weights) and the live text embedding of the training graph,
// for captions of every length 1..MaxLen padded with <pad> tokens, with
// random weights (nonzero biases, different live and momentum weights), in
// float32 and float64. It fails if the backward direction is not reversed,
// if padding is not masked (the forward state runs on over the padding, the
// backward one starts at the end of the padding) or if the output is not
// L2-normalised.
func TestBiGRUEncoderDirect(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := tinyConfig()
			cfg.TextEncoder = TextBiGRU
			m, err := newModel(cfg, adjFor(cfg), dt)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// random weights: the initial zero biases would hide their use
			rng := rand.New(rand.NewSource(21))
			for _, src := range []map[string]*tensor.Dense{m.w, m.mw} {
				for _, name := range m.names { // a fixed order: reproducible weights
					w := src[name]
					if name != "txt.E" && !strings.HasPrefix(name, "gru.") {
						continue
					}
					vals := make([]float32, w.Shape().TotalSize())
					for i := range vals {
						vals[i] = float32(rng.Float64()*1.6 - 0.8)
					}
					fill(w, vals)
				}
			}
			T, V := cfg.MaxLen, cfg.VocabSize
			lengths := []int32{3, 1, int32(T), 2, 4, 3}
			n := len(lengths)
			tokens := make([]int32, n*T) // padding: <pad> = 0
			for i, L := range lengths {
				for tau := range int(L) {
					tokens[i*T+tau] = int32(1 + rng.Intn(V-1))
				}
			}
			// caption 5 is caption 0 with one more token: the states of the
			// shared prefix differ only through the backward direction
			copy(tokens[5*T:5*T+3], tokens[0:3])
			lengths[5] = 4
			tokens[5*T+3] = int32(1 + rng.Intn(V-1))

			want := func(src map[string]*tensor.Dense) []float64 {
				cache := map[string][]float64{}
				w := func(name string) []float64 {
					if v, ok := cache[name]; ok {
						return v
					}
					v := refFrom(denseF32(src[name]), 1, src[name].Shape().TotalSize()).v
					cache[name] = v
					return v
				}
				var out []float64
				for i, L := range lengths {
					out = append(out, refBiGRU(cfg, w, tokens[i*T:i*T+int(L)])...)
				}
				return out
			}
			wantLive, wantMom := want(m.w), want(m.mw)
			const tol = 2e-6

			// the embed stage's encoder
			got, _, err := m.EncodeCaptions(tokens, lengths, nil, n)
			if err != nil {
				t.Fatal(err)
			}
			nearDef(t, "EncodeCaptions", got, wantLive, tol)

			// the training step's momentum keys and live embeddings
			s := makeSynth(cfg, n, 4)
			b := s.batch(cfg, 0, n)
			b.Tokens, b.Lengths = tokens, lengths
			tg, err := m.trainGraphFor(n)
			if err != nil {
				t.Fatal(err)
			}
			mk, err := m.prepare(tg, b)
			if err != nil {
				t.Fatal(err)
			}
			nearDef(t, "momentum keys t'", mk.t, wantMom, tol)
			if err := tg.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			live := values(tg.enc.t)
			tg.vm.Reset()
			nearDef(t, "training graph t", live, wantLive, tol)
		})
	}
}

// compareLosses fails t for every loss term of got farther than tol(want)
// from want's, naming it and what want is; with nonzero, also for every
// term that is 0 in want (a test whose reference term is 0 would not catch
// errors in it).
func compareLosses(t *testing.T, got, want Losses, tol func(want float64) float64, nonzero bool, what string) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"Inst", got.Inst, want.Inst}, {"Concept", got.Concept, want.Concept}, {"Pred", got.Pred, want.Pred},
		{"Swap", got.Swap, want.Swap}, {"Total", got.Total, want.Total}} {
		if math.Abs(c.got-c.want) > tol(c.want) {
			t.Errorf("%s = %.9g, %s %.9g", c.name, c.got, what, c.want)
		}
		if nonzero && c.want == 0 {
			t.Errorf("%s is 0 in the %s: the test would not catch errors in it", c.name, what)
		}
	}
}
