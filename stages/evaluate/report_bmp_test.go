package evaluate

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestThumbnailZeroAlphaBMP: a 32-bit BMP with a V5 header whose alpha
// bytes are all zero (writers that leave the "unused" byte alone) decoded
// as fully transparent and showed as a blank white thumbnail; the features
// stage reads it opaque (internal/imgalpha), and so does the report now.
func TestThumbnailZeroAlphaBMP(t *testing.T) {
	const w, h, infoLen = 8, 6, 124
	b := make([]byte, 14+infoLen)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(len(b))+4*w*h)
	binary.LittleEndian.PutUint32(b[10:], 14+infoLen)
	binary.LittleEndian.PutUint32(b[14:], infoLen)
	binary.LittleEndian.PutUint32(b[18:], w)
	binary.LittleEndian.PutUint32(b[22:], h)
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 32)
	for range w * h {
		b = append(b, 40, 30, 220, 0) // B, G, R, A: red, alpha byte zero
	}
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
