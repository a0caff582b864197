package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// writeCOCOCaptions writes annotations/captions_val2014.json listing the
// given (id, file name) images, each with 5 captions "cap K of ID", and
// the image files.
func writeCOCOCaptions(t *testing.T, root string, images [][2]any) {
	t.Helper()
	os.MkdirAll(filepath.Join(root, "val2014"), 0o755)
	var imgs, anns []map[string]any
	aid := 0
	seen := map[int]bool{}
	for _, im := range images {
		id, name := im[0].(int), im[1].(string)
		writeJPEG(t, filepath.Join(root, "val2014", name), 5, 6)
		imgs = append(imgs, map[string]any{"id": id, "file_name": name})
		if seen[id] {
			continue
		}
		seen[id] = true
		for k := range 5 {
			aid++
			anns = append(anns, map[string]any{"id": aid, "image_id": id, "caption": fmt.Sprintf("cap %d of %d", k, id)})
		}
	}
	b, _ := json.Marshal(map[string]any{"images": imgs, "annotations": anns})
	os.MkdirAll(filepath.Join(root, "annotations"), 0o755)
	os.WriteFile(filepath.Join(root, "annotations", "captions_val2014.json"), b, 0o644)
}

// TestCOCOCaptionsJSONDuplicateID: two images of a captions file with the
// same id but different files would both get that id's captions (one of
// them the wrong image's); the file is refused, naming it, the id and both
// names. The same entry listed twice stays a counted duplicate.
func TestCOCOCaptionsJSONDuplicateID(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeCOCOCaptions(t, root, [][2]any{{42, "COCO_val2014_000000000042.jpg"}, {42, "COCO_val2014_000000000043.jpg"}, {7, "COCO_val2014_000000000007.jpg"}})
	_, err := pipelinetest.RunStageErr(t, &COCOSpec, map[string]any{"source": root, "captions_json": []string{"captions_val2014.json=test"}})
	if err == nil || !strings.Contains(err.Error(), "captions_val2014.json") || !strings.Contains(err.Error(), "image id 42") ||
		!strings.Contains(err.Error(), "COCO_val2014_000000000043.jpg") {
		t.Fatalf("err = %v, want captions_val2014.json ... image id 42 ... COCO_val2014_000000000043.jpg", err)
	}

	root2 := t.TempDir()
	writeCOCOCaptions(t, root2, [][2]any{{42, "COCO_val2014_000000000042.jpg"}, {42, "COCO_val2014_000000000042.jpg"}, {7, "COCO_val2014_000000000007.jpg"}})
	a := pipelinetest.RunStage(t, &COCOSpec, map[string]any{"source": root2, "captions_json": []string{"captions_val2014.json=test"}})
	if a.TableRows(table.Images) != 2 || a.TableRows(table.Captions) != 10 {
		t.Fatalf("rows %d/%d, want 2/10", a.TableRows(table.Images), a.TableRows(table.Captions))
	}
	if iss := diskInfo(t, a)["issues"].(map[string]any); iss["duplicate_images"] == nil {
		t.Fatalf("duplicate not counted: %v", iss)
	}
}

// TestKarpathyDeterministicAndCancelled: two runs give byte-identical
// tables (images are checked by a worker pool); a cancelled context ends
// the stage with the context's error.
func TestKarpathyDeterministicAndCancelled(t *testing.T) {
	t.Parallel()
	root := fakeKarpathy(t, "dataset_coco.json", true)
	raw := map[string]any{"source": root, "workers": 4, "restval": "restval"}
	a := pipelinetest.RunStage(t, &COCOSpec, raw)
	b := pipelinetest.RunStage(t, &COCOSpec, raw)
	for _, name := range []string{table.Images, table.Captions} {
		fa, _ := a.Table(name)
		fb, _ := b.Table(name)
		x, err1 := os.ReadFile(fa[0])
		y, err2 := os.ReadFile(fb[0])
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs (%v, %v)", name, err1, err2)
		}
	}
	imf, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), imf...)
	if imgs[2].Key != "val2014/COCO_val2014_3.jpg" || imgs[2].Split != table.SplitRestval {
		t.Errorf("restval image %+v", imgs[2])
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := pipeline.RunStandalone(ctx, &COCOSpec, "coco", raw, nil, t.TempDir(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
