package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Batch is one training batch of B image-caption pairs (row-major float32 buffers).
type Batch struct {
	Size    int
	Regions []float32 // Size*Regions*ImageDim
	// RegionCounts (Size, or nil: every image has Regions regions) is the
	// number of real regions of each image, 1..Regions: its first
	// RegionCounts[i] regions are real, the rest padding that pooling
	// leaves out (attention pooling gives it weight 0, mean pooling averages
	// the real ones only).
	RegionCounts  []int32
	Tokens        []int32   // Size*MaxLen, padded with 0 (<pad>)
	Lengths       []int32   // Size (each >= 1)
	ImageIDs      []int64   // Size: queue entries of the same image are never negatives
	ConceptLabels []float32 // Size*Concepts multi-hot of the caption's linked concepts; nil when Concept is off
}

// Losses are the terms of one step (0 for switched-off terms). Total is
// Inst + LambdaC*Concept + LambdaP*Pred + LambdaS*Swap.
type Losses struct{ Total, Inst, Concept, Pred, Swap float64 }

// encodeChunk is the batch size of the inference graphs of EncodeImages and
// EncodeCaptions (the last chunk is padded).
const encodeChunk = 128

// Model is the CODER model: gorgonia training graph, momentum encoders, queues, prototypes.
// It is not safe for concurrent use.
type Model struct {
	cfg   Config
	dt    tensor.Dtype
	names []string                 // parameter names in a fixed order
	w     map[string]*tensor.Dense // live parameters
	mw    map[string]*tensor.Dense // momentum copies (every parameter but the prototypes)
	am    map[string]*tensor.Dense // Adam first moments
	av    map[string]*tensor.Dense // Adam second moments
	ahat  *tensor.Dense            // (M, M) normalised adjacency, nil without concepts
	adamT int64                    // Adam steps taken
	steps int64

	qTxt, qImg, qcTxt, qcImg *queue // momentum key queues (nil when Queue = 0)

	timing stepTiming

	train  map[int]*trainGraph
	encode map[int]*fwdGraph
}

// trainGraph is the training graph of one batch size with the momentum
// forward graph that shares its encoder inputs.
type trainGraph struct {
	in    *encInputs
	li    *lossInputs
	g     *G.ExprGraph
	vm    G.VM
	enc   encOut
	ln    lossNodes
	grads []*G.Node // aligned with Model.names
	mom   *fwdGraph
	dcl   []*dclHeadOp // the DCL heads (tests freeze their weights)
}

// fwdGraph is a forward-only encoder graph.
type fwdGraph struct {
	parts int
	in    *encInputs
	g     *G.ExprGraph
	vm    G.VM
	out   encOut
}

// NewModel builds the model. adj is the M*M normalised concept adjacency
// A_hat = D^-1/2 (A+I) D^-1/2 (row-major), nil when cfg.Concept is false.
func NewModel(cfg Config, adj []float32) (*Model, error) {
	return newModel(cfg, adj, tensor.Float32)
}

type paramSpec struct {
	name  string
	shape tensor.Shape
	init  string // "xavier", "zero", "uniform0.1"
}

func paramSpecs(cfg Config) []paramSpec {
	D := cfg.Dim
	ps := []paramSpec{
		{"img.W", tensor.Shape{cfg.ImageDim, D}, "xavier"},
		{"img.b", tensor.Shape{1, D}, "zero"},
		{"txt.E", tensor.Shape{cfg.VocabSize, cfg.WordDim}, "uniform0.1"},
	}
	if cfg.TextEncoder == TextBiGRU {
		for _, dir := range []string{"f", "b"} {
			for _, g := range []string{"z", "r", "n"} {
				ps = append(ps,
					paramSpec{"gru." + dir + ".W" + g, tensor.Shape{cfg.WordDim, D}, "xavier"},
					paramSpec{"gru." + dir + ".b" + g, tensor.Shape{1, D}, "zero"},
					paramSpec{"gru." + dir + ".U" + g, tensor.Shape{D, D}, "xavier"})
			}
		}
	} else {
		ps = append(ps,
			paramSpec{"txt.W", tensor.Shape{cfg.WordDim, D}, "xavier"},
			paramSpec{"txt.b", tensor.Shape{1, D}, "zero"})
	}
	if cfg.Concept {
		ps = append(ps,
			paramSpec{"cpt.X", tensor.Shape{cfg.Concepts, cfg.ConceptEmb}, "uniform0.1"},
			paramSpec{"cpt.W1", tensor.Shape{cfg.ConceptEmb, D}, "xavier"},
			paramSpec{"cpt.W2", tensor.Shape{D, D}, "xavier"})
	}
	if cfg.Clustering {
		ps = append(ps, paramSpec{"proto", tensor.Shape{cfg.Prototypes, D}, "uniform1"})
	}
	return ps
}

