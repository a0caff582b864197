package train

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestRegionPaddingIgnored pins Batch.RegionCounts: the padding regions of
// an image with fewer real regions than Regions reach neither the
// embeddings nor, through a training step, the weights. Two models from
// one seed take a step on the same batch with different garbage in the
// padding and must end with identical weights (attention pooling gives
// padding weight exactly 0, so it adds exact zeros; mean pooling averages
// the real regions only); the embeddings must equal those of a model with
// Regions = the real count (the weights do not depend on Regions).
func TestRegionPaddingIgnored(t *testing.T) {
	for _, pool := range []string{PoolAttn, PoolMean} {
		t.Run(pool, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Regions, cfg.Pooling = 4, pool
			const n = 6
			s := makeSynth(cfg, 2*n, 9)
			b1 := padBatch(cfg, s.batch(cfg, 0, n), 3)
			b2 := padBatch(cfg, s.batch(cfg, 0, n), 3)
			R, d := cfg.Regions, cfg.ImageDim
			for i, c := range b2.RegionCounts {
				for k := (i*R + int(c)) * d; k < (i+1)*R*d; k++ {
					b2.Regions[k] = -7 * b2.Regions[k]
				}
			}
			if slicesEqual32(b1.Regions, b2.Regions) {
				t.Fatal("the two batches have the same padding")
			}
			var saved [2][]byte
			var emb [2][]float32
			for k, b := range []*Batch{b1, b2} {
				m, err := NewModel(cfg, adjFor(cfg))
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if _, err := m.Step(b, 1e-2); err != nil {
						t.Fatal(err)
					}
				}
				if emb[k], _, err = m.EncodeImages(b.Regions, b.RegionCounts, n); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := m.Save(&buf); err != nil {
					t.Fatal(err)
				}
				saved[k] = buf.Bytes()
				if k == 0 {
					// each image alone in a model with Regions = its count
					D := cfg.Dim
					for i, c := range b.RegionCounts {
						one := cfg
						one.Regions = int(c)
						m1, err := NewModel(one, adjFor(one))
						if err != nil {
							t.Fatal(err)
						}
						copyWeights(m1, m)
						v, _, err := m1.EncodeImages(b.Regions[i*R*d:(i*R+int(c))*d], nil, 1)
						m1.Close()
						if err != nil {
							t.Fatal(err)
						}
						for j := range D {
							if got, want := emb[0][i*D+j], v[j]; !(math.Abs(float64(got-want)) <= 1e-5) {
								t.Fatalf("image %d (%d of %d regions real) dim %d: %g padded, %g with Regions = %d", i, c, R, j, got, want, c)
							}
						}
					}
				}
				m.Close()
			}
			if !bytes.Equal(saved[0], saved[1]) {
				t.Error("the padding regions changed the weights of a training step")
			}
			if !slicesEqual32(emb[0], emb[1]) {
				t.Error("the padding regions changed the embeddings")
			}
		})
	}
}

// TestRegionCountsChecked: counts outside 1..Regions, or as many as the
// batch has not, are errors of Step and EncodeImages.
func TestRegionCountsChecked(t *testing.T) {
	cfg := tinyConfig()
	cfg.Pooling = PoolAttn
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const n = 3
	s := makeSynth(cfg, n, 2)
	for _, c := range []struct {
		counts []int32
		want   string
	}{
		{[]int32{1, 0, 2}, "has 0 real regions, want 1..3"},
		{[]int32{1, 4, 2}, "has 4 real regions, want 1..3"},
		{[]int32{1, 2}, "2 region counts for 3"},
	} {
		b := s.batch(cfg, 0, n)
		b.RegionCounts = c.counts
		if _, err := m.Step(b, 1e-3); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Step with counts %v: error %v, want one containing %q", c.counts, err, c.want)
		}
		if _, _, err := m.EncodeImages(b.Regions, c.counts, n); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EncodeImages with counts %v: error %v, want one containing %q", c.counts, err, c.want)
		}
	}
}

// copyWeights sets every live parameter of dst to src's.
func copyWeights(dst, src *Model) {
	for name, w := range src.w {
		copy(dst.w[name].Data().([]float32), w.Data().([]float32))
	}
}

func slicesEqual32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
