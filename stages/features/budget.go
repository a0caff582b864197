package features

import (
	"bufio"
	"context"
	"image"
	"image/color"
	"io"
	"sync"

	"golang.org/x/sync/semaphore"
)

// decodeBudget bounds the bytes the workers' decodes hold at once (the
// decode_memory param): before decoding, a worker acquires the decode's
// estimate (decodeBytes) and releases it once the image has been resized
// and the decoded image dropped. An estimate above the whole budget
// acquires the whole budget: that image waits until no other decode is in
// flight, then decodes alone, so no image within max_pixels is refused
// because of the budget. Waiters are served in order (x/sync/semaphore is
// FIFO), so a large image is not starved by small ones; a cancelled context
// ends the wait. Safe for concurrent use.
type decodeBudget struct {
	size int64
	sem  *semaphore.Weighted

	mu       sync.Mutex
	inFlight int64 // sum of the (unclamped) estimates of the decodes in flight
	n        int   // decodes in flight
}

func newDecodeBudget(size int64) *decodeBudget {
	return &decodeBudget{size: size, sem: semaphore.NewWeighted(size)}
}

// budgetHook, when set (tests only), is called after every acquisition
// with the estimates in flight (this one included) and their number.
var budgetHook func(b *decodeBudget, inFlight int64, n int)

// acquire waits until est bytes (at most the whole budget) are free and
// returns the function that gives them back (call it once). A nil budget
// acquires nothing.
func (b *decodeBudget) acquire(ctx context.Context, est int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	w := min(max(est, 1), b.size)
	if err := b.sem.Acquire(ctx, w); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.inFlight += est
	b.n++
	if budgetHook != nil {
		budgetHook(b, b.inFlight, b.n)
	}
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.inFlight -= est
			b.n--
			b.mu.Unlock()
			b.sem.Release(w)
		})
	}, nil
}

// decodeBytes estimates, from the header, the bytes the decoder of format
// allocates for a w x h image of colour model cfg.ColorModel, an upper bound
// of what it holds at its peak (small per-row and table buffers left out).
// size is the file's size, r reads it from its start (JPEG and PNG headers
// are read for what DecodeConfig does not tell). What the decoders
// allocate:
//
//   - JPEG (image/jpeg): its planes padded to whole MCUs, 64 bytes per 8x8
//     block of each component (1.5 bytes a pixel for 4:2:0 YCbCr, 3 for
//     4:4:4); a progressive JPEG keeps every block's coefficients too, 256
//     bytes a block (6 bytes a pixel for 4:2:0, 12 for 4:4:4); a
//     4-component (CMYK) JPEG is converted into a new 4-byte CMYK image.
//     An EXIF block may ask for a rotation or flip, which imaging applies
//     into a new 4-byte NRGBA image: counted whenever the file has one.
//   - PNG (image/png): the image of the header's colour model (1 byte a
//     pixel for a palette or grey up to 8 bits, 2 for 16-bit grey, 4 for
//     8-bit RGB(A) or grey+alpha, 8 at 16 bits), made NRGBA (4 bytes, 8 at
//     16 bits) by a tRNS chunk before the data; an interlaced PNG decodes
//     each pass into an image of its own before merging it, counted as a
//     second copy; and the garbage of flate's Huffman tables, rebuilt for
//     every block (about half the file's size, counted as the file's size).
//   - GIF (image/gif): the first frame, 1 byte a pixel, and the 4-byte
//     RGBA logical screen it is placed on when it does not cover it.
//   - WebP (x/image/webp): lossy YCbCr 4:2:0 (1.5 bytes a pixel, 2.5 with
//     alpha, whose lossless-coded plane decodes as 4-byte NRGBA first,
//     counted as 8);
//     lossless 4-byte NRGBA plus its 4-byte ARGB pixels before transforms;
//     and a chunk read whole (at most the file).
//   - TIFF (x/image/tiff): the image (1, 2, 4 or 8 bytes a pixel by colour
//     model, bpp); a strip decompressed into a growing bytes.Buffer (up to
//     bpp bytes a pixel of the strip, which may be the whole image, and up
//     to 3 times that while the buffer regrows: counted as 4 bpp a pixel);
//     and the whole file, which the decoder buffers in memory since
//     imaging's reader is no io.ReaderAt (growing by doubling: 4 times its
//     size). TestDecodeBytesCoversDecoders checks the total allocated.
//   - BMP (x/image/bmp): 1 byte a pixel for a palette, 4 otherwise.
func decodeBytes(format string, cfg image.Config, size int64, r io.Reader) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	px := w * h
	switch format {
	case "jpeg":
		if est := jpegDecodeBytes(bufio.NewReaderSize(r, 4096), w, h); est > 0 {
			return est
		}
		return 24*px + 4*px // unreadable SOF: a progressive 4:4:4 CMYK with EXIF
	case "png":
		bpp, interlaced, _ := pngLayout(bufio.NewReaderSize(r, 4096), cfg.ColorModel)
		est := bpp*px + size
		if interlaced {
			est += bpp * px
		}
		return est
	case "gif":
		return 5 * px
	case "webp":
		switch cfg.ColorModel {
		case color.YCbCrModel:
			return 2*px + size
		case color.NYCbCrAModel:
			return 8*px + size
		}
		return 8*px + size
	case "tiff":
		return 5*modelBytes(cfg.ColorModel)*px + 4*size
	case "bmp":
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			return px
		}
		return 4 * px
	}
	return 8 * px
}

