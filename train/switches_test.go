package train

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// ablation returns the configurations of the ablation table, each adding
// one component to the previous one (VSE++ stands apart).
func ablations() []struct {
	name string
	cfg  Config
} {
	base := tinyConfig()
	base.Loss, base.Queue, base.Beta, base.Clustering, base.Concept = LossDCL, 0, 0, false, false
	vsepp := base
	vsepp.Loss = LossVSEPP
	infonce := base
	queue := infonce
	queue.Queue = 10
	dclw := queue
	dclw.Beta = 1
	clust := dclw
	clust.Clustering = true
	concept := clust
	concept.Concept = true
	return []struct {
		name string
		cfg  Config
	}{{"vsepp", vsepp}, {"infonce", infonce}, {"+queue", queue}, {"+dclweights", dclw}, {"+clustering", clust}, {"+concept", concept}}
}

// TestAblationSwitches checks that every switch changes the graph as
// documented: which loss terms are nonzero, how many keys each query sees,
// and that adding a component changes the loss of the same step.
func TestAblationSwitches(t *testing.T) {
	const B = 6
	var prev Losses
	for k, ab := range ablations() {
		cfg := ab.cfg
		m, err := NewModel(cfg, adjFor(cfg))
		if err != nil {
			t.Fatal(err)
		}
		s := makeSynth(cfg, 3*B, 21)
		var l Losses
		for step := range 3 { // the third step sees a non-empty queue
			if l, err = m.Step(s.batch(cfg, step*B, B), 1e-3); err != nil {
				t.Fatal(err)
			}
		}
		tg := m.train[B]
		if got, want := tg.li.N, B+cfg.Queue; got != want {
			t.Errorf("%s: %d keys per query, want %d", ab.name, got, want)
		}
		// VSE++ scores the live embeddings of the batch (no momentum
		// batch-key inputs); the DCL family takes momentum batch keys
		if vsepp := cfg.Loss == LossVSEPP; (tg.li.i2t.keys == nil) != vsepp || (tg.li.t2i.keys == nil) != vsepp ||
			(cfg.Concept && ((tg.li.ci2t.keys == nil) != vsepp || (tg.li.ct2i.keys == nil) != vsepp)) {
			t.Errorf("%s: momentum batch-key inputs present = %v, want %v", ab.name, tg.li.i2t.keys != nil, !vsepp)
		}
		if (m.qTxt != nil) != (cfg.Queue > 0) || (m.qcTxt != nil) != (cfg.Queue > 0 && cfg.Concept) {
			t.Errorf("%s: queues present = %v/%v", ab.name, m.qTxt != nil, m.qcTxt != nil)
		}
		nz := func(x float64) bool { return x != 0 }
		if !nz(l.Inst) || nz(l.Concept) != cfg.Concept || nz(l.Swap) != cfg.Clustering || nz(l.Pred) != (cfg.Concept && cfg.Clustering) {
			t.Errorf("%s: losses %+v: wrong set of nonzero terms", ab.name, l)
		}
		want := l.Inst + cfg.LambdaC*l.Concept + cfg.LambdaP*l.Pred + cfg.LambdaS*l.Swap
		if math.Abs(l.Total-want) > 1e-5*math.Max(1, want) {
			t.Errorf("%s: Total %g, want Inst + weighted terms = %g", ab.name, l.Total, want)
		}
		_, hasProto := m.w["proto"]
		_, hasGCN := m.w["cpt.X"]
		if hasProto != cfg.Clustering || hasGCN != cfg.Concept {
			t.Errorf("%s: prototypes %v, GCN %v", ab.name, hasProto, hasGCN)
		}
		if k > 0 && l.Inst == prev.Inst && ab.name != "+clustering" && ab.name != "+concept" {
			// adding a queue or DCL weights must change the instance loss of the same data
			t.Errorf("%s: instance loss %g unchanged from the previous configuration", ab.name, l.Inst)
		}
		if k > 0 && l.Total == prev.Total {
			t.Errorf("%s: total loss %g unchanged from the previous configuration", ab.name, l.Total)
		}
		prev = l
		m.Close()
	}
}

func weightsOf(m *Model) map[string][]float32 {
	out := map[string][]float32{}
	names, ts := m.tensors()
	for i, n := range names {
		out[n] = denseF32(ts[i])
	}
	return out
}

