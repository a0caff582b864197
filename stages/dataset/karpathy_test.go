package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

type kImage struct {
	Filepath  string           `json:"filepath,omitempty"`
	Filename  string           `json:"filename"`
	ImgID     int              `json:"imgid"`
	Split     string           `json:"split"`
	CocoID    int              `json:"cocoid,omitempty"`
	Sentences []map[string]any `json:"sentences"`
}

func sentences(name string, n int) []map[string]any {
	var s []map[string]any
	for i := 0; i < n; i++ {
		s = append(s, map[string]any{"raw": fmt.Sprintf("Caption %d of %s. ", i, name), "tokens": []string{"caption"}, "sentid": i})
	}
	return s
}

// fakeKarpathy writes a Karpathy JSON and images; present=false leaves an image out.
func fakeKarpathy(t *testing.T, jsonName string, coco bool) string {
	t.Helper()
	root := t.TempDir()
	type spec struct {
		dir, name, split string
		ncap             int
		present          bool
	}
	var specs []spec
	if coco {
		specs = []spec{
			{"train2014", "COCO_train2014_1.jpg", "train", 5, true},
			{"train2014", "COCO_train2014_2.jpg", "train", 7, true}, // first 5 kept
			{"val2014", "COCO_val2014_3.jpg", "restval", 5, true},   // -> train
			{"val2014", "COCO_val2014_4.jpg", "val", 5, true},
			{"val2014", "COCO_val2014_5.jpg", "val", 4, true},  // eval with 4: skipped
			{"val2014", "COCO_val2014_6.jpg", "test", 6, true}, // truncated to 5
			{"val2014", "COCO_val2014_7.jpg", "test", 5, false},
		}
	} else {
		specs = []spec{
			{"", "1.jpg", "train", 5, true},
			{"", "2.jpg", "val", 5, true},
			{"", "3.jpg", "test", 5, true},
		}
	}
	var ims []kImage
	for i, s := range specs {
		dir := s.dir
		if !coco {
			dir = "flickr30k-images"
		}
		os.MkdirAll(filepath.Join(root, dir), 0o755)
		if s.present {
			writeJPEG(t, filepath.Join(root, dir, s.name), 8+i, 9)
		}
		ims = append(ims, kImage{Filepath: s.dir, Filename: s.name, ImgID: i, Split: s.split, CocoID: 100 + i, Sentences: sentences(s.name, s.ncap)})
	}
	b, _ := json.Marshal(map[string]any{"images": ims, "dataset": "x"})
	os.MkdirAll(filepath.Join(root, "splits"), 0o755)
	os.WriteFile(filepath.Join(root, "splits", jsonName), b, 0o644)
	return root
}

func TestCOCOKarpathy(t *testing.T) {
	t.Parallel()
	root := fakeKarpathy(t, "dataset_coco.json", true)
	a := pipelinetest.RunStage(t, &COCOSpec, map[string]any{"source": "dir:" + root})
	files, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), files...)
	got := map[string]string{}
	for _, r := range imgs {
		got[r.Key] = r.Split
		if r.Width == 0 || !filepath.IsAbs(r.Path) {
			t.Errorf("row %+v", r)
		}
	}
	want := map[string]string{"train2014/COCO_train2014_1.jpg": "train", "train2014/COCO_train2014_2.jpg": "train",
		"val2014/COCO_val2014_3.jpg": "train", "val2014/COCO_val2014_4.jpg": "dev", "val2014/COCO_val2014_6.jpg": "test"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("images %v, want %v", got, want)
	}
	if n := a.TableRows(table.Captions); n != 25 {
		t.Fatalf("captions %d, want 25", n)
	}
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if caps[0].Text != "Caption 0 of COCO_train2014_1.jpg." {
		t.Errorf("caption text %q", caps[0].Text)
	}
	iss := diskInfo(t, a)["issues"].(map[string]any)
	for _, k := range []string{"missing_images", "eval_images_under_5_captions_skipped", "images_not_5_captions"} {
		if iss[k] == nil {
			t.Errorf("issue %s not reported: %v", k, iss)
		}
	}

	drop := pipelinetest.RunStage(t, &COCOSpec, map[string]any{"source": root, "restval": "drop", "check_images": false})
	if n := drop.TableRows(table.Images); n != 5 { // 7 - restval - the 4-caption val image
		t.Fatalf("restval drop, no image check: %d images, want 5", n)
	}
}

