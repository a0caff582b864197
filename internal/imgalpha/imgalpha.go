// Package imgalpha holds the one rule coderflow applies to decoded images'
// alpha beyond the decoders' own: a 32-bit BMP whose alpha bytes are all
// zero is opaque. Both the features stage and the report's thumbnails
// use it, so a picture is described and shown alike.
package imgalpha

import (
	"encoding/binary"
	"image"
)

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

// BMP32 encodes a w x h 32-bit BMP with a header of infoLen bytes (108:
// V4, 124: V5), the given compression (0 RGB, 3 bitfields with the masks
// R, G, B, A of a V4/V5 header) and every pixel bgra: the files the zero-
// alpha rule is about, for tests.
func BMP32(w, h int, infoLen, compression uint32, bgra [4]byte) []byte {
	b := make([]byte, 14+infoLen)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(len(b))+uint32(4*w*h))
	binary.LittleEndian.PutUint32(b[10:], 14+infoLen)
	binary.LittleEndian.PutUint32(b[14:], infoLen)
	binary.LittleEndian.PutUint32(b[18:], uint32(w))
	binary.LittleEndian.PutUint32(b[22:], uint32(h))
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 32)
	binary.LittleEndian.PutUint32(b[30:], compression)
	binary.LittleEndian.PutUint32(b[54:], 0xff0000)
	binary.LittleEndian.PutUint32(b[58:], 0xff00)
	binary.LittleEndian.PutUint32(b[62:], 0xff)
	binary.LittleEndian.PutUint32(b[66:], 0xff000000)
	for range w * h {
		b = append(b, bgra[:]...)
	}
	return b
}
