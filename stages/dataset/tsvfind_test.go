package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

// TestPrecompBUTDFindsTSVLikeOtherFiles: without a tsv param, the BUTD
// reader takes every *.tsv under the source by the rules every other file
// is found by (docs/datasets.md, "Where readers find their files"): a
// source that is a symlink to the data and a linked subdirectory are
// followed, a file reached through a link beside its target is one file,
// and macOS __MACOSX/ metadata (AppleDouble "._feats.tsv", not a TSV) is
// ignored.
func TestPrecompBUTDFindsTSVLikeOtherFiles(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	data := filepath.Join(base, "data")
	feats := filepath.Join(base, "elsewhere", "feats")
	for _, d := range []string{data, feats, filepath.Join(data, "__MACOSX")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var tsv strings.Builder
	for _, id := range []int64{11, 22} {
		rec := datasets.BUTDRecord{ImageID: id, Width: 100, Height: 50, NumBoxes: 1,
			Boxes: []float32{0, 0, 50, 25}, Features: []float32{1, float32(id)}}
		if err := datasets.EncodeBUTD(&tsv, rec); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(feats, "feats.tsv"), []byte(tsv.String()), 0o644)
	os.WriteFile(filepath.Join(data, "__MACOSX", "._feats.tsv"), []byte("\x00\x05\x16\x07 AppleDouble junk\n"), 0o644)
	os.WriteFile(filepath.Join(data, "test_ids.txt"), []byte("22\n11\n"), 0o644)
	writeCaps(t, filepath.Join(data, "test_caps.txt"), 2, "")
	// data/feats -> elsewhere/feats (a linked directory) holds feats.tsv
	// and also-feats.tsv, a link to it beside it; the source is link -> data.
	if err := os.Symlink(feats, filepath.Join(data, "feats")); err != nil {
		t.Skipf("symlinks not supported: %v", err)
	}
	if err := os.Symlink("feats.tsv", filepath.Join(feats, "also-feats.tsv")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": "dir:" + link, "format": "butd", "splits": []string{"test"}})
	if a.TableRows(table.Images) != 2 || a.TableRows(table.Features) != 2 {
		t.Fatalf("rows %d images, %d features, want 2 and 2", a.TableRows(table.Images), a.TableRows(table.Features))
	}
	info := diskInfo(t, a)
	if iss := info["issues"].(map[string]any); len(iss) != 0 {
		t.Errorf("issues %v, want none (a linked file is not a second record of each id)", iss)
	}
	if n := info["tsv_files"]; n != float64(1) {
		t.Errorf("tsv_files = %v, want 1", n)
	}
}

// TestIsTSVName: *.tsv and its numbered parts (bottom-up-attention's
// karpathy_train_...tsv.0 and .tsv.1) are TSV files; other names are not.
func TestIsTSVName(t *testing.T) {
	for name, want := range map[string]bool{
		"trainval_resnet101_faster_rcnn_genome_36.tsv":      true,
		"karpathy_train_resnet101_faster_rcnn_genome.tsv.0": true,
		"karpathy_train_resnet101_faster_rcnn_genome.tsv.1": true,
		"x.tsv.12": true,
		"x.tsv.":   false,
		"x.tsv.0a": false,
		"x.tsv.gz": false,
		"x.tsvx":   false,
		"tsv":      false,
		"x.csv.0":  false,
		".tsv":     true,
	} {
		if got := isTSVName(name); got != want {
			t.Errorf("isTSVName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestPrecompBUTDReadsTSVParts: the records of a split BUTD file
// (feats.tsv.0, feats.tsv.1) are all read without a tsv param.
func TestPrecompBUTDReadsTSVParts(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	for k, id := range []int64{11, 22} {
		var tsv strings.Builder
		rec := datasets.BUTDRecord{ImageID: id, Width: 100, Height: 50, NumBoxes: 1,
			Boxes: []float32{0, 0, 50, 25}, Features: []float32{1, float32(id)}}
		if err := datasets.EncodeBUTD(&tsv, rec); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(data, "feats.tsv."+string(rune('0'+k))), []byte(tsv.String()), 0o644)
	}
	os.WriteFile(filepath.Join(data, "test_ids.txt"), []byte("22\n11\n"), 0o644)
	writeCaps(t, filepath.Join(data, "test_caps.txt"), 2, "")
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": "dir:" + data, "format": "butd", "splits": []string{"test"}})
	if a.TableRows(table.Images) != 2 || a.TableRows(table.Features) != 2 {
		t.Fatalf("rows %d images, %d features, want 2 and 2", a.TableRows(table.Images), a.TableRows(table.Features))
	}
	if n := diskInfo(t, a)["tsv_files"]; n != float64(2) {
		t.Errorf("tsv_files = %v, want 2", n)
	}
}
