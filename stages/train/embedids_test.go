package train

import (
	"math"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestEmbedVectorsMatchIDs: every embeddings row holds the vectors of its
// own id, encoded alone from the input tables (mean pooling, concept
// branch), for an evaluation split two of whose images have no features
// (dropped: the ids after them must not shift) and for the train split.
func TestEmbedVectorsMatchIDs(t *testing.T) {
	// test images are 96..107: 99 and 100 have no feature row
	data := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"no_features_first": 99, "no_features": 2})
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1}), data)
	env := pipeline.NewEnv("t", KindTrain, pipeline.MustParams(TrainSpec.Params, nil), []*pipeline.Artifact{data}, t.TempDir(), nil)
	cd, err := loadConcepts(t.Context(), envFinder(env), envFinder(env), func(int64) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadModel(tr.Path(ModelFile), cd.adj)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	maxLen := m.Config().MaxLen
	ff, _ := data.Table(table.Features)
	frows, err := table.ReadAll[table.FeatureRow](t.Context(), ff...)
	if err != nil {
		t.Fatal(err)
	}
	feat := map[int64][]float32{} // mean of the regions
	for _, r := range frows {
		d := int(r.Dim)
		v := make([]float32, d)
		for k := range int(r.NRegions) {
			for j := range d {
				v[j] += r.Feats[k*d+j]
			}
		}
		for j := range v {
			v[j] /= float32(r.NRegions)
		}
		feat[r.ImageID] = v
	}
	tf, _ := data.Table(table.Tokens)
	trows, err := table.ReadAll[table.TokenRow](t.Context(), tf...)
	if err != nil {
		t.Fatal(err)
	}
	tok := map[int64]table.TokenRow{}
	for _, r := range trows {
		tok[r.CaptionID] = r
	}
	for _, tc := range []struct {
		split        string
		images, caps int
	}{{"test", 9, 45}, {"train", 64, 320}} {
		a := pipelinetest.RunStage(t, &EmbedSpec, map[string]any{"split": tc.split, "batch": 5, "rows_per_file": 20}, tr, data)
		files, _ := a.Table(table.ImageEmbeddings)
		imgs, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
		if err != nil {
			t.Fatal(err)
		}
		files, _ = a.Table(table.CaptionEmbeddings)
		caps, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != tc.images || len(caps) != tc.caps {
			t.Fatalf("%s: %d images, %d captions; want %d and %d", tc.split, len(imgs), len(caps), tc.images, tc.caps)
		}
		for _, im := range imgs {
			inst, conc, err := m.EncodeImages(feat[im.ID], nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d, dc := maxAbsDiff(inst, im.Vec), maxAbsDiff(conc, im.ConceptVec); d > 1e-4 || dc > 1e-4 {
				t.Errorf("%s image %d: vectors differ from its own encoding by %g, %g", tc.split, im.ID, d, dc)
			}
		}
		lab := make([]float32, cd.M)
		for _, c := range caps {
			r := tok[c.ID]
			if r.ImageID != c.ImageID {
				t.Errorf("%s caption %d: image %d, want %d", tc.split, c.ID, c.ImageID, r.ImageID)
			}
			ids := make([]int32, maxLen)
			n := min(len(r.IDs), maxLen)
			copy(ids, r.IDs[:n])
			cd.multiHot(c.ID, lab)
			inst, conc, err := m.EncodeCaptions(ids, []int32{int32(n)}, lab, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d, dc := maxAbsDiff(inst, c.Vec), maxAbsDiff(conc, c.ConceptVec); d > 1e-4 || dc > 1e-4 {
				t.Errorf("%s caption %d: vectors differ from its own encoding by %g, %g", tc.split, c.ID, d, dc)
			}
		}
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestEmbedReaderBudget: embed's feature_memory is the Arrow reader's
// budget for batches in flight, as its doc says (all of it, not the
// quarter that train.coder gives the reader beside its feature buffer).
func TestEmbedReaderBudget(t *testing.T) {
	for _, mib := range []int{16, 256, 2048} {
		if got := embedReaderOptions(mib).MemoryBudget; got != int64(mib)<<20 {
			t.Errorf("feature_memory %d: reader budget %d bytes, want %d", mib, got, int64(mib)<<20)
		}
	}
}
