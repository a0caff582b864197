// Package imgsize bounds what decoding an image file can cost from its
// header: [MinFileSize] is the least a complete PNG, JPEG or BMP file of a
// header's size can take, so that features.regions and the report refuse a
// truncated or crafted file before the decoder allocates the whole image.
package imgsize

import (
	"image"
	"image/color"
)

// MinFileSize is a lower bound on the size of any complete PNG, JPEG or BMP
// file whose header declares cfg, and 0 for the other formats. The decoders
// allocate the whole image (a progressive JPEG its coefficients too, up to
// 20 bytes a pixel in all) as soon as the pixel data begins, so a file cut
// after its header (a download cut short) or a crafted one made
// features.regions (and the report's thumbnails) allocate hundreds of MB
// within max_pixels before it failed: a 48-byte
// PNG declaring 7000x7000 at 16 bits cost 392 MB. A file below the bound
// cannot be complete, and is refused as truncated before decoding.
//
//   - PNG: deflate compresses at most 1032:1, and the rows hold at least the
//     fewest bits per pixel of the header's colour model (1 for grey or a
//     palette, which may be 1-bit).
//   - JPEG: each 8x8 block of a full-resolution component codes its DC
//     coefficient in a scan, in at least one bit (a Huffman code).
//   - BMP: the rows are stored uncompressed (x/image/bmp reads no RLE), each
//     padded to 4 bytes, at least 1 bit per pixel for a palette, 24 otherwise.
func MinFileSize(format string, cfg image.Config) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	switch format {
	case "png":
		var bits int64
		switch cfg.ColorModel {
		case color.RGBAModel: // RGB, 8 bits a sample
			bits = 24
		case color.NRGBAModel, color.Gray16Model: // grey+alpha or RGBA at 8 bits, grey at 16
			bits = 16
		case color.NRGBA64Model: // grey+alpha or RGBA at 16 bits
			bits = 32
		case color.RGBA64Model: // RGB at 16 bits
			bits = 48
		default: // grey or palette, 1 to 8 bits
			bits = 1
		}
		return w * h * bits / 8 / 1032
	case "jpeg":
		return (w + 7) / 8 * ((h + 7) / 8) / 8
	case "bmp":
		bits := int64(24)
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			bits = 1
		}
		return h * ((w*bits + 31) / 32 * 4)
	}
	return 0
}
