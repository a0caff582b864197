package dataset

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/npy"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

func writeNpy(t testing.TB, p string, shape []int, fill func(i int) float32) {
	t.Helper()
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = fill(i)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npy.Write(f, shape, v); err != nil {
		t.Fatal(err)
	}
}

func writeCaps(t testing.TB, p string, images int, extra string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < images; i++ {
		for k := 0; k < 5; k++ {
			fmt.Fprintf(&b, "image %d caption %d\n", i, k)
		}
	}
	b.WriteString(extra)
	os.WriteFile(p, []byte(b.String()), 0o644)
}

// fakeSCAN builds f30k_precomp/ with train (3 images, row per image), dev
// (2 images, row per caption) and test (2 images, with ids).
func fakeSCAN(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	d := filepath.Join(root, "data", "f30k_precomp")
	os.MkdirAll(d, 0o755)
	writeNpy(t, filepath.Join(d, "train_ims.npy"), []int{3, 4, 6}, func(i int) float32 { return float32(i) })
	writeCaps(t, filepath.Join(d, "train_caps.txt"), 3, "")
	// per-caption rows repeat their image's row: rows 0-4 hold 0, rows 5-9 hold 1
	writeNpy(t, filepath.Join(d, "dev_ims.npy"), []int{10, 4, 6}, func(i int) float32 { return float32(i / (5 * 24)) })
	writeCaps(t, filepath.Join(d, "dev_caps.txt"), 2, "")
	writeNpy(t, filepath.Join(d, "test_ims.npy"), []int{2, 4, 6}, func(i int) float32 { return -1 })
	writeCaps(t, filepath.Join(d, "test_caps.txt"), 2, "")
	os.WriteFile(filepath.Join(d, "test_ids.txt"), []byte("1007129816\n1009434119\n"), 0o644)
	return root
}

func TestPrecompSCAN(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "shard_rows": 2})
	if a.TableRows(table.Images) != 7 || a.TableRows(table.Captions) != 35 || a.TableRows(table.Features) != 7 {
		t.Fatalf("rows: %d images %d captions %d features", a.TableRows(table.Images), a.TableRows(table.Captions), a.TableRows(table.Features))
	}
	files, _ := a.Table(table.Features)
	if len(files) != 4 || filepath.Base(files[0]) != "part-00000.parquet" {
		t.Fatalf("feature shards %v", files)
	}
	feats, err := table.ReadAll[table.FeatureRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range feats {
		if f.ImageID != int64(i) || f.NRegions != 4 || f.Dim != 6 || len(f.Feats) != 24 || len(f.Boxes) != 16 {
			t.Fatalf("feature row %d: id %d %dx%d len %d/%d", i, f.ImageID, f.NRegions, f.Dim, len(f.Feats), len(f.Boxes))
		}
	}
	if feats[1].Feats[0] != 24 || feats[1].Feats[23] != 47 {
		t.Errorf("train row 1 values %v", feats[1].Feats)
	}
	// dev: per-caption rows, every 5th used: image 1 is row 5, whose values are 1.
	if feats[3].Feats[0] != 0 || feats[4].Feats[0] != 1 {
		t.Errorf("dev rows %v %v", feats[3].Feats[0], feats[4].Feats[0])
	}
	imf, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), imf...)
	if imgs[5].Key != "1007129816" || imgs[5].Split != "test" || imgs[0].Key != "train/0" {
		t.Errorf("keys %q %q %q", imgs[5].Key, imgs[5].Split, imgs[0].Key)
	}
}

// brokenSCAN is a SCAN precomp directory damaged by break_ (given the
// f30k_precomp directory of fakeSCAN) and the error the stage must give.
type brokenSCAN struct {
	name   string
	break_ func(d string)
	want   string
}

