package train

import (
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// This file pins, against plain float64 computations written from
// CODER-METHOD.md (not from the code), what the other end-to-end tests
// leave open because they run at the default hyper-parameters or on a
// symmetric adjacency: that every hyper-parameter reaches the term it
// belongs to (a confused or hard-coded temperature, Sinkhorn epsilon or
// iteration count, margin, or loss weight fails here), and the orientation
// of A_hat in the GCN.

// methodVecs is n row vectors of length d in float64.
func methodVecs(x []float32, d int) [][]float64 {
	out := make([][]float64, len(x)/d)
	for i := range out {
		out[i] = make([]float64, d)
		for k := range d {
			out[i][k] = float64(x[i*d+k])
		}
	}
	return out
}

// methodKey is a key with the image id it belongs to.
type methodKey struct {
	k  []float64
	id int64
}

// methodQueueKeys returns the valid entries of a queue (slot order does
// not matter to the losses).
func methodQueueKeys(q *queue) []methodKey {
	if q == nil {
		return nil
	}
	var out []methodKey
	for s := range q.K {
		if q.valid(s) {
			out = append(out, methodKey{methodVecs(q.key(s), q.D)[0], q.ids[s]})
		}
	}
	return out
}

// methodContrastive is one direction of CODER-METHOD.md section 2, averaged
// over the queries: query i's positive is batch key i, its negatives N_i are
// the other batch keys and the queue entries of images other than ids[i].
//
//	DCL:   c_ij = q_i . k_j, w_ij = |N_i| softmax_j(beta (c_ij - mu_i)/(sigma_i + eps)),
//	       L_i = -log( e^{c_ii/tau} / (e^{c_ii/tau} + sum_j w_ij e^{c_ij/tau}) )
//	VSE++: L_i = max(0, margin - c_ii + max_{j in N_i} c_ij)
func methodContrastive(cfg Config, queries, batchKeys [][]float64, ids []int64, queue []methodKey) float64 {
	var total float64
	for i, q := range queries {
		pos := refDot(q, batchKeys[i])
		var c []float64 // similarities with the negatives
		for j, k := range batchKeys {
			if ids[j] != ids[i] {
				c = append(c, refDot(q, k))
			}
		}
		for _, e := range queue {
			if e.id != ids[i] {
				c = append(c, refDot(q, e.k))
			}
		}
		if cfg.Loss == LossVSEPP {
			hardest := math.Inf(-1)
			for _, x := range c {
				hardest = math.Max(hardest, x)
			}
			total += math.Max(0, cfg.Margin-pos+hardest)
			continue
		}
		n := float64(len(c))
		var mu, v float64
		for _, x := range c {
			mu += x / n
		}
		for _, x := range c {
			v += (x - mu) * (x - mu) / n
		}
		sigma := math.Sqrt(v)
		w := make([]float64, len(c))
		var z float64
		for j, x := range c {
			w[j] = math.Exp(cfg.Beta * (x - mu) / (sigma + 1e-6))
			z += w[j]
		}
		den := math.Exp(pos / cfg.Tau)
		for j, x := range c {
			den += n * w[j] / z * math.Exp(x/cfg.Tau)
		}
		total += -math.Log(math.Exp(pos/cfg.Tau) / den)
	}
	return total / float64(len(queries))
}

// methodSinkhorn is Sinkhorn-Knopp as in SwAV: Q = exp(z/eps) (B x P),
// Q /= sum(Q); iters times {each prototype column to mass 1/P, each sample
// row to mass 1/B}; then Q *= B (every code sums to 1).
func methodSinkhorn(z [][]float64, eps float64, iters int) [][]float64 {
	B, P := len(z), len(z[0])
	Q := make([][]float64, B)
	var tot float64
	for i := range B {
		Q[i] = make([]float64, P)
		for p := range P {
			Q[i][p] = math.Exp(z[i][p] / eps)
			tot += Q[i][p]
		}
	}
	for i := range B {
		for p := range P {
			Q[i][p] /= tot
		}
	}
	for range iters {
		for p := range P {
			var s float64
			for i := range B {
				s += Q[i][p]
			}
			for i := range B {
				Q[i][p] /= s * float64(P)
			}
		}
		for i := range B {
			var s float64
			for p := range P {
				s += Q[i][p]
			}
			for p := range P {
				Q[i][p] /= s * float64(B)
			}
		}
	}
	for i := range B {
		for p := range P {
			Q[i][p] *= float64(B)
		}
	}
	return Q
}

// methodScores is x C^T for unit prototypes C.
func methodScores(x, protos [][]float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, xi := range x {
		out[i] = make([]float64, len(protos))
		for p, c := range protos {
			out[i][p] = refDot(xi, c)
		}
	}
	return out
}

// methodCE is mean_i CE(q_i, softmax(x_i C^T / tauP)) = -mean_i sum_p q_ip log softmax_p(...).
func methodCE(q, x, protos [][]float64, tauP float64) float64 {
	var total float64
	for i, z := range methodScores(x, protos) {
		var se float64
		for _, v := range z {
			se += math.Exp(v / tauP)
		}
		for p, v := range z {
			total -= q[i][p] * (v/tauP - math.Log(se))
		}
	}
	return total / float64(len(x))
}

// TestLossHyperParametersDirect checks every loss term and the total of a
// training step against CODER-METHOD.md sections 2, 3 and 5 computed
// directly, with every hyper-parameter away from its default and from the
// others (Tau, Beta, TauP, SinkhornEps, SinkhornIters, Margin, Lambda, Rho,
// LambdaC, LambdaP, LambdaS, Momentum), after two steps (the queues have
// wrapped, the momentum encoders differ from the live ones), with a
// duplicate image in the batch and a batch image that also has queue
// entries. Queries are the live embeddings; keys the momentum ones (VSE++:
// the live ones for the batch part, momentum for the queue); the codes are
// Sinkhorn-Knopp of the momentum embeddings' scores with the unit
// prototypes; Swap = CE(q_t, v) + CE(q_v, t); Pred = CE(q_v, c_v) + CE(q_t, c_t)
// (docs/train-model.md section 5); Total = Inst + LambdaC Concept +
// LambdaP Pred + LambdaS Swap. It fails if two loss weights are swapped or
// one is dropped, or if a temperature, the Sinkhorn epsilon or iteration
// count, or the margin is a confused or hard-coded default.
func TestLossHyperParametersDirect(t *testing.T) {
	for _, loss := range []string{LossDCL, LossVSEPP} {
		t.Run(loss, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Loss = loss
			cfg.Tau, cfg.Beta, cfg.Margin = 0.13, 1.7, 0.35
			cfg.TauP, cfg.SinkhornEps, cfg.SinkhornIters = 0.23, 0.11, 2
			cfg.Lambda, cfg.Rho = 3, 0.25
			cfg.LambdaC, cfg.LambdaP, cfg.LambdaS = 0.7, 1.9, 0.3
			cfg.Momentum = 0.6
			m, err := newModel(cfg, adjFor(cfg), tensor.Float64)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			const B = 6
			s := makeSynth(cfg, 3*B, 31)
			for k := range 2 { // 12 keys into queues of 10: wrapped
				if _, err := m.Step(s.batch(cfg, k*B, B), 2e-2); err != nil {
					t.Fatal(err)
				}
			}
			b := s.batch(cfg, 2*B, B)
			s.ids[2*B+4] = s.ids[2*B+1] // two captions of one image
			s.ids[2*B+2] = s.ids[B+3]   // an image with keys in the queues
			inQueue := false
			for _, id := range m.qTxt.ids {
				inQueue = inQueue || id == s.ids[B+3]
			}
			if !inQueue {
				t.Fatal("test setup: the queue holds no key of the batch's image")
			}

			D, P := cfg.Dim, cfg.Prototypes
			live := func(x []float32) [][]float64 { return methodVecs(x, D) }
			v, cv, tt, ct := encodeBatch(t, m, b)
			mc := momentumClone(t, m)
			defer mc.Close()
			kv, kcv, kt, kct := encodeBatch(t, mc, b)
			protos := methodVecs(denseF32(m.w["proto"]), D)
			for p := range P {
				protos[p] = refL2(protos[p])
			}
			ids := b.ImageIDs
			// batch keys: momentum (DCL) or live (VSE++)
			bk := func(mom, liv []float32) [][]float64 {
				if loss == LossVSEPP {
					return live(liv)
				}
				return live(mom)
			}
			var want Losses
			want.Inst = (methodContrastive(cfg, live(v), bk(kt, tt), ids, methodQueueKeys(m.qTxt)) +
				methodContrastive(cfg, live(tt), bk(kv, v), ids, methodQueueKeys(m.qImg))) / 2
			want.Concept = (methodContrastive(cfg, live(cv), bk(kct, ct), ids, methodQueueKeys(m.qcTxt)) +
				methodContrastive(cfg, live(ct), bk(kcv, cv), ids, methodQueueKeys(m.qcImg))) / 2
			qv := methodSinkhorn(methodScores(live(kv), protos), cfg.SinkhornEps, cfg.SinkhornIters)
			qt := methodSinkhorn(methodScores(live(kt), protos), cfg.SinkhornEps, cfg.SinkhornIters)
			want.Swap = methodCE(qt, live(v), protos, cfg.TauP) + methodCE(qv, live(tt), protos, cfg.TauP)
			want.Pred = methodCE(qv, live(cv), protos, cfg.TauP) + methodCE(qt, live(ct), protos, cfg.TauP)
			want.Total = want.Inst + cfg.LambdaC*want.Concept + cfg.LambdaP*want.Pred + cfg.LambdaS*want.Swap

			t.Logf("definition: %+v", want)
			const rel = 1e-5
			tol := func(x float64) float64 { return rel * math.Max(1, math.Abs(x)) }
			// the test must be able to see a swapped or dropped loss weight
			for _, d := range []struct {
				name string
				diff float64
			}{
				{"LambdaP <-> LambdaS", (cfg.LambdaP - cfg.LambdaS) * (want.Pred - want.Swap)},
				{"LambdaC <-> LambdaP", (cfg.LambdaC - cfg.LambdaP) * (want.Concept - want.Pred)},
				{"LambdaC <-> LambdaS", (cfg.LambdaC - cfg.LambdaS) * (want.Concept - want.Swap)},
				{"LambdaC dropped", (1 - cfg.LambdaC) * want.Concept},
				{"LambdaP dropped", (1 - cfg.LambdaP) * want.Pred},
				{"LambdaS dropped", (1 - cfg.LambdaS) * want.Swap},
			} {
				if math.Abs(d.diff) < 100*tol(want.Total) {
					t.Fatalf("test setup: %s changes Total by only %g", d.name, d.diff)
				}
			}

			got, err := m.Step(b, 2e-2)
			if err != nil {
				t.Fatal(err)
			}
			compareLosses(t, got, want, tol, true, "definition")
		})
	}
}