func newModel(cfg Config, adj []float32, dt tensor.Dtype) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, dt: dt,
		w: map[string]*tensor.Dense{}, mw: map[string]*tensor.Dense{},
		am: map[string]*tensor.Dense{}, av: map[string]*tensor.Dense{},
		train: map[int]*trainGraph{}, encode: map[int]*fwdGraph{}}
	if cfg.Concept {
		M := cfg.Concepts
		if len(adj) != M*M {
			return nil, fmt.Errorf("train: concept adjacency has %d values, want Concepts^2 = %d", len(adj), M*M)
		}
		m.ahat = tensor.New(tensor.Of(dt), tensor.WithShape(M, M))
		fill(m.ahat, adj)
	} else if adj != nil {
		return nil, errors.New("train: concept adjacency given but the concept branch is off")
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	for _, ps := range paramSpecs(cfg) {
		n := ps.shape.TotalSize()
		vals := make([]float32, n)
		switch ps.init {
		case "xavier":
			a := math.Sqrt(6 / float64(ps.shape[0]+ps.shape[1]))
			for i := range vals {
				vals[i] = float32((2*rng.Float64() - 1) * a)
			}
		case "uniform0.1":
			for i := range vals {
				vals[i] = float32((2*rng.Float64() - 1) * 0.1)
			}
		case "uniform1":
			for i := range vals {
				vals[i] = float32(2*rng.Float64() - 1)
			}
		}
		nt := func() *tensor.Dense { return tensor.New(tensor.Of(dt), tensor.WithShape(ps.shape...)) }
		m.names = append(m.names, ps.name)
		m.w[ps.name] = nt()
		fill(m.w[ps.name], vals)
		if ps.name != "proto" {
			m.mw[ps.name] = nt()
			fill(m.mw[ps.name], vals)
		}
		m.am[ps.name], m.av[ps.name] = nt(), nt()
	}
	if cfg.Queue > 0 {
		m.qTxt, m.qImg = newQueue(cfg.Queue, cfg.Dim, dt), newQueue(cfg.Queue, cfg.Dim, dt)
		if cfg.Concept {
			m.qcTxt, m.qcImg = newQueue(cfg.Queue, cfg.Dim, dt), newQueue(cfg.Queue, cfg.Dim, dt)
		}
	}
	return m, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// weightNodes creates one graph node per parameter (live or momentum
// tensors; nodes of different graphs share the tensors).
func (m *Model) weightNodes(g *G.ExprGraph, src map[string]*tensor.Dense) (map[string]*G.Node, []*G.Node) {
	w := map[string]*G.Node{}
	var list []*G.Node
	for _, name := range m.names {
		t, ok := src[name]
		if !ok {
			continue
		}
		n := G.NodeFromAny(g, t, G.WithName(name))
		w[name] = n
		list = append(list, n)
	}
	return w, list
}

func (m *Model) newFwd(in *encInputs, src map[string]*tensor.Dense, parts int) (*fwdGraph, error) {
	f := &fwdGraph{parts: parts, in: in, g: G.NewGraph()}
	b := &builder{g: f.g, dt: m.dt, cfg: m.cfg}
	err := build(func() {
		w, _ := m.weightNodes(f.g, src)
		var ahat *G.Node
		if m.ahat != nil {
			ahat = b.input(m.ahat, "ahat")
		}
		f.out = b.encoders(in, w, ahat, parts)
	})
	if err != nil {
		return nil, err
	}
	f.vm = G.NewTapeMachine(f.g)
	return f, nil
}

func (m *Model) trainGraphFor(B int) (*trainGraph, error) {
	if tg, ok := m.train[B]; ok {
		return tg, nil
	}
	tg := &trainGraph{in: newEncInputs(m.cfg, m.dt, B), li: m.newLossInputs(B), g: G.NewGraph()}
	b := &builder{g: tg.g, dt: m.dt, cfg: m.cfg}
	err := build(func() {
		w, list := m.weightNodes(tg.g, m.w)
		var ahat *G.Node
		if m.ahat != nil {
			ahat = b.input(m.ahat, "ahat")
		}
		tg.enc = b.encoders(tg.in, w, ahat, partBoth)
		tg.ln = b.losses(tg.enc, tg.li, w)
		grads, err := G.Grad(tg.ln.total, list...)
		if err != nil {
			panic(err)
		}
		tg.grads = grads
		tg.dcl = b.dcl
	})
	if err != nil {
		return nil, err
	}
	// G.Grad also creates gradient nodes for no-gradient inputs (keys,
	// queues, regions, A_hat); compiling only the subgraph that the losses
	// and parameter gradients need drops that work.
	outputs := G.Nodes{tg.ln.total, tg.ln.inst}
	for _, n := range []*G.Node{tg.ln.concept, tg.ln.pred, tg.ln.swap} {
		if n != nil {
			outputs = append(outputs, n)
		}
	}
	outputs = append(outputs, tg.grads...)
	sub := tg.g.ExactSubgraphRoots(outputs...)
	prog, locMap, err := G.CompileFunction(tg.g, sub.Inputs(), outputs)
	if err != nil {
		return nil, fmt.Errorf("train: compiling the training graph: %w", err)
	}
	tg.vm = G.NewTapeMachine(tg.g, G.WithPrecompiled(prog, locMap))
	mom, err := m.newFwd(tg.in, m.mw, partBoth)
	if err != nil {
		return nil, err
	}
	tg.mom = mom
	m.train[B] = tg
	return tg, nil
}

// encodeGraph returns the forward graph (live weights, batch encodeChunk)
// of one encoder part.
func (m *Model) encodeGraph(part int) (*fwdGraph, error) {
	if f, ok := m.encode[part]; ok {
		return f, nil
	}
	f, err := m.newFwd(newEncInputs(m.cfg, m.dt, encodeChunk), m.w, part)
	if err != nil {
		return nil, err
	}
	m.encode[part] = f
	return f, nil
}

// fillImages writes n images (n*Regions*ImageDim) into rows [0, n) of in
// (mean pooling averages the regions here: identical to pooling after the
// linear layer, 36x cheaper); rows [n, B) are zero. counts (n, or nil for
// all Regions) are the images' real regions (Batch.RegionCounts).
func (m *Model) fillImages(in *encInputs, regions []float32, counts []int32, n int) error {
	cfg := m.cfg
	R, d := cfg.Regions, cfg.ImageDim
	if len(regions) != n*R*d {
		return fmt.Errorf("train: %d region values for %d images, want %d", len(regions), n, n*R*d)
	}
	if counts != nil && len(counts) != n {
		return fmt.Errorf("train: %d region counts for %d images", len(counts), n)
	}
	count := func(i int) int {
		if counts == nil || i >= n {
			return R
		}
		return int(counts[i])
	}
	for i := range counts {
		if c := counts[i]; c < 1 || int(c) > R {
			return fmt.Errorf("train: image %d (of the batch) has %d real regions, want 1..%d", i, c, R)
		}
	}
	if cfg.Pooling == PoolAttn {
		buf := make([]float32, in.B*R*d)
		copy(buf, regions)
		fill(in.regions, buf)
		setRows(in.rlog, in.B, R, func(i, r int) float64 {
			if r < count(i) {
				return 0
			}
			return bigNeg
		})
		setRows(in.rguide, in.B, R, func(i, r int) float64 {
			if c := count(i); r < c {
				return 1 / float64(c)
			}
			return 0
		})
		return nil
	}
	buf := make([]float32, in.B*d)
	parallelRows(n, func(lo, hi int) { // rows are independent
		for i := lo; i < hi; i++ {
			c := count(i)
			poolImage32(buf[i*d:(i+1)*d], regions[i*R*d:(i*R+c)*d], c, d, 1/float32(c))
		}
	})
	fill(in.regions, buf)
	return nil
}

// setRows sets element (i, j) of t, a (rows, cols) matrix in any shape of
// that size, to f(i, j) in t's dtype.
func setRows(t *tensor.Dense, rows, cols int, f func(i, j int) float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range rows {
			for j := range cols {
				d[i*cols+j] = float32(f(i, j))
			}
		}
	case []float64:
		for i := range rows {
			for j := range cols {
				d[i*cols+j] = f(i, j)
			}
		}
	default:
		panic("train: setRows: unsupported dtype")
	}
}