// checkBrokenSCAN runs dataset.precomp on each damaged copy of fakeSCAN and
// wants an error containing the case's text.
func checkBrokenSCAN(t *testing.T, cases []brokenSCAN) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := fakeSCAN(t)
			tc.break_(filepath.Join(root, "data", "f30k_precomp"))
			_, err := pipelinetest.RunStageErr(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPrecompSCANErrors(t *testing.T) {
	t.Parallel()
	checkBrokenSCAN(t, []brokenSCAN{
		{"empty caption", func(d string) {
			os.WriteFile(filepath.Join(d, "train_caps.txt"), []byte("a\nb\n\nd\ne\n"), 0o644)
			writeNpy(t, filepath.Join(d, "train_ims.npy"), []int{1, 4, 6}, func(int) float32 { return 0 })
		}, "train_caps.txt:3: empty caption"},
		{"invalid utf-8", func(d string) {
			writeCaps(t, filepath.Join(d, "train_caps.txt"), 2, "a\nb \xfe c\nc\nd\ne\n")
		}, "train_caps.txt:12: invalid UTF-8 byte 0xfe at column 3"},
		{"shape overflows", func(d string) {
			// A header-only file whose shape (3, 2^62) makes the size
			// computation wrap to 0.
			hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4611686018427387904), }\n"
			b := append([]byte(npy.Magic), 1, 0, byte(len(hdr)), 0)
			os.WriteFile(filepath.Join(d, "train_ims.npy"), append(b, hdr...), 0o644)
		}, "train_ims.npy: at byte"},
		{"rows mismatch", func(d string) {
			writeNpy(t, filepath.Join(d, "train_ims.npy"), []int{4, 4, 6}, func(int) float32 { return 0 })
		}, "has 4 rows"},
		{"not 5 per image", func(d string) { writeCaps(t, filepath.Join(d, "train_caps.txt"), 3, "one more\n") }, "not 5 captions per image"},
		{"NaN feature", func(d string) {
			writeNpy(t, filepath.Join(d, "train_ims.npy"), []int{3, 4, 6}, func(k int) float32 {
				if k == 13 {
					return float32(math.NaN())
				}
				return 0
			})
		}, "train_ims.npy: row 0 (image 0 of split train): feature value NaN at region 2, component 1"},
		{"truncated npy", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "train_ims.npy"))
			os.WriteFile(filepath.Join(d, "train_ims.npy"), b[:len(b)-4], 0o644)
		}, "train_ims.npy: at byte"},
	})
}

// TestPrecompEmptySplit: a split without captions reads nothing from its
// .npy, however large the header says a row is (a row buffer sized from
// the header alone would be an allocation the file does not back).
func TestPrecompEmptySplit(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	d := filepath.Join(root, "data", "f30k_precomp")
	os.WriteFile(filepath.Join(d, "testall_caps.txt"), nil, 0o644)
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776), }\n"
	b := append([]byte(npy.Magic), 1, 0, byte(len(hdr)), 0)
	os.WriteFile(filepath.Join(d, "testall_ims.npy"), append(b, hdr...), 0o644)
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "splits": []string{"train", "testall"}})
	if n := a.TableRows(table.Images); n != 3 {
		t.Errorf("images = %d, want the 3 train images", n)
	}
}

