package evaluate

import (
	"bytes"
	"encoding/base64"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/internal/imgalpha"
)

// TestThumbnailZeroAlphaBMP: a 32-bit BMP with a V5 header whose alpha
// bytes are all zero (writers that leave the "unused" byte alone) decoded
// as fully transparent and showed as a blank white thumbnail; the features
// stage reads it opaque (internal/imgalpha), and so does the report now.
func TestThumbnailZeroAlphaBMP(t *testing.T) {
	// V5 header, no compression: B, G, R, A = red with the alpha byte zero
	b := imgalpha.BMP32(8, 6, 124, 0, [4]byte{40, 30, 220, 0})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "red.bmp"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ex := &examples{images: map[int64]imageRef{1: {path: "red.bmp", key: "red.bmp", dir: dir, known: true}}}
	th := ex.thumbnail(1, 32, 1<<20)
	if th.Missing != "" {
		t.Fatalf("no thumbnail: %s", th.Missing)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(th.Src), "data:image/jpeg;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	r, g, bl, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
	if r>>8 < 180 || g>>8 > 80 || bl>>8 > 80 {
		t.Errorf("thumbnail centre (%d, %d, %d), want red (220, 30, 40)", r>>8, g>>8, bl>>8)
	}
}
