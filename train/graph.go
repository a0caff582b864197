package train

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bigNeg is the log-weight of an excluded key: exp(bigNeg) is exactly 0 in
// float32 and float64, so the key contributes neither to the loss nor to
// its gradient.
const bigNeg = -1e9

// encInputs are the input tensors of one encoder graph (batch size B). The
// training graph and the momentum graph of the same batch size share them,
// so a batch is written once.
type encInputs struct {
	B       int
	regions *tensor.Dense // mean pooling: (B, d_in) pre-pooled; attn: (B*R, d_in)
	rlog    *tensor.Dense // attn: (B, R) 0 for an image's real regions, bigNeg for its padding
	rguide  *tensor.Dense // attn: (B, 1, R) 1/n for an image's n real regions, 0 for its padding
	tokens  *tensor.Dense // Int (B*T): batch-major for mean, time-major (T*B) for bigru
	avg     *tensor.Dense // mean text: (B, 1, T) = mask_t / len
	mask    *tensor.Dense // bigru: (T*B) token mask, time-major
	yMix    *tensor.Dense // concept: (B, M) = rho_i * softmax(lambda*y_i)
	keep    *tensor.Dense // concept: (B, 1) = 1 - rho_i
	yMix2   *tensor.Dense // concept: (2B, M) = [0; yMix], for the stacked rows [v; t]
	keep2   *tensor.Dense // concept: (2B, 1) = [1; keep]
}

func newEncInputs(cfg Config, dt tensor.Dtype, B int) *encInputs {
	in := &encInputs{B: B}
	if cfg.Pooling == PoolAttn {
		in.regions = tensor.New(tensor.Of(dt), tensor.WithShape(B*cfg.Regions, cfg.ImageDim))
		in.rlog = tensor.New(tensor.Of(dt), tensor.WithShape(B, cfg.Regions))
		in.rguide = tensor.New(tensor.Of(dt), tensor.WithShape(B, 1, cfg.Regions))
	} else {
		in.regions = tensor.New(tensor.Of(dt), tensor.WithShape(B, cfg.ImageDim))
	}
	in.tokens = tensor.New(tensor.Of(tensor.Int), tensor.WithShape(B*cfg.MaxLen))
	if cfg.TextEncoder == TextBiGRU {
		in.mask = tensor.New(tensor.Of(dt), tensor.WithShape(cfg.MaxLen*B))
	} else {
		in.avg = tensor.New(tensor.Of(dt), tensor.WithShape(B, cfg.MaxLen))
	}
	if cfg.Concept {
		in.yMix = tensor.New(tensor.Of(dt), tensor.WithShape(B, cfg.Concepts))
		in.keep = tensor.New(tensor.Of(dt), tensor.WithShape(B, 1))
		in.yMix2 = tensor.New(tensor.Of(dt), tensor.WithShape(2*B, cfg.Concepts))
		in.keep2 = tensor.New(tensor.Of(dt), tensor.WithShape(2*B, 1))
	}
	return in
}

// encOut are the output nodes of the encoders.
type encOut struct {
	v, t   *G.Node // (B, D) unit instance vectors
	cv, ct *G.Node // (B, D) unit concept vectors (nil without the concept branch)
}

// builder wraps graph construction; gorgonia errors at build time are
// programming errors, so G.Must panics are recovered into an error by build.
type builder struct {
	g     *G.ExprGraph
	dt    tensor.Dtype
	cfg   Config
	heads int          // contrastive heads built (each fused op is distinct)
	dcl   []*dclHeadOp // the DCL heads built
}

func build(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: building graph: %v", r)
		}
	}()
	f()
	return nil
}

func (b *builder) input(t *tensor.Dense, name string) *G.Node {
	return G.NodeFromAny(b.g, t, G.WithName(name))
}

func (b *builder) c(x float64) *G.Node {
	if b.dt == tensor.Float64 {
		return G.NewConstant(x)
	}
	return G.NewConstant(float32(x))
}

