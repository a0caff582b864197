package dataset

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/npy"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestPrecompReview3Errors: inputs the stage must refuse with a message
// naming the file (and the line where there is one), never rows with a
// wrong layout or captions attached to the wrong image key.
func TestPrecompReview3Errors(t *testing.T) {
	t.Parallel()
	checkBrokenSCAN(t, []brokenSCAN{
		// N x 6 x 6 x 8: regions x dim would be 6 x 6 for rows of 288 values.
		{"4-d npy", func(d string) {
			writeNpy(t, filepath.Join(d, "train_ims.npy"), []int{3, 6, 6, 8}, func(int) float32 { return 1 })
		}, "train_ims.npy: shape [3 6 6 8]"},
		// Per-caption rows with per-caption ids whose 5 ids of one image
		// differ: the keys would silently be the first of each group.
		{"per-caption ids disagree", func(d string) {
			os.WriteFile(filepath.Join(d, "dev_ids.txt"), []byte("1\n1\n1\n1\n1\n2\n2\n2\n3\n2\n"), 0o644)
		}, "dev_ids.txt:9: id \"3\""},
		// Per-caption ids for per-image rows, disagreeing in a group.
		{"per-caption ids disagree, per-image rows", func(d string) {
			os.WriteFile(filepath.Join(d, "test_ids.txt"), []byte("7\n7\n7\n7\n7\n8\n8\n9\n8\n8\n"), 0o644)
		}, "test_ids.txt:8: id \"9\""},
		{"int32 npy", func(d string) {
			hdr := "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4, 6), }          \n"
			b := append([]byte(npy.Magic), 1, 0, byte(len(hdr)), 0)
			b = append(b, hdr...)
			os.WriteFile(filepath.Join(d, "train_ims.npy"), append(b, make([]byte, 3*4*6*4)...), 0o644)
		}, "train_ims.npy: at byte"},
		{"blank line inside the captions", func(d string) {
			writeCaps(t, filepath.Join(d, "train_caps.txt"), 3, "")
			b, _ := os.ReadFile(filepath.Join(d, "train_caps.txt"))
			os.WriteFile(filepath.Join(d, "train_caps.txt"), append([]byte("\n"), b[:len(b)-1]...), 0o644)
		}, "train_caps.txt:1: empty caption"},
	})
}

// TestPrecompPerCaptionIDs: SCAN's COCO layout with one id per caption
// (5 equal lines per image) next to one .npy row per image is read with
// one key per image.
func TestPrecompPerCaptionIDs(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	d := filepath.Join(root, "data", "f30k_precomp")
	os.WriteFile(filepath.Join(d, "test_ids.txt"), []byte("7\n7\n7\n7\n7\n8\n8\n8\n8\n8"), 0o644) // no final newline
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "splits": []string{"test"}})
	imf, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), imf...)
	if len(imgs) != 2 || imgs[0].Key != "7" || imgs[1].Key != "8" {
		t.Fatalf("images %+v", imgs)
	}
}

// TestPrecompCaptionLineEnds: CRLF line ends and a last line without a
// newline give the same captions as LF.
func TestPrecompCaptionLineEnds(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	p := filepath.Join(root, "data", "f30k_precomp", "train_caps.txt")
	b, _ := os.ReadFile(p)
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	os.WriteFile(p, bytes.TrimSuffix(b, []byte("\r\n")), 0o644)
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "splits": []string{"train"}})
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if len(caps) != 15 || caps[14].Text != "image 2 caption 4" || caps[14].ImageID != 2 || caps[3].Text != "image 0 caption 3" {
		t.Fatalf("captions %d, last %+v", len(caps), caps[len(caps)-1])
	}
}

