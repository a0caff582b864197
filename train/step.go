package train

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gorgonia.org/tensor"
)

// momentumKeys are the no-gradient embeddings of a batch by the momentum
// encoders: the keys of the step and the inputs of the Sinkhorn codes. (The
// DCL weights do not use them: since train.coder version 5 the DCL heads
// compute the weights from the live queries' similarities.)
type momentumKeys struct {
	v, t, cv, ct []float32 // B*D each; cv, ct nil without concepts
}

// stepTiming accumulates wall time per phase of Step (for benchmarks):
// prepare = input fill, momentum forward, keys, weights, codes; graph =
// forward+backward of the training graph; update = clip, Adam, EMA, enqueue.
type stepTiming struct{ prepare, graph, update time.Duration }

func (m *Model) checkBatch(b *Batch) error {
	if b == nil {
		return errors.New("train: nil batch")
	}
	B := b.Size
	if B < 2 {
		return fmt.Errorf("train: batch size %d, want >= 2", B)
	}
	if b.RegionCounts != nil && len(b.RegionCounts) != B {
		return fmt.Errorf("train: batch has %d region counts for %d pairs", len(b.RegionCounts), B)
	}
	if len(b.ImageIDs) != B {
		return fmt.Errorf("train: batch has %d image ids for %d pairs", len(b.ImageIDs), B)
	}
	if m.cfg.Concept && b.ConceptLabels != nil && len(b.ConceptLabels) != B*m.cfg.Concepts {
		return fmt.Errorf("train: batch has %d concept labels, want %d", len(b.ConceptLabels), B*m.cfg.Concepts)
	}
	return nil
}

// prepare fills every input of the training graph for batch b: encoder
// inputs, momentum forward pass, keys, DCL exclusions or VSE++ masks, and
// codes.
func (m *Model) prepare(tg *trainGraph, b *Batch) (*momentumKeys, error) {
	cfg := m.cfg
	B, D := b.Size, cfg.Dim
	if err := m.fillImages(tg.in, b.Regions, b.RegionCounts, B); err != nil {
		return nil, err
	}
	labels := b.ConceptLabels
	if !cfg.Concept {
		labels = nil
	}
	if err := m.fillCaptions(tg.in, b.Tokens, b.Lengths, labels, B); err != nil {
		return nil, err
	}
	if err := tg.mom.run(); err != nil {
		return nil, err
	}
	mk := &momentumKeys{v: values(tg.mom.out.v), t: values(tg.mom.out.t)}
	if cfg.Concept {
		mk.cv, mk.ct = values(tg.mom.out.cv), values(tg.mom.out.ct)
	}
	tg.mom.vm.Reset()

	li := tg.li
	vsepp := cfg.Loss == LossVSEPP
	dir := func(d dirInputs, keys []float32, q *queue) {
		ks := keySet{B: B, K: cfg.Queue, D: D, batch: keys, ids: b.ImageIDs, q: q}
		if vsepp {
			// the batch keys are the live embeddings in the graph; only
			// the mask (same-image exclusions, positive) comes from Go
			splitFill(d.lwB, d.lwQ, logWeights(nil, ks, b.ImageIDs, 0, true, nil), B, ks.n())
			return
		}
		// DCL: the keys, and the exclusions with which the head weighs
		// the live similarities
		fill(d.keys, ks.batchT())
		d.mask.ex, d.mask.ids = dclExclusions(ks), b.ImageIDs
	}
	dir(li.i2t, mk.t, m.qTxt)
	dir(li.t2i, mk.v, m.qImg)
	if cfg.Concept {
		dir(li.ci2t, mk.ct, m.qcTxt)
		dir(li.ct2i, mk.cv, m.qcImg)
	}
	if cfg.Clustering {
		P := cfg.Prototypes
		protos := normRows(denseF32(m.w["proto"]), P, D)
		// the scores of both code sets in one product (rows [0, B) image,
		// [B, 2B) text), the two Sinkhorn runs on two goroutines
		qs := make([]float32, 0, 2*B*D)
		z := matmulT(append(append(qs, mk.v...), mk.t...), 2*B, protos, P, D)
		var q [2][]float32 // image, text
		pair(func(k int) { q[k] = sinkhorn(z[k*B*P:(k+1)*B*P], B, P, cfg.SinkhornEps, cfg.SinkhornIters) })
		qv, qt := q[0], q[1]
		fill(li.qSwap, append(append(make([]float32, 0, 2*B*P), qt...), qv...))
		fill(li.qPred, append(append(make([]float32, 0, 2*B*P), qv...), qt...))
	}
	return mk, nil
}