// methodGCN is C = L2rows( A LReLU_0.2( A X W1 ) W2 ) with A the matrix as
// given (row i of A X aggregates the rows X_j with weights A_ij).
func methodGCN(A, X, W1, W2 [][]float64) [][]float64 {
	mul := func(a, b [][]float64) [][]float64 {
		out := make([][]float64, len(a))
		for i := range a {
			out[i] = make([]float64, len(b[0]))
			for k, x := range a[i] {
				for j, y := range b[k] {
					out[i][j] += x * y
				}
			}
		}
		return out
	}
	h := mul(A, mul(X, W1))
	for _, row := range h {
		for j, x := range row {
			if x < 0 {
				row[j] = 0.2 * x
			}
		}
	}
	h = mul(A, mul(h, W2))
	for i := range h {
		h[i] = refL2(h[i])
	}
	return h
}

// methodDescriptors are the concept descriptors of CODER-METHOD.md section 4
// for unit queries x and concept embeddings C: a = softmax(lambda x C^T),
// mixed with rho softmax(lambda y) when labels y are given and the row has a
// linked concept (a = rho softmax(lambda y) + (1 - rho) a), and c = L2(a C).
func methodDescriptors(x [][]float64, C [][]float64, labels [][]float64, lambda, rho float64) [][]float64 {
	softmax := func(z []float64) []float64 {
		out := make([]float64, len(z))
		var s float64
		for k, v := range z {
			out[k] = math.Exp(lambda * v)
			s += out[k]
		}
		for k := range out {
			out[k] /= s
		}
		return out
	}
	out := make([][]float64, len(x))
	for i, xi := range x {
		a := softmax(methodScores([][]float64{xi}, C)[0])
		if labels != nil && refDot(labels[i], labels[i]) > 0 {
			y := softmax(labels[i])
			for k := range a {
				a[k] = rho*y[k] + (1-rho)*a[k]
			}
		}
		c := make([]float64, len(C[0]))
		for k, w := range a {
			for j, v := range C[k] {
				c[j] += w * v
			}
		}
		out[i] = refL2(c)
	}
	return out
}