// TestPrecompBUTDIDLine: a non-numeric id is named with its line in the
// file, blank lines before it included.
func TestPrecompBUTDIDLine(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var tsv strings.Builder
	rec := datasets.BUTDRecord{ImageID: 11, Width: 10, Height: 10, NumBoxes: 1, Boxes: []float32{0, 0, 5, 5}, Features: []float32{1, 2}}
	if err := datasets.EncodeBUTD(&tsv, rec); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "feats.tsv"), []byte(tsv.String()), 0o644)
	os.WriteFile(filepath.Join(root, "test_ids.txt"), []byte("\n11\n\nCOCO_val2014_42.jpg\n"), 0o644)
	writeCaps(t, filepath.Join(root, "test_caps.txt"), 2, "")
	_, err := pipelinetest.RunStageErr(t, &PrecompSpec, map[string]any{"source": root, "format": "butd", "splits": []string{"test"}})
	if err == nil || !strings.Contains(err.Error(), "test_ids.txt:4:") {
		t.Fatalf("err = %v, want test_ids.txt:4:", err)
	}
}

// TestPrecompOneCaptionPerImage: a split with one caption and one .npy row
// per image (5 images, 5 lines, 5 rows) looks like the per-caption layout
// of one image with 5 captions; its rows differ, so it is refused instead
// of attaching five images' captions to the first image's features.
func TestPrecompOneCaptionPerImage(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var b strings.Builder
	for i := range 5 {
		b.WriteString("caption of image " + string(rune('a'+i)) + "\n")
	}
	os.WriteFile(filepath.Join(root, "test_caps.txt"), []byte(b.String()), 0o644)
	writeNpy(t, filepath.Join(root, "test_ims.npy"), []int{5, 2, 3}, func(k int) float32 { return float32(k / 6) })
	_, err := pipelinetest.RunStageErr(t, &PrecompSpec, map[string]any{"source": root, "splits": []string{"test"}})
	if err == nil || !strings.Contains(err.Error(), "test_ims.npy: row 1 differs from row 0") {
		t.Fatalf("err = %v, want test_ims.npy: row 1 differs from row 0", err)
	}
}

// TestPrecompPerCaptionIDsNoDuplicates: an ids file with one id per
// caption next to per-caption rows is not a list of duplicate ids.
func TestPrecompPerCaptionIDsNoDuplicates(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	d := filepath.Join(root, "data", "f30k_precomp")
	os.WriteFile(filepath.Join(d, "dev_ids.txt"), []byte("1\n1\n1\n1\n1\n2\n2\n2\n2\n2\n"), 0o644)
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "splits": []string{"dev"}, "strict": true})
	imf, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), imf...)
	if len(imgs) != 2 || imgs[0].Key != "1" || imgs[1].Key != "2" {
		t.Fatalf("images %+v", imgs)
	}
}

// TestPrecompDeterministic: the same inputs give byte-identical tables,
// whether run in one go or resumed after losing a shard.
func TestPrecompDeterministic(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	raw := map[string]any{"source": root, "dataset": "f30k", "shard_rows": 2}
	a := pipelinetest.RunStage(t, &PrecompSpec, raw)
	b := pipelinetest.RunStage(t, &PrecompSpec, raw)
	for _, name := range []string{table.Images, table.Captions, table.Features} {
		fa, _ := a.Table(name)
		fb, _ := b.Table(name)
		if len(fa) != len(fb) || len(fa) == 0 {
			t.Fatalf("%s: files %v and %v", name, fa, fb)
		}
		for i := range fa {
			x, err1 := os.ReadFile(fa[i])
			y, err2 := os.ReadFile(fb[i])
			if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
				t.Errorf("%s: %s and %s differ (%v, %v)", name, fa[i], fb[i], err1, err2)
			}
		}
	}
}