func (b *builder) scale(x *G.Node, s float64) *G.Node {
	return G.Must(G.HadamardProd(x, b.c(s)))
}

// l2 normalises the rows of a (n, D) node.
// (one fused op, see l2Op).
func l2(x *G.Node) *G.Node {
	return G.Must(G.ApplyOp(&l2Op{opBase{name: "l2"}}, x))
}

// mul is x y for x (n, k) and y (k, m) (one BLAS call, see gemmOp).
func mul(x, y *G.Node) *G.Node { return gemmNode(x, y, false, false) }

// mulT is x y^T for x (n, D) and y (m, D), with the transpose flag passed
// to BLAS instead of a materialised Transpose node.
func mulT(x, y *G.Node) *G.Node { return gemmNode(x, y, false, true) }

// affine is x W + b with b of shape (1, out) (one fused op, see affineOp).
func affine(x, w, bias *G.Node) *G.Node {
	return G.Must(G.ApplyOp(&affineOp{opBase{name: "affine"}}, x, w, bias))
}

// leaky is LeakyReLU with slope a (one fused op, see leakyOp).
func (b *builder) leaky(x *G.Node, a float64) *G.Node {
	return G.Must(G.ApplyOp(newLeaky(a), x))
}

// Parts of the encoders a graph computes.
const (
	partImage = 1 << iota
	partText
	partBoth = partImage | partText
)

// encoders builds the image and/or text encoders (with their concept
// descriptors) on weights w.
func (b *builder) encoders(in *encInputs, w map[string]*G.Node, ahat *G.Node, parts int) encOut {
	cfg := b.cfg
	B, D := in.B, cfg.Dim
	var out encOut

	// image: linear d_in -> D per region, pooling, L2.
	if parts&partImage == 0 {
		// no image side
	} else if x := b.input(in.regions, "regions"); cfg.Pooling == PoolAttn {
		R := cfg.Regions
		r := affine(x, w["img.W"], w["img.b"])            // (B*R, D)
		r3 := G.Must(G.Reshape(r, tensor.Shape{B, R, D})) // (B, R, D)
		// the guide: the mean of each image's real regions (rguide holds
		// 1/n for them, 0 for the padding of an image with n < R)
		m := G.Must(G.BatchedMatMul(b.input(in.rguide, "rguide"), r3)) // (B, 1, D)
		m3 := G.Must(G.Reshape(m, tensor.Shape{B, D, 1}))
		sc := G.Must(G.BatchedMatMul(r3, m3)) // (B, R, 1)
		// softmax_r(sc / sqrt(D)) per image over its real regions (rlog
		// adds bigNeg to the scores of padding regions: weight exactly 0,
		// so no gradient either), shifted by each row's own maximum
		// (softmaxOp): gorgonia's SoftMax shifts every row by a maximum
		// that starts at the first element of the whole matrix, so an
		// image whose scores lie far from image 0's got 0/0 = NaN or
		// Inf/Inf (TestAttnPoolingRowIndependent)
		sc2 := G.Must(G.Add(G.Must(G.Reshape(sc, tensor.Shape{B, R})), b.input(in.rlog, "rlog")))
		a := G.Must(G.ApplyOp(newSoftmax(1/math.Sqrt(float64(D))), sc2))
		a3 := G.Must(G.Reshape(a, tensor.Shape{B, 1, R}))
		v3 := G.Must(G.BatchedMatMul(a3, r3)) // (B, 1, D)
		out.v = l2(G.Must(G.Reshape(v3, tensor.Shape{B, D})))
	} else {
		out.v = l2(affine(x, w["img.W"], w["img.b"]))
	}

	// text
	if parts&partText == 0 {
		// no text side
	} else if tokens := b.input(in.tokens, "tokens"); cfg.TextEncoder == TextBiGRU {
		emb := G.Must(G.ByIndices(w["txt.E"], tokens, 0))
		out.t = l2(b.bigru(in, emb, w))
	} else {
		// masked mean of the embeddings (one fused op, see embedMeanOp)
		s := G.Must(G.ApplyOp(&embedMeanOp{opBase{name: "embedMean"}}, w["txt.E"], tokens, b.input(in.avg, "avg"))) // (B, Wd)
		out.t = l2(affine(s, w["txt.W"], w["txt.b"]))
	}

	if cfg.Concept {
		// C = L2norm(A_hat LeakyReLU(A_hat X W1) W2)
		h1 := mul(ahat, mul(w["cpt.X"], w["cpt.W1"]))
		h2 := mul(ahat, mul(b.leaky(h1, 0.2), w["cpt.W2"]))
		C := l2(h2) // (M, D)
		if out.v != nil && out.t != nil {
			// both sides on the stacked rows [v; t]: one product per
			// product of the branch; the image rows are mixed with y = 0,
			// keep = 1, i.e. not at all (0 + 1 a = a exactly)
			x := G.Must(G.ApplyOp(newStack(), out.v, out.t))
			a := G.Must(G.ApplyOp(newSoftmax(cfg.Lambda), mulT(x, C)))
			a = G.Must(G.ApplyOp(&mixOp{opBase{name: "mix2"}}, a, b.input(in.yMix2, "ymix2"), b.input(in.keep2, "keep2")))
			y := l2(mul(a, C))
			out.cv = G.Must(G.ApplyOp(newRowBlock(0, 2), y))
			out.ct = G.Must(G.ApplyOp(newRowBlock(1, 2), y))
		} else if out.v != nil {
			av := G.Must(G.ApplyOp(newSoftmax(cfg.Lambda), mulT(out.v, C))) // softmax(lambda v C^T)
			out.cv = l2(mul(av, C))
		} else if out.t != nil {
			at := G.Must(G.ApplyOp(newSoftmax(cfg.Lambda), mulT(out.t, C)))
			// ymix + keep_i at (one fused op, see mixOp)
			at = G.Must(G.ApplyOp(&mixOp{opBase{name: "mix"}}, at, b.input(in.yMix, "ymix"), b.input(in.keep, "keep")))
			out.ct = l2(mul(at, C))
		}
	}
	return out
}

