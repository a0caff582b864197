package features

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

var updateFixtures = flag.Bool("update-fixtures", false, "regenerate testdata/ fixtures")

// fixture describes one file of testdata/ and what the stage must make of it.
type fixture struct {
	name   string
	reason string // "" = decoded into a feature row
}

// fixtures lists testdata/ (missing.jpg deliberately does not exist).
var fixtures = []fixture{
	{"red-disc.png", ""},
	{"blue-square-alpha.png", ""},
	{"green-triangle.gif", ""},
	{"yellow-disc.jpg", ""},
	{"rotated-exif6.jpg", ""},
	{"png-named.jpg", ""}, // decoded by content, counted as extension_mismatch
	{"red-disc.webp", ""}, // made once with ImageMagick: convert red-disc.png -quality 90 red-disc.webp (Go has no WebP encoder)
	{"truncated.jpg", ReasonCorrupt},
	{"empty.jpg", ReasonEmpty},
	{"notes.jpg", ReasonUnsupported},
	{"bomb.png", ReasonTooLarge},
	{"missing.jpg", ReasonMissing},
}

// TestGenerateFixtures rewrites testdata/ when run with -update-fixtures.
func TestGenerateFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to regenerate testdata/")
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	red := drawShape(160, 128, "disc", color.NRGBA{220, 30, 30, 255}, false)
	write("red-disc.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, red) }))
	write("blue-square-alpha.png", enc(func(b *bytes.Buffer) error {
		return png.Encode(b, drawShape(150, 180, "square", color.NRGBA{30, 40, 220, 255}, true))
	}))
	write("green-triangle.gif", enc(func(b *bytes.Buffer) error {
		return gif.Encode(b, drawShape(140, 140, "triangle", color.NRGBA{40, 200, 40, 255}, false), nil)
	}))
	yellow := enc(func(b *bytes.Buffer) error {
		return jpeg.Encode(b, drawShape(192, 144, "disc", color.NRGBA{230, 220, 30, 255}, false), &jpeg.Options{Quality: 90})
	})
	write("yellow-disc.jpg", yellow)
	write("rotated-exif6.jpg", withOrientation(t, enc(func(b *bytes.Buffer) error {
		return jpeg.Encode(b, drawShape(200, 100, "square", color.NRGBA{200, 40, 200, 255}, false), &jpeg.Options{Quality: 90})
	}), 6))
	// red-disc.webp is not regenerated here (no WebP encoder in Go).
	write("png-named.jpg", enc(func(b *bytes.Buffer) error { return png.Encode(b, red) }))
	write("truncated.jpg", yellow[:len(yellow)/2])
	write("empty.jpg", nil)
	write("notes.jpg", []byte("these are notes, not a picture\n"))
	write("bomb.png", bombPNG(100000, 100000))
}

// drawShape draws a shape of colour c on a striped grey background.
func drawShape(w, h int, shape string, c color.NRGBA, alpha bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	cx, cy, r := w/2, h/2, min(w, h)/3
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(100 + 40*((x/6+y/6)%2))
			a := uint8(255)
			if alpha && x < w/4 {
				a = 128
			}
			m.SetNRGBA(x, y, color.NRGBA{v, v, v + 20, a})
			dx, dy := x-cx, y-cy
			in := false
			switch shape {
			case "disc":
				in = dx*dx+dy*dy <= r*r
			case "square":
				in = max(dx, -dx) <= r && max(dy, -dy) <= r
			case "triangle":
				in = dy <= r && dy >= -r && 2*max(dx, -dx) <= dy+r
			}
			if in {
				m.SetNRGBA(x, y, c)
			}
		}
	}
	return m
}

// withOrientation inserts an EXIF APP1 segment with the given orientation
// right after the JPEG SOI marker.
func withOrientation(t *testing.T, jpg []byte, orient uint16) []byte {
	t.Helper()
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, binary.LittleEndian, uint32(8)) // IFD0 offset
	binary.Write(&tiff, binary.LittleEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.LittleEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.LittleEndian, uint32(1))
	binary.Write(&tiff, binary.LittleEndian, []uint16{orient, 0})
	binary.Write(&tiff, binary.LittleEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// bombPNG returns a PNG whose header claims w x h pixels, followed by a tiny
// IDAT and IEND: decoding it for real would need w*h*4 bytes.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		td := append([]byte(typ), data...)
		b.Write(td)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(td))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