// TestConceptGCNAsymmetricAdjacency checks the concept descriptors c_v,
// c_t against CODER-METHOD.md section 4 with an adjacency that is not
// symmetric and has unequal degrees (the ring of the other tests is
// symmetric with equal degrees, so A_hat used transposed, or with its rows
// and columns confused, would pass there): for the embed stage's encoders
// (EncodeImages, EncodeCaptions), for the training graph's live c_v, c_t
// (stacked rows, rho mixing on the caption rows only) and for the momentum
// keys c'_v, c'_t of a step (momentum GCN weights, unlike the live ones).
func TestConceptGCNAsymmetricAdjacency(t *testing.T) {
	cfg := tinyConfig()
	cfg.Lambda, cfg.Rho, cfg.Momentum = 3, 0.25, 0.6
	M, D := cfg.Concepts, cfg.Dim
	// a directed graph: A_hat = D^-1/2 (A + I) D^-1/2 with out-degrees
	rng := rand.New(rand.NewSource(5))
	a := make([]float64, M*M)
	deg := make([]float64, M)
	for i := range M {
		for j := range M {
			switch {
			case i == j:
				a[i*M+j] = 1
			case rng.Float64() < 0.5:
				a[i*M+j] = 0.2 + rng.Float64()
			}
			deg[i] += a[i*M+j]
		}
	}
	adj := make([]float32, M*M)
	var asym float64
	for i := range M {
		for j := range M {
			adj[i*M+j] = float32(a[i*M+j] / math.Sqrt(deg[i]*deg[j]))
		}
	}
	for i := range M {
		for j := range M {
			asym = math.Max(asym, math.Abs(float64(adj[i*M+j]-adj[j*M+i])))
		}
	}
	if asym < 0.1 {
		t.Fatalf("test setup: adjacency nearly symmetric (max |A - A^T| = %g)", asym)
	}
	m, err := newModel(cfg, adj, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const B = 6
	s := makeSynth(cfg, 3*B, 41)
	for k := range 2 { // move live and momentum weights apart
		if _, err := m.Step(s.batch(cfg, k*B, B), 2e-2); err != nil {
			t.Fatal(err)
		}
	}
	b := s.batch(cfg, 2*B, B)
	labels := append([]float32(nil), b.ConceptLabels...)
	clear(labels[2*M : 3*M]) // caption 2: no linked concept
	labels[4*M+(M-1)] = 1    // caption 4: two linked concepts
	b.ConceptLabels = labels

	A := methodVecs(adj, M)
	gcn := func(w map[string]*tensor.Dense) [][]float64 {
		return methodGCN(A, methodVecs(denseF32(w["cpt.X"]), cfg.ConceptEmb),
			methodVecs(denseF32(w["cpt.W1"]), D), methodVecs(denseF32(w["cpt.W2"]), D))
	}
	Clive, Cmom := gcn(m.w), gcn(m.mw)
	Y := methodVecs(labels, M)
	check := func(what string, got []float32, x [][]float64, C [][]float64, labels [][]float64) {
		t.Helper()
		want := methodDescriptors(x, C, labels, cfg.Lambda, cfg.Rho)
		for i, row := range want {
			for k, w := range row {
				if g := float64(got[i*D+k]); math.Abs(g-w) > 1e-6 {
					t.Fatalf("%s[%d][%d] = %.9g, definition %.9g", what, i, k, g, w)
				}
			}
		}
	}

	// the embed stage's encoders
	v, cv, err := m.EncodeImages(b.Regions, nil, B)
	if err != nil {
		t.Fatal(err)
	}
	tt, ct, err := m.EncodeCaptions(b.Tokens, b.Lengths, labels, B)
	if err != nil {
		t.Fatal(err)
	}
	check("EncodeImages c_v", cv, methodVecs(v, D), Clive, nil)
	check("EncodeCaptions c_t", ct, methodVecs(tt, D), Clive, Y)

	// the momentum keys and the training graph's live descriptors
	tg, err := m.trainGraphFor(B)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := m.prepare(tg, b)
	if err != nil {
		t.Fatal(err)
	}
	check("momentum key c'_v", mk.cv, methodVecs(mk.v, D), Cmom, nil)
	check("momentum key c'_t", mk.ct, methodVecs(mk.t, D), Cmom, Y)
	if err := tg.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, gt, gcv, gct := values(tg.enc.v), values(tg.enc.t), values(tg.enc.cv), values(tg.enc.ct)
	tg.vm.Reset()
	check("training graph c_v", gcv, methodVecs(gv, D), Clive, nil)
	check("training graph c_t", gct, methodVecs(gt, D), Clive, Y)
}

// TestDefaultConfigMatchesMethod pins the defaults that CODER-METHOD.md
// states (sections 1 to 5); Dim and TextEncoder are the documented CPU
// sizes (docs/train-model.md section 8), and TauP, which the method leaves
// open, is the project's 0.1.
func TestDefaultConfigMatchesMethod(t *testing.T) {
	c := DefaultConfig()
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"Regions", float64(c.Regions), 36}, {"WordDim", float64(c.WordDim), 300},
		{"Momentum", c.Momentum, 0.995}, {"Queue", float64(c.Queue), 4096},
		{"Tau", c.Tau, 0.07}, {"Beta", c.Beta, 1}, {"Margin", c.Margin, 0.2},
		{"Prototypes", float64(c.Prototypes), 256}, {"SinkhornIters", float64(c.SinkhornIters), 3},
		{"SinkhornEps", c.SinkhornEps, 0.05}, {"TauP", c.TauP, 0.1},
		{"Concepts", float64(c.Concepts), 300}, {"Lambda", c.Lambda, 10}, {"Rho", c.Rho, 0.4},
		{"LambdaC", c.LambdaC, 1}, {"LambdaP", c.LambdaP, 0.5}, {"LambdaS", c.LambdaS, 0.5},
		{"Alpha", c.Alpha, 0.9}, {"LR", c.LR, 2e-4}, {"ClipNorm", c.ClipNorm, 2},
	} {
		if f.got != f.want {
			t.Errorf("DefaultConfig().%s = %g, CODER-METHOD.md %g", f.name, f.got, f.want)
		}
	}
	if c.Loss != LossDCL || !c.Clustering || !c.Concept {
		t.Errorf("DefaultConfig: loss %q, clustering %v, concept %v; want every CODER component on", c.Loss, c.Clustering, c.Concept)
	}
	if c.Dim != 256 || c.TextEncoder != TextMean || c.Pooling != PoolMean {
		t.Errorf("DefaultConfig: Dim %d, TextEncoder %q, Pooling %q; docs/train-model.md section 8 says 256, mean, mean", c.Dim, c.TextEncoder, c.Pooling)
	}
}