// fillCaptions writes n captions into rows [0, n) of in; rows [n, B) get a
// single <pad> token. labels may be nil (no rho mixing).
func (m *Model) fillCaptions(in *encInputs, tokens, lengths []int32, labels []float32, n int) error {
	cfg := m.cfg
	T, B := cfg.MaxLen, in.B
	if len(tokens) != n*T || len(lengths) != n {
		return fmt.Errorf("train: %d tokens and %d lengths for %d captions, want %d and %d", len(tokens), len(lengths), n, n*T, n)
	}
	if labels != nil && cfg.Concept && len(labels) != n*cfg.Concepts {
		return fmt.Errorf("train: %d concept labels for %d captions, want %d", len(labels), n, n*cfg.Concepts)
	}
	tok := in.tokens.Data().([]int)
	lens := make([]int, B)
	for i := range B {
		lens[i] = 1
		if i < n {
			l := int(lengths[i])
			if l < 1 || l > T {
				return fmt.Errorf("train: caption %d has length %d, want 1..%d", i, l, T)
			}
			lens[i] = l
		}
		for t := range T {
			v := 0
			if i < n {
				v = int(tokens[i*T+t])
				if v < 0 || v >= cfg.VocabSize {
					return fmt.Errorf("train: caption %d token %d is %d, outside the vocabulary of %d", i, t, v, cfg.VocabSize)
				}
			}
			if cfg.TextEncoder == TextBiGRU {
				tok[t*B+i] = v // time-major
			} else {
				tok[i*T+t] = v
			}
		}
	}
	if cfg.TextEncoder == TextBiGRU {
		mk := make([]float32, T*B)
		for t := range T {
			for i := range B {
				if t < lens[i] {
					mk[t*B+i] = 1
				}
			}
		}
		fill(in.mask, mk)
	} else {
		avg := make([]float32, B*T)
		for i := range B {
			for t := range lens[i] {
				avg[i*T+t] = 1 / float32(lens[i])
			}
		}
		fill(in.avg, avg)
	}
	if cfg.Concept {
		M := cfg.Concepts
		y := make([]float32, B*M)
		keep := make([]float32, B)
		parallelRows(B, func(lo, hi int) { m.mixRows(y, keep, labels, n, lo, hi) })
		fill(in.yMix, y)
		fill(in.keep, keep)
		// the stacked inputs [0; y] and [1; keep]
		fill(in.yMix2, append(make([]float32, B*M, 2*B*M), y...))
		one := make([]float32, B, 2*B)
		for i := range one {
			one[i] = 1
		}
		fill(in.keep2, append(one, keep...))
	}
	return nil
}