// TestPrecompCancelled: a cancelled context ends the stage with the
// context's error, not a panic or a sealed artifact.
func TestPrecompCancelled(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := pipeline.RunStandalone(ctx, &PrecompSpec, "pre", map[string]any{"source": root, "dataset": "f30k"}, nil, t.TempDir(), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestPrecompBUTDExtraAndDuplicate: TSV records whose ids are in no ids
// file are not read; an id listed twice keeps both images (same features)
// and is counted.
func TestPrecompBUTDExtraAndDuplicate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var tsv strings.Builder
	for _, id := range []int64{5, 6, 7} {
		rec := datasets.BUTDRecord{ImageID: id, Width: 10, Height: 10, NumBoxes: 1, Boxes: []float32{0, 0, 5, 5}, Features: []float32{float32(id), 1}}
		if err := datasets.EncodeBUTD(&tsv, rec); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "feats.tsv"), []byte(tsv.String()), 0o644)
	os.WriteFile(filepath.Join(root, "test_ids.txt"), []byte("7\r\n5\r\n7\r\n"), 0o644)
	writeCaps(t, filepath.Join(root, "test_caps.txt"), 3, "")
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "format": "butd", "splits": []string{"test"}})
	imf, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), imf...)
	ff, _ := a.Table(table.Features)
	feats, _ := table.ReadAll[table.FeatureRow](t.Context(), ff...)
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if len(imgs) != 3 || imgs[0].Key != "7" || imgs[1].Key != "5" || imgs[2].Key != "7" || len(feats) != 3 || feats[1].Feats[0] != 5 || feats[2].Feats[0] != 7 {
		t.Fatalf("images %+v features %+v", imgs, feats)
	}
	if caps[5].ImageID != 1 || caps[5].Text != "image 1 caption 0" {
		t.Fatalf("caption 5 %+v", caps[5])
	}
	if iss := diskInfo(t, a)["issues"].(map[string]any); iss["duplicate_ids"] == nil {
		t.Fatalf("duplicate id not counted: %v", iss)
	}
}

// TestPrecompResumeMidShard: an attempt that stops inside a shard (here on
// a bad value in the test split, half-way through shard 2) leaves shards 0
// and 1 committed; the next attempt in the same directory, with the input
// repaired, writes the rows of a clean run. (Not bytes: each file records
// the artifact key, which the repaired input changes; a real crash resumes
// with the same inputs.)
func TestPrecompResumeMidShard(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	ims := filepath.Join(root, "data", "f30k_precomp", "test_ims.npy")
	good, _ := os.ReadFile(ims)
	writeNpy(t, ims, []int{2, 4, 6}, func(k int) float32 {
		if k == 3 {
			return float32(math.Inf(-1))
		}
		return -1
	})
	raw := map[string]any{"source": root, "dataset": "f30k", "shard_rows": 2}
	dir := t.TempDir()
	if _, err := pipeline.RunStandalone(t.Context(), &PrecompSpec, "pre", raw, nil, dir, nil); err == nil {
		t.Fatal("no error for an infinite feature value")
	}
	env := pipeline.NewEnv("pre", PrecompSpec.Kind, pipeline.MustParams(PrecompSpec.Params, raw), nil, dir, nil)
	if got := len(env.CommittedShards()); got != 2 {
		t.Fatalf("%d shards committed by the failed attempt, want 2", got)
	}
	os.WriteFile(ims, good, 0o644)
	a, err := pipeline.RunStandalone(t.Context(), &PrecompSpec, "pre", raw, nil, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pipeline.RunStandalone(t.Context(), &PrecompSpec, "pre", raw, nil, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sameRows[table.ImageRow](t, a, b, table.Images)
	sameRows[table.CaptionRow](t, a, b, table.Captions)
	sameRows[table.FeatureRow](t, a, b, table.Features)
}

func sameRows[T any](t *testing.T, a, b *pipeline.Artifact, name string) {
	t.Helper()
	fa, _ := a.Table(name)
	fb, _ := b.Table(name)
	ra, err1 := table.ReadAll[T](t.Context(), fa...)
	rb, err2 := table.ReadAll[T](t.Context(), fb...)
	if err1 != nil || err2 != nil || len(fa) != len(fb) || len(ra) == 0 || !reflect.DeepEqual(ra, rb) {
		t.Errorf("%s: %d files, %d rows after resume; %d files, %d rows in a clean run (%v, %v)", name, len(fa), len(ra), len(fb), len(rb), err1, err2)
	}
}

// TestPrecompTrailingBlankLines: blank lines after the last caption (an
// editor's extra newline, CRLF or not) are not captions.
func TestPrecompTrailingBlankLines(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	p := filepath.Join(root, "data", "f30k_precomp", "train_caps.txt")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append(b, "\r\n  \n"...), 0o644)
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "splits": []string{"train"}})
	if a.TableRows(table.Captions) != 15 {
		t.Fatalf("%d captions, want 15", a.TableRows(table.Captions))
	}
}