// jpegDecodeBytes walks the JPEG's marker segments up to its frame header
// (SOFn) and returns the estimate of decodeBytes for a w x h frame, or 0
// when no frame header is found.
func jpegDecodeBytes(r *bufio.Reader, w, h int64) int64 {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || hdr != [2]byte{0xFF, 0xD8} {
		return 0
	}
	exif := false
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0
		}
		if b != 0xFF {
			continue
		}
		m, err := r.ReadByte()
		for err == nil && m == 0xFF {
			m, err = r.ReadByte()
		}
		if err != nil {
			return 0
		}
		if m == 0x00 || m == 0x01 || m >= 0xD0 && m <= 0xD9 {
			continue
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0
		}
		n := (int(hdr[0])<<8 | int(hdr[1])) - 2
		if n < 0 {
			return 0
		}
		isSOF := m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
		if !isSOF && m != 0xE1 {
			if _, err := r.Discard(n); err != nil {
				return 0
			}
			continue
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return 0
		}
		if m == 0xE1 {
			exif = exif || len(body) >= 6 && string(body[:6]) == "Exif\x00\x00"
			continue
		}
		// P, Y, X, Nf, then Nf (C, H/V, Tq) triples
		if n < 6 || n < 6+3*int(body[5]) || body[5] == 0 {
			return 0
		}
		nc := int(body[5])
		var hmax, vmax int64 = 1, 1
		for j := range nc {
			hv := body[6+3*j+1]
			hmax, vmax = max(hmax, int64(hv>>4)), max(vmax, int64(hv&15))
		}
		mxx, myy := (w+8*hmax-1)/(8*hmax), (h+8*vmax-1)/(8*vmax) // MCUs across and down
		var blocks int64
		for j := range nc {
			hv := body[6+3*j+1]
			blocks += mxx * max(int64(hv>>4), 1) * myy * max(int64(hv&15), 1)
		}
		est := 64 * blocks
		if m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE { // progressive
			est += 256 * blocks
		}
		if nc == 4 {
			est += 4 * w * h
		}
		if exif {
			est += 4 * w * h
		}
		return est
	}
}

// pngLayout walks the PNG's chunks up to its first IDAT and returns the
// bytes a pixel of the image image/png will allocate for colour model cm,
// whether the image is interlaced, and whether a tRNS chunk (which makes
// grey and RGB images NRGBA) comes before the data. An unreadable layout
// counts as interlaced with 8 bytes a pixel.
func pngLayout(r *bufio.Reader, cm color.Model) (bpp int64, interlaced, trns bool) {
	var ihdr [29]byte // signature, IHDR length and type, width, height, depth, colour, compression, filter, interlace
	if _, err := io.ReadFull(r, ihdr[:]); err != nil {
		return 8, true, false
	}
	interlaced = ihdr[28] != 0
	if _, err := r.Discard(4); err != nil { // IHDR's CRC
		return 8, true, false
	}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 8, true, false
		}
		n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		typ := string(hdr[4:])
		if typ == "IDAT" {
			break
		}
		if typ == "tRNS" {
			trns = true
		}
		if n < 0 {
			return 8, true, false
		}
		if _, err := r.Discard(n + 4); err != nil {
			return 8, true, false
		}
	}
	if _, ok := cm.(color.Palette); ok {
		return 1, interlaced, trns // a palette's transparency stays in the palette
	}
	bpp = modelBytes(cm)
	if trns {
		bpp = max(bpp, 4)
		if cm == color.Gray16Model {
			bpp = 8
		}
	}
	return bpp, interlaced, trns
}

// modelBytes is the bytes per pixel of the image type a decoder returns
// for colour model cm: 1 for grey and paletted, 2 for 16-bit grey, 8 for
// 16-bit colour, 4 otherwise.
func modelBytes(cm color.Model) int64 {
	switch cm {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := cm.(color.Palette); ok {
		return 1
	}
	return 4
}