// mixRows writes rows [lo, hi) of the concept-label mixing inputs: y_i =
// rho softmax(lambda labels_i) and keep_i = 1 - rho for captions with
// labels (rows >= n and unlabelled captions: y_i = 0, keep_i = 1).
func (m *Model) mixRows(y, keep, labels []float32, n, lo, hi int) {
	cfg := m.cfg
	M := cfg.Concepts
	for i := lo; i < hi; i++ {
		keep[i] = 1
		if labels == nil || i >= n {
			continue
		}
		row := labels[i*M : (i+1)*M]
		any := false
		for _, v := range row {
			if v != 0 {
				any = true
				break
			}
		}
		if !any {
			continue
		}
		dst := y[i*M : (i+1)*M]
		softmaxRow(dst, row, cfg.Lambda)
		for k := range dst {
			dst[k] *= float32(cfg.Rho)
		}
		keep[i] = float32(1 - cfg.Rho)
	}
}

// EncodeImages returns n L2-normalised instance vectors (n*Dim) and concept
// vectors (n*Dim, nil when Concept is off). counts (n, or nil) are the
// images' real regions, as Batch.RegionCounts.
func (m *Model) EncodeImages(regions []float32, counts []int32, n int) (inst, concept []float32, err error) {
	if n < 0 {
		return nil, nil, fmt.Errorf("train: EncodeImages: n = %d", n)
	}
	D, per := m.cfg.Dim, m.cfg.Regions*m.cfg.ImageDim
	if len(regions) != n*per {
		return nil, nil, fmt.Errorf("train: EncodeImages: %d values for %d images, want %d", len(regions), n, n*per)
	}
	if counts != nil && len(counts) != n {
		return nil, nil, fmt.Errorf("train: EncodeImages: %d region counts for %d images", len(counts), n)
	}
	f, err := m.encodeGraph(partImage)
	if err != nil {
		return nil, nil, err
	}
	inst = make([]float32, 0, n*D)
	if m.cfg.Concept {
		concept = make([]float32, 0, n*D)
	}
	for s := 0; s < n; s += encodeChunk {
		k := min(encodeChunk, n-s)
		var cs []int32
		if counts != nil {
			cs = counts[s : s+k]
		}
		if err := m.fillImages(f.in, regions[s*per:(s+k)*per], cs, k); err != nil {
			return nil, nil, err
		}
		if err := f.run(); err != nil {
			return nil, nil, err
		}
		inst = append(inst, values(f.out.v)[:k*D]...)
		if m.cfg.Concept {
			concept = append(concept, values(f.out.cv)[:k*D]...)
		}
		f.vm.Reset()
	}
	return inst, concept, nil
}