func TestF30KKarpathy(t *testing.T) {
	t.Parallel()
	root := fakeKarpathy(t, "dataset_flickr30k.json", false)
	a := pipelinetest.RunStage(t, &F30KSpec, map[string]any{"source": root})
	if a.TableRows(table.Images) != 3 || a.TableRows(table.Captions) != 15 {
		t.Fatalf("rows %d/%d", a.TableRows(table.Images), a.TableRows(table.Captions))
	}
}

func TestKarpathyMalformed(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"syntax":      `{"images": [{"filename": "a.jpg", "split": "train", "sentences": []}, {"filename": }]}`,
		"no filename": `{"images": [{"split": "train", "sentences": []}]}`,
		"no images":   `{"dataset": "coco"}`,
		"wrong type":  `{"images": [{"filename": 3, "split": "train", "sentences": []}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			os.WriteFile(filepath.Join(root, "dataset_flickr30k.json"), []byte(body), 0o644)
			_, err := pipelinetest.RunStageErr(t, &F30KSpec, map[string]any{"source": root, "check_images": false})
			var fe *datasets.FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), "dataset_flickr30k.json: at byte") {
				t.Fatalf("err = %v, want a format error with a byte offset", err)
			}
		})
	}
}

func TestCOCOCaptionsJSON(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "val2014"), 0o755)
	type img struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
	}
	type ann struct {
		ID      int    `json:"id"`
		ImageID int    `json:"image_id"`
		Caption string `json:"caption"`
	}
	var imgs []img
	var anns []ann
	for i, id := range []int{42, 7} {
		name := fmt.Sprintf("COCO_val2014_%012d.jpg", id)
		writeJPEG(t, filepath.Join(root, "val2014", name), 5, 6)
		imgs = append(imgs, img{id, name})
		for k := 0; k < 5+i; k++ {
			anns = append(anns, ann{ID: 100*id + (9 - k), ImageID: id, Caption: fmt.Sprintf("cap %d of %d", 9-k, id)})
		}
	}
	anns = append(anns, ann{ID: 1, ImageID: 999, Caption: "a caption of no listed image"})
	b, _ := json.Marshal(map[string]any{"images": imgs, "annotations": anns})
	os.MkdirAll(filepath.Join(root, "annotations"), 0o755)
	os.WriteFile(filepath.Join(root, "annotations", "captions_val2014.json"), b, 0o644)
	a := pipelinetest.RunStage(t, &COCOSpec, map[string]any{"source": root, "captions_json": []string{"captions_val2014.json=test"}})
	if a.TableRows(table.Images) != 2 || a.TableRows(table.Captions) != 10 {
		t.Fatalf("rows %d/%d, want 2/10", a.TableRows(table.Images), a.TableRows(table.Captions))
	}
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if caps[0].Text != "cap 5 of 42" || caps[5].Text != "cap 4 of 7" || caps[0].Split != "test" {
		t.Fatalf("captions not in annotation-id order: %q %q %q", caps[0].Text, caps[5].Text, caps[0].Split)
	}
	// The caption of an image the file does not list is counted, not lost silently.
	iss := diskInfo(t, a)["issues"].(map[string]any)
	if e, _ := iss["captions_without_image_skipped"].(map[string]any); e == nil || e["count"].(float64) != 1 {
		t.Errorf("issues %v, want captions_without_image_skipped: 1", iss)
	}
}

// TestKarpathyEmptyCaptions: a sentence without text is skipped and
// counted, never written as an empty caption; a test image left with four
// captions is skipped, a train image keeps the rest.
func TestKarpathyEmptyCaptions(t *testing.T) {
	t.Parallel()
	empty := map[string]any{"raw": "  ", "tokens": []string{}, "sentid": 99}
	tokensOnly := map[string]any{"raw": "", "tokens": []string{"a", "dog"}, "sentid": 98}
	ims := []kImage{
		{Filename: "1.jpg", Split: "train", Sentences: append(sentences("1.jpg", 4), empty, tokensOnly)},
		{Filename: "2.jpg", Split: "test", Sentences: append(sentences("2.jpg", 4), empty)},
		{Filename: "3.jpg", Split: "test", Sentences: sentences("3.jpg", 5)},
	}
	root := t.TempDir()
	b, _ := json.Marshal(map[string]any{"images": ims})
	os.WriteFile(filepath.Join(root, "dataset_flickr30k.json"), b, 0o644)
	a := pipelinetest.RunStage(t, &F30KSpec, map[string]any{"source": root, "check_images": false})
	if n := a.TableRows(table.Images); n != 2 {
		t.Errorf("images = %d, want 2 (the test image with an empty caption skipped)", n)
	}
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if len(caps) != 10 {
		t.Errorf("captions = %d, want 10", len(caps))
	}
	for _, c := range caps {
		if c.Text == "" {
			t.Errorf("empty caption written: %+v", c)
		}
	}
	if len(caps) > 4 && caps[4].Text != "a dog" {
		t.Errorf("tokens-only sentence: %q, want %q", caps[4].Text, "a dog")
	}
	iss := diskInfo(t, a)["issues"].(map[string]any)
	if e, _ := iss["empty_captions_skipped"].(map[string]any); e == nil || e["count"].(float64) != 2 {
		t.Errorf("issues %v, want empty_captions_skipped: 2", iss)
	}
	if _, err := pipelinetest.RunStageErr(t, &F30KSpec, map[string]any{"source": root, "check_images": false, "strict": true}); err == nil ||
		!strings.Contains(err.Error(), "empty_captions_skipped") {
		t.Errorf("strict: err = %v, want empty_captions_skipped", err)
	}
}

// TestKarpathyImageDirErrors: an image whose directory cannot be found is
// an error naming the split file and the image.
func TestKarpathyImageDirErrors(t *testing.T) {
	t.Parallel()
	for name, im := range map[string]kImage{
		"no filepath": {Filename: "COCO_val2014_9.jpg", Split: "val", Sentences: sentences("x", 5)},
		"missing dir": {Filepath: "val2017", Filename: "COCO_val2017_9.jpg", Split: "val", Sentences: sentences("x", 5)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			b, _ := json.Marshal(map[string]any{"images": []kImage{im}})
			os.WriteFile(filepath.Join(root, "dataset_coco.json"), b, 0o644)
			_, err := pipelinetest.RunStageErr(t, &COCOSpec, map[string]any{"source": root})
			if err == nil || !strings.Contains(err.Error(), "dataset_coco.json: image \""+im.Filename+"\"") {
				t.Fatalf("err = %v, want it to name dataset_coco.json and %s", err, im.Filename)
			}
		})
	}
}

// TestKarpathyMissingFraction: a COCO copy without val2014's images (5 of
// the 7 listed images) fails naming the directory; max_missing_fraction
// lets it through; a Flickr30K run left with no image always fails.
func TestKarpathyMissingFraction(t *testing.T) {
	t.Parallel()
	root := fakeKarpathy(t, "dataset_coco.json", true)
	val := filepath.Join(root, "val2014")
	des, _ := os.ReadDir(val)
	for _, de := range des {
		os.Remove(filepath.Join(val, de.Name()))
	}
	_, err := pipelinetest.RunStageErr(t, &COCOSpec, map[string]any{"source": root})
	for _, want := range []string{"dataset.coco: 5 of 7 listed images are missing or unreadable", "max_missing_fraction 0.25",
		"(missing: 5)", val, "COCO_val2014_3.jpg (missing)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	a := pipelinetest.RunStage(t, &COCOSpec, map[string]any{"source": root, "max_missing_fraction": 0.8})
	if got := a.TableRows(table.Images); got != 2 {
		t.Errorf("images = %d, want the 2 of train2014", got)
	}

	f30k := fakeKarpathy(t, "dataset_flickr30k.json", false)
	imgs := filepath.Join(f30k, "flickr30k-images")
	for _, n := range []string{"1.jpg", "2.jpg", "3.jpg"} {
		os.Remove(filepath.Join(imgs, n))
	}
	_, err = pipelinetest.RunStageErr(t, &F30KSpec, map[string]any{"source": f30k, "max_missing_fraction": 1})
	for _, want := range []string{"dataset.f30k: no image left of 3 listed", "missing_images: 3", imgs} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no image on disk: err = %v, want it to contain %q", err, want)
		}
	}
}
