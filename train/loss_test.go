package train

import (
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// prefillQueues puts random unit keys into every queue of m; ids cycle over
// [0, 8) so that some queue entries share an image with the batch.
func prefillQueues(m *Model, n int, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	D := m.cfg.Dim
	for _, q := range []*queue{m.qTxt, m.qImg, m.qcTxt, m.qcImg} {
		if q == nil {
			continue
		}
		keys := make([]float32, n*D)
		ids := make([]int64, n)
		for i := range n {
			for k := range D {
				keys[i*D+k] = float32(rng.NormFloat64())
			}
			ids[i] = int64(i % 8)
		}
		q.push(normRows(keys, n, D), ids, n)
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// directContrastive computes one direction of the instance loss from its
// definition: queries q (B*D), positive keys pk (B*D), queue qu, excluding
// keys of the same image; the DCL weights use q itself (live and momentum
// queries are equal where the tests call it).
func directContrastive(cfg Config, q, pk []float32, ids []int64, qu *queue) float64 {
	return refContrastive(cfg, q, pk, ids, qu)
}

// directCE is mean_i -sum_p q_ip log softmax_p(x_i . proto_p / tauP).
func directCE(cfg Config, x []float32, protos []float32, q []float32) float64 {
	D, P := cfg.Dim, cfg.Prototypes
	B := len(x) / D
	var total float64
	for i := range B {
		z := make([]float64, P)
		m := math.Inf(-1)
		for p := range P {
			z[p] = dot(x[i*D:(i+1)*D], protos[p*D:(p+1)*D]) / cfg.TauP
			m = math.Max(m, z[p])
		}
		var se float64
		for _, v := range z {
			se += math.Exp(v - m)
		}
		for p := range P {
			total -= float64(q[i*P+p]) * (z[p] - m - math.Log(se))
		}
	}
	return total / float64(B)
}

// TestLossTermsDirect compares every loss term of the graph with a direct
// plain-Go computation from the definitions in CODER-METHOD.md. At step 0
// the momentum encoders equal the live ones, so the DCL keys are the live
// embeddings of the batch (from EncodeImages/EncodeCaptions). The VSE++
// cases give the momentum encoders other weights first: VSE++ must score
// the live embeddings of the batch against each other (the queue part
// stays the queue's momentum keys), so the direct computation uses the live
// embeddings, and the test checks that momentum batch keys would give a
// clearly different loss. The Sinkhorn codes are those of the momentum
// embeddings in every case.
func TestLossTermsDirect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"dcl", func(*Config) {}},
		{"dcl-beta2-bigru-attn", func(c *Config) { c.Beta, c.TextEncoder, c.Pooling = 2, TextBiGRU, PoolAttn }},
		{"infonce", func(c *Config) { c.Beta = 0 }},
		{"vsepp", func(c *Config) { c.Loss = LossVSEPP }},
		{"vsepp-inbatch-bigru-attn", func(c *Config) { c.Loss, c.Queue, c.TextEncoder, c.Pooling = LossVSEPP, 0, TextBiGRU, PoolAttn }},
		{"inbatch", func(c *Config) { c.Queue = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			tc.mutate(&cfg)
			m, err := NewModel(cfg, adjFor(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			vsepp := cfg.Loss == LossVSEPP
			if vsepp {
				// momentum encoders unlike the live ones: the weights of
				// another seed
				oc := cfg
				oc.Seed += 100
				o, err := NewModel(oc, adjFor(oc))
				if err != nil {
					t.Fatal(err)
				}
				for name, w := range m.mw {
					fill(w, denseF32(o.w[name]))
				}
				o.Close()
			}
			prefillQueues(m, 7, 5)
			const B = 6
			s := makeSynth(cfg, B, 2)
			s.ids[3] = s.ids[1] // two captions of one image in the batch
			b := s.batch(cfg, 0, B)
			tg := runTrainGraph(t, m, b)
			got := tg.losses()
			tg.vm.Reset()

			v, cv, tt, ct := encodeBatch(t, m, b)
			// the momentum encoders' embeddings (equal to the live ones
			// except in the VSE++ cases)
			mc := momentumClone(t, m)
			defer mc.Close()
			kv, kcv, kt, kct := encodeBatch(t, mc, b)
			var want Losses
			want.Inst = 0.5 * (directContrastive(cfg, v, tt, b.ImageIDs, m.qTxt) + directContrastive(cfg, tt, v, b.ImageIDs, m.qImg))
			want.Concept = 0.5 * (directContrastive(cfg, cv, ct, b.ImageIDs, m.qcTxt) + directContrastive(cfg, ct, cv, b.ImageIDs, m.qcImg))
			if vsepp {
				// the loss with momentum batch keys (the old, non-standard
				// VSE++) must differ clearly, or the test could not tell
				momInst := 0.5 * (directContrastive(cfg, v, kt, b.ImageIDs, m.qTxt) + directContrastive(cfg, tt, kv, b.ImageIDs, m.qImg))
				momConcept := 0.5 * (directContrastive(cfg, cv, kct, b.ImageIDs, m.qcTxt) + directContrastive(cfg, ct, kcv, b.ImageIDs, m.qcImg))
				if math.Abs(momInst-want.Inst) < 1e-2 || math.Abs(momConcept-want.Concept) < 1e-2 {
					t.Fatalf("VSE++ with momentum batch keys: Inst %g, Concept %g; with live keys %g, %g: too close to tell apart", momInst, momConcept, want.Inst, want.Concept)
				}
			}
			protos := normRows(denseF32(m.w["proto"]), cfg.Prototypes, cfg.Dim)
			code := func(x []float32) []float32 {
				return sinkhorn(matmulT(x, B, protos, cfg.Prototypes, cfg.Dim), B, cfg.Prototypes, cfg.SinkhornEps, cfg.SinkhornIters)
			}
			qv, qt := code(kv), code(kt)
			want.Swap = directCE(cfg, v, protos, qt) + directCE(cfg, tt, protos, qv)
			want.Pred = directCE(cfg, cv, protos, qv) + directCE(cfg, ct, protos, qt)
			want.Total = want.Inst + cfg.LambdaC*want.Concept + cfg.LambdaP*want.Pred + cfg.LambdaS*want.Swap
			compareLosses(t, got, want, func(w float64) float64 { return 1e-3 * math.Max(1, math.Abs(w)) }, true, "direct computation")
		})
	}
}

// TestDCLWeights checks the adaptive weights: they average 1 over each
// query's negatives, harder negatives weigh more, excluded keys get bigNeg,
// and beta = 0 gives uniform weights.
func TestDCLWeights(t *testing.T) {
	const B, K, D = 4, 5, 3
	rng := rand.New(rand.NewSource(1))
	rnd := func(n int) []float32 {
		x := make([]float32, n*D)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return normRows(x, n, D)
	}
	q := newQueue(K, D, tensor.Float32)
	q.push(rnd(4), []int64{10, 2, 11, 12}, 4) // slot 4 stays empty; slot 1 has image 2
	ids := []int64{0, 1, 2, 1}
	ks := keySet{B: B, K: K, D: D, batch: rnd(B), ids: ids, q: q}
	queries := rnd(B)
	for _, beta := range []float64{0, 1, 3} {
		lw := logWeights(queries, ks, ids, beta, false, nil)
		N := ks.n()
		for i := range B {
			var sum float64
			var n int
			for j := range N {
				x := float64(lw[i*N+j])
				excluded := j == B+4 || (j < B && j != i && ids[j] == ids[i]) || (j >= B && q.ids[j-B] == ids[i])
				switch {
				case j == i:
					if x != 0 {
						t.Errorf("beta %g: positive (%d,%d) log-weight %g, want 0", beta, i, j, x)
					}
				case excluded:
					if x != bigNeg {
						t.Errorf("beta %g: excluded key (%d,%d) log-weight %g, want %g", beta, i, j, x, float64(bigNeg))
					}
				default:
					n++
					sum += math.Exp(x)
					if beta == 0 && math.Abs(x) > 1e-6 {
						t.Errorf("beta 0: log-weight (%d,%d) = %g, want 0", i, j, x)
					}
				}
			}
			if math.Abs(sum/float64(n)-1) > 1e-5 {
				t.Errorf("beta %g query %d: weights average %g over %d negatives, want 1", beta, i, sum/float64(n), n)
			}
		}
		if beta > 0 {
			// harder (more similar) negatives weigh more
			N := ks.n()
			i := 0
			prevC, prevW := math.Inf(-1), math.Inf(-1)
			type cw struct{ c, w float64 }
			var pairs []cw
			for j := range N {
				if j != i && lw[i*N+j] != bigNeg {
					pairs = append(pairs, cw{dot(queries[:D], ks.key(j)), float64(lw[i*N+j])})
				}
			}
			for range pairs {
				// selection: order by c
				bi := -1
				for k, p := range pairs {
					if p.c > prevC && (bi < 0 || p.c < pairs[bi].c) {
						bi = k
					}
				}
				if pairs[bi].w < prevW {
					t.Errorf("beta %g: weight not increasing with similarity", beta)
				}
				prevC, prevW = pairs[bi].c, pairs[bi].w
			}
		}
	}
	// VSE++ mask: 0 for negatives, bigNeg for the positive and excluded keys.
	mask := logWeights(queries, ks, ids, 1, true, nil)
	if mask[0] != bigNeg || mask[1] != 0 {
		t.Errorf("VSE++ mask row 0 starts %v, want [%g 0 ...]", mask[:2], float64(bigNeg))
	}
}

// TestDCLLogWeightsFused compares dclWeightRow with its reference
// logWeights + shiftLogWeights, with and without a queue, for float32 and
// float64 similarities, on enough rows for the row-parallel path.
func TestDCLLogWeightsFused(t *testing.T) {
	const B, D = 70, 6
	rng := rand.New(rand.NewSource(2))
	rnd := func(n int) []float32 {
		x := make([]float32, n*D)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return normRows(x, n, D)
	}
	for _, K := range []int{0, 30} {
		for _, beta := range []float64{0, 1, 2.5} {
			ids := make([]int64, B)
			for i := range ids {
				ids[i] = int64(i % 50) // some pairs share an image
			}
			var q *queue
			if K > 0 {
				q = newQueue(K, D, tensor.Float32)
				qids := make([]int64, 25) // slots 25.. stay empty
				for i := range qids {
					qids[i] = int64(i * 3)
				}
				q.push(rnd(25), qids, 25)
			}
			ks := keySet{B: B, K: K, D: D, batch: rnd(B), ids: ids, q: q}
			queries := rnd(B)
			sims := ks.sims(queries)
			want := logWeights(queries, ks, ids, beta, false, sims)
			shiftLogWeights(want, sims, B, ks.n(), 0.07)
			wB, wQ := make([]float32, B*B), make([]float32, B*K)
			sb, sq := make([]float32, B*B), make([]float32, B*K)
			N := ks.n()
			for i := range B { // the head's inputs: batch and queue parts apart
				copy(wB[i*B:(i+1)*B], want[i*N:])
				copy(wQ[i*K:(i+1)*K], want[i*N+B:])
				copy(sb[i*B:(i+1)*B], sims[i*N:])
				copy(sq[i*K:(i+1)*K], sims[i*N+B:])
			}
			mask := &dclMask{ex: dclExclusions(ks), ids: ids}
			cmp := func(part string, w []float32, g []float64) {
				for k, x := range w {
					y := g[k]
					if (x == bigNeg) != (y == bigNeg) || math.Abs(float64(x)-y) > 2e-5*math.Max(1, math.Abs(float64(x))) {
						t.Fatalf("K %d beta %g: %s[%d] = %g, reference %g", K, beta, part, k, y, x)
					}
				}
			}
			f64 := func(x []float32) []float64 {
				y := make([]float64, len(x))
				for i, v := range x {
					y[i] = float64(v)
				}
				return y
			}
			// float32 graphs, and float64 ones (similarities converted)
			gB, gQ := make([]float32, B*B), make([]float32, B*K)
			dclLogWeights(gB, gQ, sb, sq, mask, B, K, beta, 0.07)
			cmp("batch", wB, f64(gB))
			cmp("queue", wQ, f64(gQ))
			hB, hQ := make([]float64, B*B), make([]float64, B*K)
			dclLogWeights(hB, hQ, f64(sb), f64(sq), mask, B, K, beta, 0.07)
			cmp("batch (float64)", wB, hB)
			cmp("queue (float64)", wQ, hQ)
		}
	}
}

// dclLogWeights runs dclWeightRow on every row (split over goroutines as
// the DCL head does).
func dclLogWeights[T, S float](db, dq []T, sb, sq []S, m *dclMask, B, K int, beta, tau float64) {
	parallelRows(B, func(lo, hi int) {
		scratch := make([]float32, 2*(B+K))
		for i := lo; i < hi; i++ {
			dclWeightRow(db, dq, sb, sq, scratch, m, B, K, beta, tau, i)
		}
	})
}

// shiftLogWeights (reference for dclWeightRow) subtracts from every row i
// of the (B, N) log-weights (bigNeg entries stay excluded) the shift
// m_i = max_j (c_ij/tau + log w_ij) over the non-excluded keys.
func shiftLogWeights(lw, sims []float32, B, N int, tau float64) {
	for i := range B {
		row := lw[i*N : (i+1)*N]
		m := math.Inf(-1)
		for j, x := range row {
			if x != bigNeg {
				m = math.Max(m, float64(sims[i*N+j])/tau+float64(x))
			}
		}
		for j, x := range row {
			if x != bigNeg {
				row[j] = float32(float64(x) - m)
			}
		}
	}
}

// sinkhornRef (reference for sinkhorn) returns the (B, P) codes of scores z (B*P) by Sinkhorn-Knopp on
// exp(z/eps): iters rounds of normalising prototypes to mass 1/P and samples
// to mass 1/B, then scaled so that every sample's code sums to 1.
func sinkhornRef(z []float32, B, P int, eps float64, iters int) []float32 {
	Q := make([]float64, B*P)
	m := math.Inf(-1)
	for _, x := range z {
		m = math.Max(m, float64(x))
	}
	for i, x := range z {
		Q[i] = math.Exp((float64(x) - m) / eps)
	}
	row := make([]float64, P)
	for range iters {
		clear(row)
		for i := range B {
			for p := range P {
				row[p] += Q[i*P+p]
			}
		}
		for i := range B {
			for p := range P {
				if row[p] > 0 {
					Q[i*P+p] /= row[p] * float64(P)
				}
			}
		}
		for i := range B {
			var s float64
			for p := range P {
				s += Q[i*P+p]
			}
			for p := range P {
				if s > 0 {
					Q[i*P+p] /= s * float64(B)
				}
			}
		}
	}
	out := make([]float32, B*P)
	for i := range Q {
		out[i] = float32(Q[i] * float64(B))
	}
	return out
}

// TestSinkhornMatchesReference checks the fused Sinkhorn-Knopp against the
// textbook passes (sinkhornRef) on scores of several ranges, including
// ones whose exponentials underflow.
func TestSinkhornMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, tc := range []struct {
		B, P  int
		scale float64
		eps   float64
		iters int
	}{{32, 4, 1, 0.05, 3}, {128, 256, 0.3, 0.05, 3}, {7, 9, 1, 0.002, 5}, {5, 3, 1, 0.05, 0}} {
		z := make([]float32, tc.B*tc.P)
		for i := range z {
			z[i] = float32((rng.Float64()*2 - 1) * tc.scale)
		}
		got := sinkhorn(z, tc.B, tc.P, tc.eps, tc.iters)
		want := sinkhornRef(z, tc.B, tc.P, tc.eps, tc.iters)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6*math.Max(1e-3, math.Abs(float64(want[i]))) {
				t.Fatalf("%+v: code %d = %g, reference %g", tc, i, got[i], want[i])
			}
		}
	}
}

