package dataset

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestKarpathyEvalOrderAcrossChunks: test images keep the JSON order across
// the reader's chunk flushes, each with its first 5 captions as ordinals
// 0..4 in sentence order, whatever the splits around them.
func TestKarpathyEvalOrderAcrossChunks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	splits := []string{"train", "restval", "test", "val", "train", "test"}
	var ims []kImage
	var wantTest []string
	n := 2*karpathyChunk + 37
	for i := 0; i < n; i++ {
		s := splits[i%len(splits)]
		name := fmt.Sprintf("COCO_val2014_%06d.jpg", i)
		ncap := 5 + i%3 // 5, 6, 7
		ims = append(ims, kImage{Filepath: "val2014", Filename: name, ImgID: i, Split: s, Sentences: sentences(name, ncap)})
		if s == "test" {
			wantTest = append(wantTest, "val2014/"+name)
		}
	}
	b, _ := json.Marshal(map[string]any{"images": ims})
	os.WriteFile(filepath.Join(root, "dataset_coco.json"), b, 0o644)
	a := pipelinetest.RunStage(t, &COCOSpec, map[string]any{"source": root, "check_images": false})
	imgs, caps := imagesAndCaptions(t, a)
	byImage := map[int64][]table.CaptionRow{}
	for _, c := range caps {
		byImage[c.ImageID] = append(byImage[c.ImageID], c)
	}
	var gotTest []string
	for _, im := range imgs {
		if im.Split != table.SplitTest {
			continue
		}
		gotTest = append(gotTest, im.Key)
		cs := byImage[im.ImageID]
		if len(cs) != 5 {
			t.Fatalf("test image %s has %d captions, want 5", im.Key, len(cs))
		}
		for k, c := range cs {
			want := fmt.Sprintf("Caption %d of %s.", k, filepath.Base(im.Key))
			if c.Ordinal != int32(k) || c.Text != want {
				t.Fatalf("test image %s caption %d: ordinal %d %q, want %q", im.Key, k, c.Ordinal, c.Text, want)
			}
		}
	}
	if fmt.Sprint(gotTest) != fmt.Sprint(wantTest) {
		t.Errorf("test images out of JSON order (%d vs %d)", len(gotTest), len(wantTest))
	}
}

// TestFlickr8kRealTestOrder: on the real subset, the test split holds the
// images of Flickr_8k.testImages.txt in list order, and caption 5i+k of
// the split is line k of image i in Flickr8k.token.txt, read here
// independently of the reader.
func TestFlickr8kRealTestOrder(t *testing.T) {
	t.Parallel()
	root := filepath.Join(sharedData(t), "flickr8k-1k")
	if !datasets.IsDir(root) {
		t.Skip(root + " not found: real-data test skipped")
	}
	txt := filepath.Join(root, "Flickr8k_text")
	list, err := os.ReadFile(filepath.Join(txt, datasets.Flickr8kTestList))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(txt, datasets.Flickr8kTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	capsOf := map[string][]string{}
	for _, l := range strings.Split(string(tok), "\n") {
		id, text, ok := strings.Cut(strings.TrimRight(l, "\r"), "\t")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(id, "#")
		capsOf[name] = append(capsOf[name], strings.TrimSpace(text))
	}
	var want []string // the test split's captions, 5 per image, list order
	var wantKeys []string
	for _, n := range strings.Fields(string(list)) {
		wantKeys = append(wantKeys, n)
		want = append(want, capsOf[n]...)
	}
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{"source": "dir:" + root})
	imgs, caps := imagesAndCaptions(t, a)
	testIdx := map[int64]int{}
	var gotKeys []string
	for _, im := range imgs {
		if im.Split == table.SplitTest {
			testIdx[im.ImageID] = len(gotKeys)
			gotKeys = append(gotKeys, im.Key)
		}
	}
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("test images %d, want the %d of the list in its order", len(gotKeys), len(wantKeys))
	}
	j := 0
	for _, c := range caps {
		if c.Split != table.SplitTest {
			continue
		}
		if i := testIdx[c.ImageID]; j >= len(want) || i != j/5 || c.Ordinal != int32(j%5) || c.Text != want[j] {
			t.Fatalf("test caption %d: image %d ordinal %d %q, want image %d ordinal %d %q", j, i, c.Ordinal, c.Text, j/5, j%5, want[min(j, len(want)-1)])
		}
		j++
	}
	if j != len(want) {
		t.Errorf("%d test captions, want %d", j, len(want))
	}
}

// imagesAndCaptions reads the images and captions tables of a.
func imagesAndCaptions(t *testing.T, a *pipeline.Artifact) ([]table.ImageRow, []table.CaptionRow) {
	t.Helper()
	imf, _ := a.Table(table.Images)
	imgs, err := table.ReadAll[table.ImageRow](t.Context(), imf...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := a.Table(table.Captions)
	caps, err := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if err != nil {
		t.Fatal(err)
	}
	return imgs, caps
}
