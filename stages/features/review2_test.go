package features

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/features/descriptor"
)

// Second-review fixtures in testdata/, written by
// TestGenerateReview2Fixtures with -update-fixtures. cmyk-red.jpg and
// gray-alpha.png were made once with ImageMagick (Go encodes neither a CMYK
// JPEG nor a grey+alpha PNG):
//
//	convert -size 40x30 xc:red -colorspace CMYK -quality 95 cmyk-red.jpg
//	convert -size 40x30 xc:'rgba(200,200,200,0.5)' -type GrayscaleAlpha gray-alpha.png
func TestGenerateReview2Fixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to regenerate testdata/")
	}
	write := func(name string, img image.Image) {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Red and white bands 25 pixels long across the long side.
	stripes := func(w, h int) *image.NRGBA {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA{230, 20, 20, 255}
				if max(x, y)/25%2 == 1 {
					c = color.NRGBA{240, 240, 240, 255}
				}
				m.SetNRGBA(x, y, c)
			}
		}
		return m
	}
	write("thin-1x500.png", stripes(1, 500))
	write("strip-2000x4.png", stripes(2000, 4))
	red16 := image.NewNRGBA64(image.Rect(0, 0, 40, 30)) // 16 bits per channel
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			red16.SetNRGBA64(x, y, color.NRGBA64{0xffff, 0, 0, 0xffff})
		}
	}
	write("red16.png", red16)
	pal := image.NewPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.NRGBA{0, 0, 255, 128}, color.NRGBA{0, 0, 255, 255}})
	write("palette-alpha.png", pal) // every pixel half-transparent blue: a tRNS chunk
}

// regionParts returns region r's colour and HOG values of a 104-dim row.
func regionParts(row table.FeatureRow, r int) (col, hog []float32) {
	v := row.Feats[r*int(row.Dim) : (r+1)*int(row.Dim)]
	return v[0:34], v[34:70]
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestStripsDescribeEveryRegion: an image far wider than tall (or the
// reverse) is squeezed by the 4x cap on the long side; before v4 the short
// side shrank with it (1 x 500 became 2 x 1024, 2000 x 4 became 1024 x 2),
// so 11 of the 36 regions held no pixel (a zero descriptor) and no region
// had a gradient. Every region must now see pixels and edges.
func TestStripsDescribeEveryRegion(t *testing.T) {
	names := []string{"thin-1x500.png", "strip-2000x4.png"}
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(t.TempDir(), n))
		copyFile(t, filepath.Join("testdata", n), paths[len(paths)-1])
	}
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 1}, imagesArtifact(t, paths, 1))
	rows := readFeatures(t, a)
	if len(rows) != len(names) {
		t.Fatalf("%d rows, want %d", len(rows), len(names))
	}
	for i, row := range rows {
		var emptyColour, noGradient []int
		for r := range descriptor.MaxRegions {
			col, hog := regionParts(row, r)
			if allZero(col) {
				emptyColour = append(emptyColour, r)
			}
			if allZero(hog) {
				noGradient = append(noGradient, r)
			}
		}
		if len(emptyColour) > 0 || len(noGradient) > 0 {
			t.Errorf("%s: regions without pixels %v, without gradient %v", names[i], emptyColour, noGradient)
		}
	}
}

// TestOddPixelFormats: 16-bit, CMYK, grey+alpha and paletted+alpha inputs
// decode, keep their colour (alpha composited on black, as documented),
// and give finite, unit-norm colour parts.
func TestOddPixelFormats(t *testing.T) {
	tests := []struct {
		name string
		bin  int // the colour-histogram bin holding the whole image
	}{
		{"red16.png", 12},         // saturated red: hue bin 0 at the high saturation level
		{"cmyk-red.jpg", 12},      // Adobe YCCK (transform 2, as ImageMagick writes CMYK) red stays red, not cyan
		{"palette-alpha.png", 20}, // blue at half alpha on black: still saturated blue (hue 240°)
		{"gray-alpha.png", 25},    // grey 200 at half alpha on black: value 100, grey bin 1
	}
	var paths []string
	for _, tc := range tests {
		paths = append(paths, filepath.Join(t.TempDir(), tc.name))
		copyFile(t, filepath.Join("testdata", tc.name), paths[len(paths)-1])
	}
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 2, "max_fail_fraction": 0.0}, imagesArtifact(t, paths, 1))
	rows := readFeatures(t, a)
	if len(rows) != len(tests) {
		t.Fatalf("%d rows, want %d", len(rows), len(tests))
	}
	for i, tc := range tests {
		for _, v := range rows[i].Feats {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite value in the descriptor", tc.name)
			}
		}
		col, _ := regionParts(rows[i], 0)
		best := 0
		for b := range 28 {
			if col[b] > col[best] {
				best = b
			}
		}
		if best != tc.bin {
			t.Errorf("%s: dominant colour bin %d, want %d (%v)", tc.name, best, tc.bin, col[:28])
		}
	}
}