func sameWeights(t *testing.T, a, b *Model) {
	t.Helper()
	wa, wb := weightsOf(a), weightsOf(b)
	for n, x := range wa {
		y := wb[n]
		if len(x) != len(y) {
			t.Fatalf("%s: %d vs %d values", n, len(x), len(y))
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s[%d]: %v vs %v", n, i, x[i], y[i])
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	for _, loss := range []string{LossDCL, LossVSEPP} {
		t.Run(loss, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Loss = loss
			cfg.TextEncoder = TextBiGRU
			cfg.VocabSize, cfg.WordDim = 3000, 16 // 48k embedding values: Adam/EMA take the parallel path
			run := func() *Model {
				m, err := NewModel(cfg, adjFor(cfg))
				if err != nil {
					t.Fatal(err)
				}
				s := makeSynth(cfg, 12, 5)
				for k := range 4 {
					if _, err := m.Step(s.batch(cfg, (k%2)*6, 6), 1e-3); err != nil {
						t.Fatal(err)
					}
				}
				return m
			}
			a, b := run(), run()
			defer a.Close()
			defer b.Close()
			sameWeights(t, a, b)
		})
	}
}

// TestSaveLoad checks that a loaded checkpoint encodes identically and
// resumes training bit for bit.
func TestSaveLoad(t *testing.T) {
	for _, enc := range []string{TextMean, TextBiGRU} {
		t.Run(enc, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.TextEncoder = enc
			adj := adjFor(cfg)
			m, err := NewModel(cfg, adj)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := makeSynth(cfg, 18, 9)
			for k := range 2 {
				if _, err := m.Step(s.batch(cfg, k*6, 6), 1e-3); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := m.Save(&buf); err != nil {
				t.Fatal(err)
			}
			l, err := Load(bytes.NewReader(buf.Bytes()), adj)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.Config() != cfg || l.Steps() != 2 {
				t.Fatalf("loaded config/steps differ: steps %d", l.Steps())
			}
			sameWeights(t, m, l)
			for _, pair := range [][2]*Model{{m, l}} {
				v1, c1, _ := pair[0].EncodeImages(s.regions, nil, s.n)
				v2, c2, _ := pair[1].EncodeImages(s.regions, nil, s.n)
				t1, d1, _ := pair[0].EncodeCaptions(s.tokens, s.lengths, s.labels, s.n)
				t2, d2, _ := pair[1].EncodeCaptions(s.tokens, s.lengths, s.labels, s.n)
				for _, xy := range [][2][]float32{{v1, v2}, {c1, c2}, {t1, t2}, {d1, d2}} {
					if len(xy[0]) == 0 || !bytes.Equal(f32bytes(xy[0]), f32bytes(xy[1])) {
						t.Fatal("loaded model encodes differently")
					}
				}
			}
			// resume: the next step is identical
			la, err := m.Step(s.batch(cfg, 12, 6), 1e-3)
			if err != nil {
				t.Fatal(err)
			}
			lb, err := l.Step(s.batch(cfg, 12, 6), 1e-3)
			if err != nil {
				t.Fatal(err)
			}
			if la != lb {
				t.Fatalf("resumed step losses %+v vs %+v", la, lb)
			}
			sameWeights(t, m, l)
			if _, err := Load(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), adj); err == nil {
				t.Error("truncated checkpoint loaded without error")
			}
			if _, err := Load(bytes.NewReader([]byte("not a checkpoint at all, really")), adj); err == nil {
				t.Error("garbage loaded without error")
			}
		})
	}
}

func f32bytes(x []float32) []byte {
	out := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b := math.Float32bits(v)
		out = append(out, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
	}
	return out
}

// TestMeanPoolingEncoder checks EncodeImages (regions averaged before the
// linear layer) against pooling after the linear layer, computed directly.
func TestMeanPoolingEncoder(t *testing.T) {
	cfg := tinyConfig()
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := makeSynth(cfg, 3, 1)
	v, _, err := m.EncodeImages(s.regions, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	W, bias := denseF32(m.w["img.W"]), denseF32(m.w["img.b"])
	D, R, d := cfg.Dim, cfg.Regions, cfg.ImageDim
	for i := range 3 {
		out := make([]float64, D)
		for r := range R {
			for o := range D {
				x := float64(bias[o])
				for k := range d {
					x += float64(s.regions[(i*R+r)*d+k]) * float64(W[k*D+o])
				}
				out[o] += x / float64(R)
			}
		}
		var n float64
		for _, x := range out {
			n += x * x
		}
		for o := range D {
			if want := out[o] / math.Sqrt(n); math.Abs(float64(v[i*D+o])-want) > 1e-5 {
				t.Fatalf("image %d dim %d: %g, want %g", i, o, v[i*D+o], want)
			}
		}
	}
}

func TestValidateAndBadInput(t *testing.T) {
	cfg := tinyConfig()
	bad := cfg
	bad.TextEncoder, bad.Dim, bad.Loss = "lstm", 0, "x"
	if err := bad.Validate(); err == nil {
		t.Fatal("invalid config accepted")
	}
	if _, err := NewModel(cfg, nil); err == nil {
		t.Error("concept branch without adjacency accepted")
	}
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := makeSynth(cfg, 4, 1)
	b := s.batch(cfg, 0, 4)
	b.Lengths = []int32{1, 0, 2, 2}
	if _, err := m.Step(b, 1e-3); err == nil {
		t.Error("zero-length caption accepted")
	}
	b = s.batch(cfg, 0, 4)
	b.Tokens = append([]int32(nil), b.Tokens...)
	b.Tokens[0] = int32(cfg.VocabSize)
	if _, err := m.Step(b, 1e-3); err == nil {
		t.Error("out-of-vocabulary token accepted")
	}
	if _, _, err := m.EncodeImages(s.regions[:5], nil, 1); err == nil {
		t.Error("short region buffer accepted")
	}
}

// TestValidateLossWeights: a negative loss weight (which would maximise its
// term) is refused, each named; zero (the term off) is fine.
func TestValidateLossWeights(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"LambdaC", func(c *Config) { c.LambdaC = -1 }, "LambdaC (a loss weight) must be >= 0"},
		{"LambdaP", func(c *Config) { c.LambdaP = -0.5 }, "LambdaP (a loss weight) must be >= 0"},
		{"LambdaS", func(c *Config) { c.LambdaS = -0.5 }, "LambdaS (a loss weight) must be >= 0"},
		{"zero", func(c *Config) { c.LambdaC, c.LambdaP, c.LambdaS = 0, 0, 0 }, ""},
	} {
		c := tinyConfig()
		tc.set(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
