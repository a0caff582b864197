package features

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/dataset"
)

// TestImagesTableSizeIsDecodedSize: for every image, the width and height
// a dataset reader records in the images table are the size of the image
// this stage decodes and computes its boxes on (EXIF orientation applied),
// so a box scaled by the table's width and height lands on the same pixels.
// rotated-exif6.jpg stores 200 x 100 pixels and displays 100 x 200.
func TestImagesTableSizeIsDecodedSize(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	imgDir := filepath.Join(root, "Flicker8k_Dataset")
	txt := filepath.Join(root, "Flickr8k_text")
	os.MkdirAll(imgDir, 0o755)
	os.MkdirAll(txt, 0o755)
	names := []string{"rotated-exif6.jpg", "yellow-disc.jpg", "red-disc.png", "green-triangle.gif"}
	var tok strings.Builder
	for _, n := range names {
		copyFile(t, filepath.Join("testdata", n), filepath.Join(imgDir, n))
		for k := range 5 {
			fmt.Fprintf(&tok, "%s#%d\ta caption %d .\n", n, k, k)
		}
	}
	os.WriteFile(filepath.Join(txt, "Flickr8k.token.txt"), []byte(tok.String()), 0o644)
	os.WriteFile(filepath.Join(txt, "Flickr_8k.trainImages.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(txt, "Flickr_8k.devImages.txt"), nil, 0o644)
	os.WriteFile(filepath.Join(txt, "Flickr_8k.testImages.txt"), nil, 0o644)

	a := pipelinetest.RunStage(t, &dataset.Flickr8kSpec, map[string]any{"source": "dir:" + root})
	files, _ := a.Table(table.Images)
	rows, err := table.ReadAll[table.ImageRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(names) {
		t.Fatalf("%d images, want %d", len(rows), len(names))
	}
	for _, r := range rows {
		d, err := load(table.ResolvePath(a.Dir, r.Path), 1<<30, nil)
		if err != nil {
			t.Fatalf("%s: %v", r.Key, err)
		}
		if b := d.img.Bounds(); int32(b.Dx()) != r.Width || int32(b.Dy()) != r.Height {
			t.Errorf("%s: images table %dx%d, decoded for features %dx%d", r.Key, r.Width, r.Height, b.Dx(), b.Dy())
		}
		if r.Key == "rotated-exif6.jpg" && (r.Width != 100 || r.Height != 200) {
			t.Errorf("%s: %dx%d, want 100x200 (as displayed)", r.Key, r.Width, r.Height)
		}
	}
}