func TestSinkhorn(t *testing.T) {
	const B, P = 32, 4
	rng := rand.New(rand.NewSource(4))
	z := make([]float32, B*P)
	for i := range z {
		z[i] = float32(rng.Float64()*2 - 1)
	}
	q := sinkhorn(z, B, P, 0.05, 3)
	col := make([]float64, P)
	for i := range B {
		var s float64
		for p := range P {
			x := float64(q[i*P+p])
			if x < 0 {
				t.Fatalf("negative code %g", x)
			}
			s += x
			col[p] += x
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("code row %d sums to %g, want 1", i, s)
		}
	}
	for p, c := range col {
		// 3 iterations at eps 0.05 balance only roughly (as in SwAV)
		if math.Abs(c-float64(B)/P) > 0.35*float64(B)/P {
			t.Errorf("prototype %d has mass %g, want %g within 35%%", p, c, float64(B)/P)
		}
	}
	// with more iterations the columns converge
	q = sinkhorn(z, B, P, 0.05, 50)
	clear(col)
	for i := range B {
		for p := range P {
			col[p] += float64(q[i*P+p])
		}
	}
	for p, c := range col {
		if math.Abs(c-float64(B)/P) > 0.02*float64(B)/P {
			t.Errorf("50 iterations: prototype %d has mass %g, want %g", p, c, float64(B)/P)
		}
	}
}

