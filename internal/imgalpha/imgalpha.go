// Package imgalpha holds the one rule coderflow applies to decoded images'
// alpha beyond the decoders' own: a 32-bit BMP whose alpha bytes are all
// zero is opaque. Both the features stage and the report's thumbnails
// use it, so a picture is described and shown alike.
package imgalpha

import "image"

// OpaqueIfNoAlpha makes m opaque when every alpha byte is zero, for a BMP
// (format is image.Decode's format name; other formats are left alone).
// x/image/bmp reads the fourth byte of a 32-bit pixel as alpha whenever
// the header is a V4 or V5 one, but many writers leave it zero (the
// 40-byte header's "unused" byte): the picture came out fully
// transparent. Browsers (Chromium's and Firefox's BMP readers) show such a
// file opaque; a BMP with any non-zero alpha keeps its alpha.
func OpaqueIfNoAlpha(img image.Image, format string) {
	m, ok := img.(*image.NRGBA)
	if !ok || format != "bmp" {
		return
	}
	b := m.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0 {
				return
			}
		}
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)]
		for i := 3; i < len(row); i += 4 {
			row[i] = 0xFF
		}
	}
}
