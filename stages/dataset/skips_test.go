package dataset

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// skippedKey is the info key the evaluate stage reads (spelled out here:
// renaming skippedPerSplitInfo would break it).
const skippedKey = "images_skipped_per_split"

// skippedPerSplit returns the images_skipped_per_split info of a, as
// written to disk, and whether it is there.
func skippedPerSplit(t *testing.T, a *pipeline.Artifact) (map[string]float64, bool) {
	t.Helper()
	v, ok := diskInfo(t, a)[skippedKey]
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: %T %v, want an object", skippedKey, v, v)
	}
	out := map[string]float64{}
	for k, n := range m {
		out[k] = n.(float64)
	}
	return out, true
}

// TestSkippedPerSplit: every reader that can leave listed images out of the
// tables records how many of each split it left out (the evaluate stage
// reads it to tell a full test split from one with gaps); images kept
// despite an anomaly, and repeats within one split, are not counted; a
// clean input records {}.
func TestSkippedPerSplit(t *testing.T) {
	t.Parallel()
	unreadableTest := func(t *testing.T) string {
		// f8k fixture with f.jpg (test) made undecodable
		root := fakeFlickr8k(t, "")
		if err := os.WriteFile(filepath.Join(root, "Flicker8k_Dataset", "f.jpg"), []byte("not a jpeg"), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	butd := func(t *testing.T) string {
		root := t.TempDir()
		writeBUTD(t, filepath.Join(root, "feats.tsv"), 11, 22, 33)
		os.WriteFile(filepath.Join(root, "test_ids.txt"), []byte("33\n44\n11\n"), 0o644) // 44 has no features
		os.WriteFile(filepath.Join(root, "train_ids.txt"), []byte("22\n55\n"), 0o644)    // 55 has none either
		writeCaps(t, filepath.Join(root, "test_caps.txt"), 3, "")
		writeCaps(t, filepath.Join(root, "train_caps.txt"), 2, "")
		return root
	}
	for _, tc := range []struct {
		name   string
		spec   *pipeline.Spec
		root   func(t *testing.T) string
		params map[string]any
		want   map[string]float64
	}{
		// test: e.jpg missing, h.jpg without captions, a.jpg also in the
		// train list (kept there); dev: d.jpg with 4 captions; train:
		// b.jpg with 4 captions is kept, not counted
		{"flickr8k", &Flickr8kSpec, func(t *testing.T) string { return fakeFlickr8k(t, "") }, nil,
			map[string]float64{"test": 3, "dev": 1}},
		{"flickr8k unreadable test image", &Flickr8kSpec, unreadableTest, map[string]any{"max_missing_fraction": 0.5},
			map[string]float64{"test": 4, "dev": 1}},
		// COCO_val2014_5 (val, 4 captions) and COCO_val2014_7 (test,
		// missing); the restval and 7-caption images are kept
		{"coco", &COCOSpec, func(t *testing.T) string { return fakeKarpathy(t, "dataset_coco.json", true) }, nil,
			map[string]float64{"dev": 1, "test": 1}},
		{"f30k clean", &F30KSpec, func(t *testing.T) string { return fakeKarpathy(t, "dataset_flickr30k.json", false) }, nil,
			map[string]float64{}},
		{"precomp butd", &PrecompSpec, butd, map[string]any{"format": "butd", "splits": []string{"train", "test"}},
			map[string]float64{"test": 1, "train": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := map[string]any{"source": tc.root(t)}
			for k, v := range tc.params {
				p[k] = v
			}
			a := pipelinetest.RunStage(t, tc.spec, p)
			got, ok := skippedPerSplit(t, a)
			if !ok || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s = %v (recorded: %v), want %v", skippedKey, got, ok, tc.want)
			}
		})
	}
}

// TestKarpathyDuplicateAcrossSplits: an image listed again in another split
// stays in its first split and counts as skipped from the second; a repeat
// within the same split does not.
func TestKarpathyDuplicateAcrossSplits(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "flickr30k-images")
	os.MkdirAll(dir, 0o755)
	var ims []kImage
	for i, s := range []struct{ name, split string }{
		{"1.jpg", "train"}, {"2.jpg", "test"}, {"1.jpg", "test"}, {"2.jpg", "test"}, {"3.jpg", "test"},
	} {
		writeJPEG(t, filepath.Join(dir, s.name), 8, 9)
		ims = append(ims, kImage{Filename: s.name, ImgID: i, Split: s.split, Sentences: sentences(s.name, 5)})
	}
	writeKarpathyJSON(t, filepath.Join(root, "dataset_flickr30k.json"), ims)
	a := pipelinetest.RunStage(t, &F30KSpec, map[string]any{"source": root})
	got, _ := skippedPerSplit(t, a)
	if fmt.Sprint(got) != fmt.Sprint(map[string]float64{"test": 1}) {
		t.Errorf("%s = %v, want test: 1 (1.jpg, kept in train)", skippedKey, got)
	}
}

// writeBUTD writes a bottom-up-attention TSV with one small record per id.
func writeBUTD(t *testing.T, p string, ids ...int64) {
	t.Helper()
	var tsv strings.Builder
	for _, id := range ids {
		rec := datasets.BUTDRecord{ImageID: id, Width: 100, Height: 50, NumBoxes: 2,
			Boxes: []float32{0, 0, 50, 25, 10, 10, 200, 50}, Features: []float32{1, 2, 3, 4, 5, float32(id)}}
		if err := datasets.EncodeBUTD(&tsv, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p, []byte(tsv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeKarpathyJSON writes a Karpathy split file listing ims.
func writeKarpathyJSON(t *testing.T, p string, ims []kImage) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"images": ims, "dataset": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