// bigru is a batched bidirectional GRU (hidden D) over the embedded tokens
// emb ((T*B, Wd), time-major); it returns the sum over valid time steps of
// forward + backward states, which equals the masked mean up to a per-row
// factor that the following L2 normalisation removes. Both directions are
// one fused op (biGRUOp, see bigru.go; each direction a gruSeqOp, see
// gru.go) with one weight matrix per gate.
func (b *builder) bigru(in *encInputs, emb *G.Node, w map[string]*G.Node) *G.Node {
	T, B, D, Wd := b.cfg.MaxLen, in.B, b.cfg.Dim, b.cfg.WordDim
	args := G.Nodes{emb, b.input(in.mask, "mask")}
	for _, d := range []string{"f", "b"} {
		for _, n := range []string{"Wz", "Wr", "Wn", "bz", "br", "bn", "Uz", "Ur", "Un"} {
			args = append(args, w["gru."+d+"."+n])
		}
	}
	return G.Must(G.ApplyOp(newBiGRU(T, B, D, Wd, "fb"), args...))
}

// dirInputs are the no-gradient inputs of one query direction.
type dirInputs struct {
	keys  *tensor.Dense // (D, B) momentum keys of the batch, transposed; nil for VSE++ (live batch keys)
	queue *tensor.Dense // (D, K) the queue's own storage; nil when Queue = 0
	mask  *dclMask      // DCL: the step's exclusions (the head computes its weights); nil for VSE++
	lwB   *tensor.Dense // VSE++: (B, B) additive mask of the batch keys; nil for DCL
	lwQ   *tensor.Dense // VSE++: (B, K) same for the queue keys; nil when Queue = 0
}