// TestResumeRecomputesShardWhoseSidecarDisagrees: a committed shard is
// re-declared from its sidecar; a sidecar whose row count is not what the
// file holds must not be trusted (before v4 the rerun declared the
// sidecar's count: a features table of 3 or 5 rows whose files held 4).
func TestResumeRecomputesShardWhoseSidecarDisagrees(t *testing.T) {
	tests := []struct {
		name string
		edit func(*shardStats)
	}{
		{"fewer rows", func(s *shardStats) { s.Rows-- }},
		{"more rows", func(s *shardStats) { s.Rows++ }},
		{"rows and images", func(s *shardStats) { s.Rows--; s.Failures = append(s.Failures, Failure{Reason: ReasonMissing}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for _, n := range []string{"red-disc.png", "yellow-disc.jpg", "green-triangle.gif"} {
				paths = append(paths, filepath.Join(dir, n))
				copyFile(t, filepath.Join("testdata", n), paths[len(paths)-1])
			}
			late := filepath.Join(dir, "late.png")
			paths = append(paths, late) // shard 1, missing on the first attempt
			in := imagesArtifact(t, paths, 1)
			out := filepath.Join(t.TempDir(), "artifact")
			raw := map[string]any{"shard_rows": 3, "max_fail_fraction": 0.0, "workers": 2}
			if _, err := pipeline.RunStandalone(t.Context(), &Spec, "features", raw, []*pipeline.Artifact{in}, out, nil); err == nil ||
				!strings.Contains(err.Error(), "max_fail_fraction") {
				t.Fatalf("first attempt: want failure, got %v", err)
			}
			side := filepath.Join(out, "features", "part-00000.json")
			b, err := os.ReadFile(side)
			if err != nil {
				t.Fatal(err)
			}
			var s shardStats
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			tc.edit(&s)
			if b, err = json.Marshal(s); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(side, b, 0o644); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join("testdata", "red-disc.png"), late)
			a, err := pipeline.RunStandalone(t.Context(), &Spec, "features", raw, []*pipeline.Artifact{in}, out, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows := readFeatures(t, a)
			if got := a.TableRows(table.Features); got != 4 || len(rows) != 4 {
				t.Fatalf("manifest declares %d rows, files hold %d, want 4", got, len(rows))
			}
			if fmt.Sprint(a.Manifest.Info["rows"]) != "4" {
				t.Errorf("info rows %v, want 4", a.Manifest.Info["rows"])
			}
		})
	}
}

// TestTargetSizeBounds: whatever the image's shape, the resized image has
// its long side at most 4*short_side and neither side below
// min(short_side, descriptor.Grid); an image of aspect at most 4 gets
// exactly short_side on its short side.
func TestTargetSizeBounds(t *testing.T) {
	sizes := []int{1, 2, 3, 5, 10, 23, 24, 100, 255, 256, 1000, 4096, 100000}
	for _, side := range []int{16, 24, 256, 4096} {
		for _, w := range sizes {
			for _, h := range sizes {
				tw, th := targetSize(w, h, side)
				floor := min(side, descriptor.Grid)
				if min(tw, th) < floor || max(tw, th) > 4*side {
					t.Errorf("targetSize(%d, %d, %d) = %d x %d: outside [%d, %d]", w, h, side, tw, th, floor, 4*side)
				}
				if max(w, h) <= 4*min(w, h) && min(tw, th) != side {
					t.Errorf("targetSize(%d, %d, %d) = %d x %d: short side is not %d", w, h, side, tw, th, side)
				}
			}
		}
	}
}
