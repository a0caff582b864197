package features

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// TestFormatsByContent decodes BMP and TIFF (imaging registers both
// decoders, so they were always decoded) under their own extensions and
// under a wrong one: only the wrong one counts as an extension mismatch.
func TestFormatsByContent(t *testing.T) {
	img := image.Image(drawShape(40, 30, "disc", color.NRGBA{220, 30, 30, 255}, false))
	var bb, tb bytes.Buffer
	if err := bmp.Encode(&bb, img); err != nil {
		t.Fatal(err)
	}
	if err := tiff.Encode(&tb, img, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name, format string
		data         []byte
		mismatch     bool
	}{
		{"a.bmp", "bmp", bb.Bytes(), false},
		{"a.tif", "tiff", tb.Bytes(), false},
		{"a.tiff", "tiff", tb.Bytes(), false},
		{"b.jpg", "bmp", bb.Bytes(), true},
		{"t.png", "tiff", tb.Bytes(), true},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := load(p, 1<<20, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.format != tc.format || d.extMismatch != tc.mismatch || d.img.Bounds().Dx() != 40 {
			t.Errorf("%s: format %s, extension mismatch %v, bounds %v; want %s, %v", tc.name, d.format, d.extMismatch, d.img.Bounds(), tc.format, tc.mismatch)
		}
	}
}