// lossInputs are the no-gradient inputs of the loss heads of the training
// graph, filled from Go each step.
type lossInputs struct {
	N          int // keys per query: B + Queue
	i2t, t2i   dirInputs
	ci2t, ct2i dirInputs     // concept branch
	target     *tensor.Dense // (B, B) identity: the positive of query i is batch key i
	qSwap      *tensor.Dense // (2B, P) Sinkhorn codes [q_t; q_v] (targets of [v; t])
	qPred      *tensor.Dense // (2B, P) Sinkhorn codes [q_v; q_t] (targets of [c_v; c_t])
}

func (m *Model) newLossInputs(B int) *lossInputs {
	cfg, dt := m.cfg, m.dt
	K := cfg.Queue
	nt := func(r, c int) *tensor.Dense { return tensor.New(tensor.Of(dt), tensor.WithShape(r, c)) }
	vsepp := cfg.Loss == LossVSEPP
	dir := func(q *queue) dirInputs {
		var d dirInputs
		if vsepp { // live batch keys in the graph, masks from Go
			d.lwB = nt(B, B)
		} else {
			d.keys, d.mask = nt(cfg.Dim, B), &dclMask{}
		}
		if K > 0 {
			d.queue = q.t
			if vsepp {
				d.lwQ = nt(B, K)
			}
		}
		return d
	}
	li := &lossInputs{N: B + K}
	li.i2t, li.t2i = dir(m.qTxt), dir(m.qImg)
	if cfg.Concept {
		li.ci2t, li.ct2i = dir(m.qcTxt), dir(m.qcImg)
	}
	li.target = nt(B, B)
	one := make([]float32, B*B)
	for i := range B {
		one[i*B+i] = 1
	}
	fill(li.target, one)
	if cfg.Clustering {
		li.qSwap, li.qPred = nt(2*B, cfg.Prototypes), nt(2*B, cfg.Prototypes)
	}
	return li
}

// lossNodes are the scalar loss terms of the training graph (nil when off).
type lossNodes struct {
	total, inst, concept, pred, swap *G.Node
}

// contrastive is one direction of the instance/concept contrastive loss,
// averaged over the B queries, on the similarities with the batch keys and,
// separately, the queue keys (no Concat: its backward pass costs two
// strided copies of the (B, N) gradient per head in gorgonia).
//
// DCL: with s = S/tau + log w - m_i (log w the DCL log-weights of the
// live similarities S themselves, without gradient, and m_i a per-query
// shift, both computed in the head, see dclHeadOp and dclWeightRow; the
// loss does not depend on m_i), L_i = log( sum_j exp(s_ij) ) - s_ii over
// batch and queue keys, which is -LogSoftMax_j(S_ij/tau + log w_ij)[i].
// VSE++: [margin - S_ii + max(max_j (S_ij + mask_ij))]_+ over both parts.
//
// live (VSE++ only, nil for DCL) are the live embeddings of the other
// modality: VSE++ scores the batch part S = q live^T of the training graph
// itself, with gradients into both sides, as the standard formulation
// (Faghri et al.); DCL takes momentum batch keys, a no-gradient input
// (MoCo-style). The queue part is momentum keys for both losses.
func (b *builder) contrastive(q, live *G.Node, d dirInputs, target *tensor.Dense, tag string) *G.Node {
	B := float64(q.Shape()[0])
	var Sb *G.Node // (B, B) cosine similarities with the batch keys
	if live != nil {
		Sb = mulT(q, live)
	} else {
		Sb = mul(q, b.input(d.keys, "keys"+tag))
	}
	var Sq *G.Node
	if d.queue != nil {
		Sq = mul(q, b.input(d.queue, "queue"+tag)) // (B, K) with the queue
	}
	if b.cfg.Loss == LossVSEPP {
		tg := b.input(target, "target"+tag)
		lwB := b.input(d.lwB, "lwb"+tag)
		var lwQ *G.Node
		if d.lwQ != nil {
			lwQ = b.input(d.lwQ, "lwq"+tag)
		}
		pos := G.Must(G.Sum(G.Must(G.HadamardProd(Sb, tg)), 1)) // (B)
		hard := G.Must(G.Max(G.Must(G.Add(Sb, lwB)), 1))        // (B) hardest allowed negative
		if Sq != nil {
			hard = G.Must(G.MaxBetween(hard, G.Must(G.Max(G.Must(G.Add(Sq, lwQ)), 1))))
		}
		h := G.Must(G.Rectify(G.Must(G.Add(G.Must(G.Sub(hard, pos)), b.c(b.cfg.Margin)))))
		return b.scale(G.Must(G.Sum(h)), 1/B)
	}
	// one fused op for the DCL weights of the live similarities and the
	// per-query log-sum-exp minus the positive (dclHeadOp)
	args := []*G.Node{Sb}
	if Sq != nil {
		args = append(args, Sq)
	}
	b.heads++
	op := newDCLHead(b.cfg.Tau, b.cfg.Beta, d.mask, Sq != nil, b.heads)
	b.dcl = append(b.dcl, op)
	l := G.Must(G.ApplyOp(op, args...)) // (B)
	return b.scale(G.Must(G.Sum(l)), 1/B)
}