func TestPrecompBUTD(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var tsv strings.Builder
	for _, id := range []int64{11, 22, 33} {
		rec := datasets.BUTDRecord{ImageID: id, Width: 100, Height: 50, NumBoxes: 2,
			Boxes: []float32{0, 0, 50, 25, 10, 10, 200, 50}, Features: []float32{1, 2, 3, 4, 5, float32(id)}}
		if err := datasets.EncodeBUTD(&tsv, rec); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "feats.tsv"), []byte(tsv.String()), 0o644)
	os.WriteFile(filepath.Join(root, "test_ids.txt"), []byte("33\n44\n11\n"), 0o644) // 44 has no features
	writeCaps(t, filepath.Join(root, "test_caps.txt"), 3, "")
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "format": "butd", "splits": []string{"test"}})
	if a.TableRows(table.Images) != 2 || a.TableRows(table.Captions) != 10 || a.TableRows(table.Features) != 2 {
		t.Fatalf("rows %d/%d/%d", a.TableRows(table.Images), a.TableRows(table.Captions), a.TableRows(table.Features))
	}
	ff, _ := a.Table(table.Features)
	feats, _ := table.ReadAll[table.FeatureRow](t.Context(), ff...)
	if feats[0].Dim != 3 || feats[0].Feats[5] != 33 || feats[0].Boxes[2] != 0.5 || feats[0].Boxes[6] != 1 {
		t.Fatalf("row 0 %+v", feats[0])
	}
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if caps[5].Text != "image 2 caption 0" || caps[5].ImageID != 1 {
		t.Fatalf("captions of the third listed image: %+v", caps[5])
	}
	if iss := diskInfo(t, a)["issues"].(map[string]any); iss["missing_features"] == nil {
		t.Fatalf("missing features not counted: %v", iss)
	}

	// A malformed TSV line names file and line.
	os.WriteFile(filepath.Join(root, "feats.tsv"), []byte(tsv.String()+"55\t1\t1\t1\tAAAA\n"), 0o644)
	os.WriteFile(filepath.Join(root, "test_ids.txt"), []byte("33\n55\n11\n"), 0o644)
	_, err := pipelinetest.RunStageErr(t, &PrecompSpec, map[string]any{"source": root, "format": "butd", "splits": []string{"test"}})
	var fe *datasets.FormatError
	if !errors.As(err, &fe) || fe.Line != 4 || !strings.Contains(err.Error(), "feats.tsv:4") {
		t.Fatalf("err = %v, want feats.tsv:4", err)
	}

	// An infinite feature value names the file, line and image.
	bad := datasets.BUTDRecord{ImageID: 55, Width: 100, Height: 50, NumBoxes: 2,
		Boxes: []float32{0, 0, 50, 25, 10, 10, 200, 50}, Features: []float32{1, 2, 3, 4, float32(math.Inf(1)), 6}}
	var badTSV strings.Builder
	if err := datasets.EncodeBUTD(&badTSV, bad); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "feats.tsv"), []byte(tsv.String()+badTSV.String()), 0o644)
	_, err = pipelinetest.RunStageErr(t, &PrecompSpec, map[string]any{"source": root, "format": "butd", "splits": []string{"test"}})
	if err == nil || !strings.Contains(err.Error(), "feats.tsv:4: image 55: feature value +Inf at region 1, component 1") {
		t.Fatalf("err = %v, want feats.tsv:4: image 55: feature value +Inf at region 1, component 1", err)
	}
}

// TestPrecompResume runs the stage body twice in the same work directory,
// as the engine does after a crash: committed feature shards are not
// rewritten and the features table is still declared in full.
func TestPrecompResume(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	raw := map[string]any{"source": root, "dataset": "f30k", "shard_rows": 2}
	params := pipeline.MustParams(PrecompSpec.Params, raw)
	dir := t.TempDir()
	env := pipeline.NewEnv("pre", PrecompSpec.Kind, params, nil, dir, nil)
	if err := PrecompSpec.Stage.Run(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "features", "part-00001.parquet")
	st0, _ := os.Stat(shard)
	env2 := pipeline.NewEnv("pre", PrecompSpec.Kind, params, nil, dir, nil)
	if got := len(env2.CommittedShards()); got != 4 {
		t.Fatalf("%d committed shards after the first attempt, want 4", got)
	}
	os.Remove(filepath.Join(dir, "features", "part-00003.parquet")) // lost: must be redone
	if err := PrecompSpec.Stage.Run(t.Context(), env2); err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(shard)
	if !st1.ModTime().Equal(st0.ModTime()) {
		t.Fatalf("committed shard was rewritten")
	}
	if _, err := os.Stat(filepath.Join(dir, "features", "part-00003.parquet")); err != nil {
		t.Fatalf("lost shard not redone: %v", err)
	}
	a, err := pipeline.RunStandalone(t.Context(), &PrecompSpec, "pre", raw, nil, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.TableRows(table.Features) != 7 {
		t.Fatalf("features rows %d after resume, want 7", a.TableRows(table.Features))
	}
}

// TestPrecompCaptionsBOM: a byte order mark is not part of the first caption.
func TestPrecompCaptionsBOM(t *testing.T) {
	t.Parallel()
	root := fakeSCAN(t)
	p := filepath.Join(root, "data", "f30k_precomp", "train_caps.txt")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append([]byte("\ufeff"), b...), 0o644)
	a := pipelinetest.RunStage(t, &PrecompSpec, map[string]any{"source": root, "dataset": "f30k", "splits": []string{"train"}})
	cf, _ := a.Table(table.Captions)
	caps, _ := table.ReadAll[table.CaptionRow](t.Context(), cf...)
	if len(caps) == 0 || caps[0].Text != "image 0 caption 0" {
		t.Fatalf("first caption %q", caps[0].Text)
	}
}