func TestQueueFIFO(t *testing.T) {
	q := newQueue(4, 2, tensor.Float32)
	key := func(ids ...int64) []float32 {
		out := make([]float32, 2*len(ids))
		for i, id := range ids {
			out[2*i], out[2*i+1] = float32(id), -float32(id)
		}
		return out
	}
	q.push(key(1, 2, 3), []int64{1, 2, 3}, 3)
	if got := q.entries(); !equalIDs(got, []int64{1, 2, 3}) {
		t.Fatalf("entries %v, want [1 2 3]", got)
	}
	if q.valid(3) {
		t.Error("slot 3 valid before it is written")
	}
	q.push(key(4, 5, 6), []int64{4, 5, 6}, 3)
	if got := q.entries(); !equalIDs(got, []int64{3, 4, 5, 6}) {
		t.Fatalf("entries %v, want [3 4 5 6] (oldest evicted first)", got)
	}
	for s := range 4 {
		if k := q.key(s); k[0] != float32(q.ids[s]) || k[1] != -float32(q.ids[s]) {
			t.Errorf("slot %d holds key %v for id %d", s, k, q.ids[s])
		}
	}
	// keys of the query's own image are masked, others are not
	ks := keySet{B: 2, K: 4, D: 2, batch: key(5, 7), ids: []int64{5, 7}, q: q}
	for j := range ks.n() {
		var id int64
		if j < 2 {
			id = ks.ids[j]
		} else {
			id = q.ids[j-2]
		}
		want := j != 0 && id != 5
		if got := ks.allowed(0, j, ks.ids); got != want {
			t.Errorf("key %d (image %d) allowed = %v for a query of image 5, want %v", j, id, got, want)
		}
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGradientCheck compares the symbolic gradients of the whole loss graph
// with central differences in float64, for every parameter tensor. The
// VSE++ cases check the gradients through both sides of the live batch
// similarities S = v t^T (and c_v c_t^T with the concept branch): the
// numerical gradient perturbs the live weights, which moves queries and
// batch keys alike; the in-batch case has no momentum keys at all.
func TestGradientCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		padded bool // images with fewer real regions than Regions (padBatch)
	}{
		{"all-mean", func(*Config) {}, false},
		{"all-bigru-attn", func(c *Config) { c.TextEncoder, c.Pooling = TextBiGRU, PoolAttn }, false},
		{"all-attn-padded", func(c *Config) { c.Pooling = PoolAttn }, true},
		{"vsepp", func(c *Config) { c.Loss, c.Concept, c.Clustering = LossVSEPP, false, false }, false},
		{"vsepp-inbatch", func(c *Config) { c.Loss, c.Queue, c.Concept, c.Clustering = LossVSEPP, 0, false, false }, false},
		{"vsepp-all-bigru-attn", func(c *Config) { c.Loss, c.TextEncoder, c.Pooling = LossVSEPP, TextBiGRU, PoolAttn }, false},
		{"inbatch", func(c *Config) { c.Queue = 0 }, false}, // the DCL head without a queue part
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			tc.mutate(&cfg)
			m, err := newModel(cfg, adjFor(cfg), tensor.Float64)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			const B = 5
			s := makeSynth(cfg, 3*B, 8)
			batch := func(from int) *Batch {
				if tc.padded {
					return padBatch(cfg, s.batch(cfg, from, B), 2)
				}
				return s.batch(cfg, from, B)
			}
			for k := range 2 { // fill the queues and move momentum weights away from live ones
				if _, err := m.Step(batch(k*B), 1e-2); err != nil {
					t.Fatal(err)
				}
			}
			tg, err := m.trainGraphFor(B)
			if err != nil {
				t.Fatal(err)
			}
			if vsepp := cfg.Loss == LossVSEPP; (tg.li.i2t.keys == nil) != vsepp || (tg.li.t2i.keys == nil) != vsepp {
				t.Fatalf("loss %s: momentum batch-key inputs present = %v, want %v", cfg.Loss, tg.li.i2t.keys != nil, !vsepp)
			}
			if _, err := m.prepare(tg, batch(2*B)); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				if err := tg.vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				l := scalar(tg.ln.total)
				tg.vm.Reset()
				return l
			}
			if err := tg.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			ana := make([][]float64, len(m.names))
			for i, g := range tg.grads {
				ana[i] = append([]float64(nil), g.Value().Data().([]float64)...)
			}
			tg.vm.Reset()
			// the DCL weights are constants of the gradient (no gradient
			// through them, CODER-METHOD.md section 2): the finite
			// differences keep those of the unperturbed weights
			for _, op := range tg.dcl {
				op.frozen = true
			}
			defer func() {
				for _, op := range tg.dcl {
					op.frozen = false
				}
			}()
			rng := rand.New(rand.NewSource(1))
			const h = 1e-5
			for i, name := range m.names {
				w := m.w[name].Data().([]float64)
				var maxErr float64
				var nz int
				for n := range 12 {
					k := rng.Intn(len(w))
					if name == "txt.E" && n%2 == 0 {
						// only rows of used tokens have a gradient; pick one. The odd
						// samples are random rows, mostly of tokens of the earlier
						// batches only: their gradient must be 0 (no stale rows).
						k = (int(s.tokens[2*B*cfg.MaxLen])*cfg.WordDim + rng.Intn(cfg.WordDim))
					}
					orig := w[k]
					w[k] = orig + h
					lp := loss()
					w[k] = orig - h
					lm := loss()
					w[k] = orig
					num := (lp - lm) / (2 * h)
					a := ana[i][k]
					if num != 0 || a != 0 {
						nz++
					}
					e := math.Abs(num-a) / math.Max(1e-6, math.Max(math.Abs(num), math.Abs(a)))
					if math.Abs(num-a) > 1e-7 {
						maxErr = math.Max(maxErr, e)
					}
				}
				if maxErr > 1e-4 {
					t.Errorf("%s: max relative gradient error %.3g", name, maxErr)
				}
				if nz == 0 {
					t.Errorf("%s: all sampled gradients are zero", name)
				}
			}
		})
	}
}