// ce is the sum over the rows of z of the cross-entropy of soft targets q
// against softmax(s z) divided by B (one fused op per head for the rows,
// see ceRowsOp).
func (b *builder) ce(z *G.Node, q *G.Node, s, B float64) *G.Node {
	b.heads++
	l := G.Must(G.ApplyOp(newCERows(s, b.heads), z, q)) // (B)
	return b.scale(G.Must(G.Sum(l)), 1/B)
}

// losses builds the loss heads on the encoder outputs.
func (b *builder) losses(enc encOut, li *lossInputs, w map[string]*G.Node) lossNodes {
	cfg := b.cfg
	var ln lossNodes
	half := func(a, c *G.Node) *G.Node { return b.scale(G.Must(G.Add(a, c)), 0.5) }
	// VSE++ scores the live embeddings of the batch against each other
	// (gradients through both sides); DCL uses momentum batch keys
	live := func(x *G.Node) *G.Node {
		if cfg.Loss == LossVSEPP {
			return x
		}
		return nil
	}
	ln.inst = half(
		b.contrastive(enc.v, live(enc.t), li.i2t, li.target, "i2t"),
		b.contrastive(enc.t, live(enc.v), li.t2i, li.target, "t2i"))
	ln.total = ln.inst
	if cfg.Concept {
		ln.concept = half(
			b.contrastive(enc.cv, live(enc.ct), li.ci2t, li.target, "ci2t"),
			b.contrastive(enc.ct, live(enc.cv), li.ct2i, li.target, "ct2i"))
		ln.total = G.Must(G.Add(ln.total, b.scale(ln.concept, cfg.LambdaC)))
	}
	if cfg.Clustering {
		P := l2(w["proto"]) // (P, D) unit prototypes
		// both heads of a term on the stacked rows [x1; x2]: one product for
		// the logits, one for their input gradient, one for the prototypes'
		// gradient; the mean over B rows of each head is the sum over the
		// 2B rows divided by B
		ce := func(x1, x2 *G.Node, q *tensor.Dense, name string) *G.Node {
			x := G.Must(G.ApplyOp(newStack(), x1, x2))
			return b.ce(mulT(x, P), b.input(q, name), 1/cfg.TauP, float64(x1.Shape()[0]))
		}
		ln.swap = ce(enc.v, enc.t, li.qSwap, "qswap")
		ln.total = G.Must(G.Add(ln.total, b.scale(ln.swap, cfg.LambdaS)))
		if cfg.Concept {
			ln.pred = ce(enc.cv, enc.ct, li.qPred, "qpred")
			ln.total = G.Must(G.Add(ln.total, b.scale(ln.pred, cfg.LambdaP)))
		}
	}
	return ln
}
