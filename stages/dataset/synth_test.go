package dataset

import (
	"os"
	"path/filepath"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

func TestSynthStage(t *testing.T) {
	t.Parallel()
	params := map[string]any{"images": 120, "seed": 3, "workers": 2}
	a := pipelinetest.RunStage(t, &SynthSpec, params)
	if got := a.TableRows(table.Images); got != 120 {
		t.Fatalf("images rows = %d, want 120", got)
	}
	if got := a.TableRows(table.Captions); got != 600 {
		t.Fatalf("captions rows = %d, want 600", got)
	}
	files, _ := a.Table(table.Images)
	imgs, err := table.ReadAll[table.ImageRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	splits := map[string]int{}
	for i, r := range imgs {
		if r.ImageID != int64(i) {
			t.Fatalf("row %d has image_id %d", i, r.ImageID)
		}
		splits[r.Split]++
		if _, err := os.Stat(table.ResolvePath(a.Dir, r.Path)); err != nil || filepath.IsAbs(r.Path) {
			t.Fatalf("image path %q: not a file relative to the artifact (%v)", r.Path, err)
		}
	}
	if splits["train"] != 96 || splits["dev"] != 12 || splits["test"] != 12 {
		t.Fatalf("splits %v, want 96/12/12", splits)
	}
	cfiles, _ := a.Table(table.Captions)
	caps, err := table.ReadAll[table.CaptionRow](t.Context(), cfiles...)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range caps {
		if c.CaptionID != int64(i) || c.ImageID != int64(i/5) || c.Ordinal != int32(i%5) || c.Split != imgs[i/5].Split {
			t.Fatalf("caption row %d: %+v", i, c)
		}
	}

	// Same params, other worker count: byte-identical files.
	b := pipelinetest.RunStage(t, &SynthSpec, map[string]any{"images": 120, "seed": 3, "workers": 1})
	if a.Key() != b.Key() {
		t.Fatalf("worker count changed the cache key")
	}
	if len(a.Manifest.Files) != len(b.Manifest.Files) {
		t.Fatalf("%d vs %d files", len(a.Manifest.Files), len(b.Manifest.Files))
	}
	for i, f := range a.Manifest.Files {
		if g := b.Manifest.Files[i]; g.Path != f.Path || g.Size != f.Size || g.SHA256 != f.SHA256 {
			t.Fatalf("file %s differs between runs: %+v vs %+v", f.Path, f, g)
		}
	}
	// Another seed: different images.
	c := pipelinetest.RunStage(t, &SynthSpec, map[string]any{"images": 120, "seed": 4})
	if c.Manifest.Files[0].SHA256 == a.Manifest.Files[0].SHA256 {
		t.Fatalf("seed did not change %s", a.Manifest.Files[0].Path)
	}
}

func TestSynthStageBadParams(t *testing.T) {
	t.Parallel()
	if _, err := pipelinetest.RunStageErr(t, &SynthSpec, map[string]any{"min_size": 200, "max_size": 150}); err == nil {
		t.Fatal("want an error for min_size > max_size")
	}
	if _, err := pipelinetest.RunStageErr(t, &SynthSpec, map[string]any{"dev_fraction": 0.5, "test_fraction": 0.5}); err == nil {
		t.Fatal("want an error for fractions summing to 1")
	}
}
