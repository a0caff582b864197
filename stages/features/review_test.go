package features

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGIFFirstFrameOnLogicalScreen: a GIF whose first frame covers only
// part of its logical screen (an offset frame, as "convert -trim" without
// +repage or frame optimisers leave them) is shown on the whole screen,
// the rest transparent. image/gif returns the bare frame with its offset
// bounds, so the stage described a 50x50 crop as the whole picture: every
// box, including the left half where the red frame is not, came out red,
// and the header's 100x50 (the images table's size) did not match.
func TestGIFFirstFrameOnLogicalScreen(t *testing.T) {
	red := color.RGBA{220, 30, 30, 255}
	frame := image.NewPaletted(image.Rect(50, 0, 100, 50), color.Palette{color.Transparent, red})
	for i := range frame.Pix {
		frame.Pix[i] = 1
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
		Config: image.Config{Width: 100, Height: 50, ColorModel: frame.Palette}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "offset.gif")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := load(p, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.img.Bounds(); got != image.Rect(0, 0, 100, 50) {
		t.Fatalf("decoded bounds %v, want the logical screen (0,0)-(100,50)", got)
	}
	for _, tc := range []struct {
		x, y int
		red  bool
	}{{10, 10, false}, {49, 49, false}, {50, 0, true}, {99, 49, true}} {
		r, _, _, a := d.img.At(tc.x, tc.y).RGBA()
		if isRed := a == 0xffff && r>>8 == 220; isRed != tc.red {
			t.Errorf("pixel (%d,%d) = %v, want red %v", tc.x, tc.y, d.img.At(tc.x, tc.y), tc.red)
		}
	}
}

// TestJPEGWithoutEndMarker: a JPEG whose pixel data is complete but whose
// end-of-image marker (FF D9) is missing, as some cameras and uploaders
// leave them, decodes like the whole file (libjpeg, and so PIL, OpenCV and
// browsers, show it); image/jpeg stopped at EOF and the image was skipped
// as corrupt. A file cut inside its pixel data stays corrupt.
func TestJPEGWithoutEndMarker(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, drawShape(64, 48, "disc", color.NRGBA{220, 30, 30, 255}, false), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	full := b.Bytes()
	if !bytes.HasSuffix(full, []byte{0xFF, 0xD9}) {
		t.Fatal("encoded JPEG does not end with EOI")
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want, err := load(write("full.jpg", full), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, br := range []*bufio.Reader{nil, bufio.NewReaderSize(nil, 64<<10)} {
		got, err := load(write("no-eoi.jpg", full[:len(full)-2]), 1<<20, br)
		if err != nil {
			t.Fatalf("JPEG without EOI: %v", err)
		}
		if got.img.Bounds() != want.img.Bounds() {
			t.Fatalf("bounds %v, want %v", got.img.Bounds(), want.img.Bounds())
		}
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				if got.img.At(x, y) != want.img.At(x, y) {
					t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got.img.At(x, y), want.img.At(x, y))
				}
			}
		}
	}
	for _, cut := range []int{len(full) / 2, len(full) - 40} {
		_, err := load(write("cut.jpg", full[:cut]), 1<<20, nil)
		var le *loadError
		if !errors.As(err, &le) || le.reason != ReasonCorrupt {
			t.Errorf("JPEG cut at %d of %d bytes: err = %v, want reason %s", cut, len(full), err, ReasonCorrupt)
		}
	}
}

// TestProgressiveJPEGCutBetweenScansStaysCorrupt: the end-marker repair of
// TestJPEGWithoutEndMarker is for sequential JPEGs only. A progressive JPEG
// cut between two scans would decode with the marker appended (a blurred
// image from the first scans), so it stays a corrupt file. testdata/
// progressive.jpg was made once with ImageMagick: convert yellow-disc.jpg
// -resize 48x36 -interlace JPEG -quality 85 -strip progressive.jpg.
func TestProgressiveJPEGCutBetweenScansStaysCorrupt(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "progressive.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "full.jpg")
	if err := os.WriteFile(p, full, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load(p, 1<<20, nil); err != nil {
		t.Fatalf("the whole file: %v", err)
	}
	var cuts []int // before every scan but the first
	for i := 0; i+1 < len(full); i++ {
		if full[i] == 0xFF && full[i+1] == 0xDA {
			cuts = append(cuts, i)
		}
	}
	if len(cuts) < 3 {
		t.Fatalf("%d scans: not a progressive JPEG", len(cuts))
	}
	for _, cut := range cuts[1:] {
		p := filepath.Join(dir, "cut.jpg")
		if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := load(p, 1<<20, nil)
		var le *loadError
		if !errors.As(err, &le) || le.reason != ReasonCorrupt {
			t.Errorf("cut before the scan at byte %d: err = %v, want reason %s", cut, err, ReasonCorrupt)
		}
	}
}

// TestAnimatedWebPUnsupported: an animated WebP is a valid file that
// x/image/webp cannot decode (it has no animation support and reports
// "invalid format"): it is skipped as unsupported, like the other valid
// files the decoders lack a feature for, not counted as corrupt.
func TestAnimatedWebPUnsupported(t *testing.T) {
	chunk := func(id string, data []byte) []byte {
		b := append([]byte(id), byte(len(data)), byte(len(data)>>8), byte(len(data)>>16), byte(len(data)>>24))
		b = append(b, data...)
		if len(data)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	// VP8X: flags (animation), 3 reserved bytes, canvas width-1 and height-1 (24 bits each).
	vp8x := []byte{1 << 1, 0, 0, 0, 1, 0, 0, 1, 0, 0} // 2 x 2
	anim := []byte{0, 0, 0, 0, 0, 0}                  // background colour, loop count
	anmf := make([]byte, 16)                          // one frame header, no frame data
	body := append([]byte("WEBP"), chunk("VP8X", vp8x)...)
	body = append(body, chunk("ANIM", anim)...)
	body = append(body, chunk("ANMF", anmf)...)
	file := append([]byte("RIFF"), byte(len(body)), byte(len(body)>>8), byte(len(body)>>16), byte(len(body)>>24))
	file = append(file, body...)
	p := filepath.Join(t.TempDir(), "animated.webp")
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := load(p, 1<<20, nil)
	var le *loadError
	if !errors.As(err, &le) || le.reason != ReasonUnsupported || !strings.Contains(le.msg, "animated") {
		t.Fatalf("err = %v, want reason %s saying animated", err, ReasonUnsupported)
	}
	// A damaged still WebP stays corrupt.
	still, err := os.ReadFile(filepath.Join("testdata", "red-disc.webp"))
	if err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(t.TempDir(), "cut.webp")
	if err := os.WriteFile(p, still[:len(still)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load(p, 1<<20, nil); !errors.As(err, &le) || le.reason != ReasonCorrupt {
		t.Fatalf("cut still WebP: err = %v, want reason %s", err, ReasonCorrupt)
	}
}
