package train

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// tinyConfig is a configuration small enough for exhaustive checks.
func tinyConfig() Config {
	c := DefaultConfig()
	c.ImageDim, c.Regions, c.VocabSize, c.MaxLen, c.Concepts = 12, 3, 30, 5, 6
	c.Dim, c.WordDim, c.ConceptEmb = 8, 6, 5
	c.Queue, c.Prototypes = 10, 4
	c.Seed = 3
	return c
}

// synth is a synthetic paired data set: each pair's region features and
// caption tokens are derived from a shared random latent vector.
type synth struct {
	n       int
	regions []float32 // n*R*d
	tokens  []int32   // n*T
	lengths []int32
	ids     []int64
	labels  []float32 // n*M
}

func makeSynth(cfg Config, n int, seed int64) *synth {
	rng := rand.New(rand.NewSource(seed))
	const dz = 6
	R, d, T, V, M := cfg.Regions, cfg.ImageDim, cfg.MaxLen, cfg.VocabSize, cfg.Concepts
	proj := make([]float64, R*d*dz)
	for i := range proj {
		proj[i] = rng.NormFloat64()
	}
	words := make([]float64, V*dz)
	for i := range words {
		words[i] = rng.NormFloat64()
	}
	s := &synth{n: n, regions: make([]float32, n*R*d), tokens: make([]int32, n*T),
		lengths: make([]int32, n), ids: make([]int64, n), labels: make([]float32, n*max(M, 1))}
	z := make([]float64, dz)
	bags := map[string]bool{} // token sets seen: a mean encoder cannot tell equal bags apart
	for i := 0; i < n; i++ {
		for k := range z {
			z[k] = rng.NormFloat64()
		}
		for r := range R {
			for j := range d {
				var x float64
				for k := range dz {
					x += proj[(r*d+j)*dz+k] * z[k]
				}
				s.regions[(i*R+r)*d+j] = float32(x + 0.1*rng.NormFloat64())
			}
		}
		// tokens: the words (ids >= 4) most aligned with the latent, best first
		L := 2 + rng.Intn(T-1)
		used := map[int]bool{}
		for t := range L {
			best, bi := math.Inf(-1), 4
			for w := 4; w < V; w++ {
				if used[w] {
					continue
				}
				var sc float64
				for k := range dz {
					sc += words[w*dz+k] * z[k]
				}
				if sc > best {
					best, bi = sc, w
				}
			}
			used[bi] = true
			s.tokens[i*T+t] = int32(bi)
		}
		bag := make([]bool, V)
		for _, w := range s.tokens[i*T : i*T+L] {
			bag[w] = true
		}
		if key := fmt.Sprint(bag); bags[key] {
			clear(s.tokens[i*T : (i+1)*T])
			i-- // draw another latent
			continue
		} else {
			bags[key] = true
		}
		s.lengths[i] = int32(L)
		s.ids[i] = int64(i)
		if M > 0 {
			s.labels[i*M+int(s.tokens[i*T])%M] = 1
		}
	}
	return s
}

// batch returns pairs [from, from+size) as a Batch.
func (s *synth) batch(cfg Config, from, size int) *Batch {
	R, d, T, M := cfg.Regions, cfg.ImageDim, cfg.MaxLen, cfg.Concepts
	b := &Batch{Size: size,
		Regions:  s.regions[from*R*d : (from+size)*R*d],
		Tokens:   s.tokens[from*T : (from+size)*T],
		Lengths:  s.lengths[from : from+size],
		ImageIDs: s.ids[from : from+size]}
	if cfg.Concept {
		b.ConceptLabels = s.labels[from*M : (from+size)*M]
	}
	return b
}

// ringAdj is a normalised adjacency A_hat = D^-1/2 (A+I) D^-1/2 of a ring of M concepts.
func ringAdj(M int) []float32 {
	a := make([]float64, M*M)
	for i := range M {
		a[i*M+i] = 1
		a[i*M+(i+1)%M] = 1
		a[((i+1)%M)*M+i] = 1
	}
	deg := make([]float64, M)
	for i := range M {
		for j := range M {
			deg[i] += a[i*M+j]
		}
	}
	out := make([]float32, M*M)
	for i := range M {
		for j := range M {
			out[i*M+j] = float32(a[i*M+j] / math.Sqrt(deg[i]*deg[j]))
		}
	}
	return out
}

func adjFor(cfg Config) []float32 {
	if !cfg.Concept {
		return nil
	}
	return ringAdj(cfg.Concepts)
}

// recallAt1 returns the image-to-text R@1 (percent) over n pairs.
func recallAt1(t *testing.T, m *Model, s *synth) float64 {
	t.Helper()
	cfg := m.Config()
	v, _, err := m.EncodeImages(s.regions, nil, s.n)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := m.EncodeCaptions(s.tokens, s.lengths, nil, s.n)
	if err != nil {
		t.Fatal(err)
	}
	D := cfg.Dim
	hits := 0
	for i := range s.n {
		best, bj := math.Inf(-1), -1
		for j := range s.n {
			var d float64
			for k := range D {
				d += float64(v[i*D+k]) * float64(c[j*D+k])
			}
			if d > best {
				best, bj = d, j
			}
		}
		if bj == i {
			hits++
		}
	}
	return 100 * float64(hits) / float64(s.n)
}

// runTrainGraph prepares m's training graph for b (momentum keys, DCL
// exclusions, Sinkhorn codes) and runs it forward and backward, without an
// update: its losses and gradients are then those the next Step(b, .)
// would compute.
func runTrainGraph(t *testing.T, m *Model, b *Batch) *trainGraph {
	t.Helper()
	tg, err := m.trainGraphFor(b.Size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.prepare(tg, b); err != nil {
		t.Fatal(err)
	}
	if err := tg.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return tg
}

// padBatch returns a copy of b whose images have 1..Regions real regions
// (image i: 1 + i*step mod Regions, so a batch has full and padded images)
// and whose padding regions hold large garbage values: a model that let
// padding reach its output would be far off.
func padBatch(cfg Config, b *Batch, step int) *Batch {
	R, d := cfg.Regions, cfg.ImageDim
	p := *b
	p.Regions = append([]float32(nil), b.Regions...)
	p.RegionCounts = make([]int32, b.Size)
	for i := range b.Size {
		c := 1 + (i*step)%R
		p.RegionCounts[i] = int32(c)
		for k := (i*R + c) * d; k < (i+1)*R*d; k++ {
			p.Regions[k] = float32(1e3 * math.Sin(float64(k)))
		}
	}
	return &p
}