// Step runs one training step (momentum forward, Sinkhorn/weights, forward+backward, clip, Adam with lr, EMA, enqueue).
// A NaN or infinite loss or gradient norm is an error before the update: the
// model (weights, momentum weights, Adam state, queues, step counts) keeps its
// state from before the step.
func (m *Model) Step(b *Batch, lr float64) (Losses, error) {
	if err := m.checkBatch(b); err != nil {
		return Losses{}, err
	}
	if !(lr > 0) {
		return Losses{}, fmt.Errorf("train: learning rate %g, want > 0", lr)
	}
	tg, err := m.trainGraphFor(b.Size)
	if err != nil {
		return Losses{}, err
	}
	t0 := time.Now()
	mk, err := m.prepare(tg, b)
	if err != nil {
		return Losses{}, err
	}
	t1 := time.Now()
	if err := tg.vm.RunAll(); err != nil {
		tg.vm.Reset()
		return Losses{}, fmt.Errorf("train: forward/backward pass: %w", err)
	}
	l := tg.losses()
	if math.IsNaN(l.Total) || math.IsInf(l.Total, 0) {
		tg.vm.Reset()
		return l, fmt.Errorf("train: loss is %g at step %d", l.Total, m.steps)
	}
	grads := make([]tensor.Tensor, len(tg.grads))
	for i, g := range tg.grads {
		grads[i] = g.Value().(tensor.Tensor)
	}
	t2 := time.Now()
	err = m.update(grads, lr)
	tg.vm.Reset()
	if err != nil {
		return l, err
	}
	B := b.Size
	m.qTxt.push(mk.t, b.ImageIDs, B)
	m.qImg.push(mk.v, b.ImageIDs, B)
	if m.cfg.Concept {
		m.qcTxt.push(mk.ct, b.ImageIDs, B)
		m.qcImg.push(mk.cv, b.ImageIDs, B)
	}
	m.steps++
	t3 := time.Now()
	m.timing.prepare += t1.Sub(t0)
	m.timing.graph += t2.Sub(t1)
	m.timing.update += t3.Sub(t2)
	return l, nil
}

// update is the clipping, Adam and EMA of one step, in one pass per
// parameter tensor. Gradients with a NaN or infinite global norm are
// refused before anything changes (clipping cannot rescue them: the factor
// would be NaN, or 0 and Inf*0 = NaN, and unclipped Adam divides Inf by
// Inf), so the model keeps its last finite state.
func (m *Model) update(grads []tensor.Tensor, lr float64) error {
	norm, clip := clipScale(grads, m.cfg.ClipNorm)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fmt.Errorf("train: gradient norm is %g at step %d (1-based; the loss is finite)", norm, m.steps+1)
	}
	m.adamT++
	for i, name := range m.names {
		fusedUpdate(m.w[name], grads[i], m.am[name], m.av[name], m.mw[name], clip, lr, m.adamT, m.cfg.Momentum)
	}
	return nil
}

func (tg *trainGraph) losses() Losses {
	return Losses{
		Total:   scalar(tg.ln.total),
		Inst:    scalar(tg.ln.inst),
		Concept: scalar(tg.ln.concept),
		Pred:    scalar(tg.ln.pred),
		Swap:    scalar(tg.ln.swap),
	}
}

// denseF32 returns a float32 copy of a tensor's data.
func denseF32(t *tensor.Dense) []float32 {
	switch d := t.Data().(type) {
	case []float32:
		return append([]float32(nil), d...)
	case []float64:
		out := make([]float32, len(d))
		for i, x := range d {
			out[i] = float32(x)
		}
		return out
	}
	panic("train: unsupported dtype")
}