// EncodeCaptions likewise for captions; conceptLabels may be nil (then rho mixing is skipped).
func (m *Model) EncodeCaptions(tokens []int32, lengths []int32, conceptLabels []float32, n int) (inst, concept []float32, err error) {
	cfg := m.cfg
	if n < 0 || len(tokens) != n*cfg.MaxLen || len(lengths) != n {
		return nil, nil, fmt.Errorf("train: EncodeCaptions: %d tokens and %d lengths for n = %d (MaxLen %d)", len(tokens), len(lengths), n, cfg.MaxLen)
	}
	if conceptLabels != nil && cfg.Concept && len(conceptLabels) != n*cfg.Concepts {
		return nil, nil, fmt.Errorf("train: EncodeCaptions: %d concept labels for n = %d, want %d", len(conceptLabels), n, n*cfg.Concepts)
	}
	f, err := m.encodeGraph(partText)
	if err != nil {
		return nil, nil, err
	}
	D, T, M := cfg.Dim, cfg.MaxLen, cfg.Concepts
	inst = make([]float32, 0, n*D)
	if cfg.Concept {
		concept = make([]float32, 0, n*D)
	}
	for s := 0; s < n; s += encodeChunk {
		k := min(encodeChunk, n-s)
		var lab []float32
		if conceptLabels != nil && cfg.Concept {
			lab = conceptLabels[s*M : (s+k)*M]
		}
		if err := m.fillCaptions(f.in, tokens[s*T:(s+k)*T], lengths[s:s+k], lab, k); err != nil {
			return nil, nil, err
		}
		if err := f.run(); err != nil {
			return nil, nil, err
		}
		inst = append(inst, values(f.out.t)[:k*D]...)
		if cfg.Concept {
			concept = append(concept, values(f.out.ct)[:k*D]...)
		}
		f.vm.Reset()
	}
	return inst, concept, nil
}

func (f *fwdGraph) run() error {
	if err := f.vm.RunAll(); err != nil {
		return fmt.Errorf("train: forward pass: %w", err)
	}
	return nil
}

// Close releases the graphs and machines.
func (m *Model) Close() error {
	var errs []error
	for _, tg := range m.train {
		errs = append(errs, tg.vm.Close(), tg.mom.vm.Close())
	}
	for _, f := range m.encode {
		errs = append(errs, f.vm.Close())
	}
	m.train, m.encode = map[int]*trainGraph{}, map[int]*fwdGraph{}
	return errors.Join(errs...)
}
