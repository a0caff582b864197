package features

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // register GIF
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/bmp" // registers BMP (imaging registers it too)
	"golang.org/x/image/draw"
	"golang.org/x/image/tiff"   // registers TIFF (imaging registers it too)
	_ "golang.org/x/image/webp" // register WebP

	"coderflow/internal/exiforient"
	"coderflow/internal/imgalpha"
	"coderflow/internal/imgsize"
	"coderflow/stages/features/descriptor"
)

// Reasons an image is skipped, the keys of the manifest's failed_by_reason.
const (
	ReasonMissing     = "missing"     // the file does not exist
	ReasonUnreadable  = "unreadable"  // it exists but cannot be read (permissions, a directory, I/O)
	ReasonEmpty       = "empty"       // zero bytes
	ReasonUnsupported = "unsupported" // not JPEG, PNG, GIF, WebP, BMP or TIFF by content, or a feature the decoder lacks (CMYK TIFF, 12-bit JPEG, animated WebP, ...)
	ReasonTooLarge    = "too_large"   // width*height above max_pixels (decompression-bomb guard)
	ReasonCorrupt     = "corrupt"     // header or pixel data cannot be decoded (truncated, damaged)
)

// loadError is a counted, reported skip: a reason class and a message.
type loadError struct {
	reason string
	msg    string
}

func (e *loadError) Error() string { return e.reason + ": " + e.msg }

func skip(reason, format string, args ...any) *loadError {
	return &loadError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// formatExt lists the file extensions expected for each decoder name: every
// format registered with package image in this binary (imaging imports the
// BMP and TIFF decoders, so they decode whether listed or not; unlisted, a
// correctly named .bmp or .tif was counted as an extension mismatch).
var formatExt = map[string][]string{
	"jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
	"png":  {".png"},
	"gif":  {".gif"},
	"webp": {".webp"},
	"bmp":  {".bmp", ".dib"},
	"tiff": {".tif", ".tiff"},
}

// jpegEOI is the JPEG end-of-image marker.
var jpegEOI = []byte{0xFF, 0xD9}

// decoded is a loaded image with facts for the manifest.
type decoded struct {
	img          image.Image
	format       string
	extMismatch  bool // decoded by content, but the extension names another format
	origW, origH int
	release      func() // gives the decode's memory back to the budget (loadBudget)
	est          int64  // the decode's estimated bytes (decodeBytes)
}

// load checks the header with DecodeConfig, refuses images above maxPixels,
// then decodes with EXIF orientation applied. Every failure is a *loadError.
// br, if not nil, is a reusable read buffer (reset here).
func load(path string, maxPixels int64, br *bufio.Reader) (*decoded, error) {
	return loadBudget(context.Background(), path, maxPixels, br, nil)
}

// loadBudget is load with the decode's memory taken from budget (if not
// nil): once the header has passed the checks, it acquires the estimate of
// decodeBytes, waiting while ctx allows (a cancelled wait returns ctx's
// error, not a *loadError), and decodes. The returned image's release
// gives the estimate back: call it once the image is no longer used. On
// failure nothing stays acquired.
func loadBudget(ctx context.Context, path string, maxPixels int64, br *bufio.Reader, budget *decodeBudget) (d *decoded, err error) {
	// Stat before opening: opening a named pipe blocks until a writer
	// appears, which would hang the worker for good.
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, skip(ReasonMissing, "%s: no such file", path)
		}
		return nil, skip(ReasonUnreadable, "%v", err)
	}
	if st.IsDir() {
		return nil, skip(ReasonUnreadable, "%s: is a directory", path)
	}
	if !st.Mode().IsRegular() {
		return nil, skip(ReasonUnreadable, "%s: not a regular file (mode %v)", path, st.Mode())
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, skip(ReasonMissing, "%s: no such file", path)
		}
		return nil, skip(ReasonUnreadable, "%v", err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, skip(ReasonUnreadable, "%v", err)
	}
	if st.Size() == 0 {
		return nil, skip(ReasonEmpty, "%s: zero-byte file", path)
	}
	if br == nil {
		br = bufio.NewReaderSize(f, 64<<10)
	}
	br.Reset(f)
	cfg, format, err := image.DecodeConfig(br)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, skip(ReasonUnsupported, "%s: not a JPEG, PNG, GIF, WebP, BMP or TIFF image", path)
		}
		if unsupportedFeature(err) {
			return nil, skip(ReasonUnsupported, "%s: %s header: %v", path, format, err)
		}
		return nil, skip(ReasonCorrupt, "%s: header: %v", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, skip(ReasonCorrupt, "%s: header declares %dx%d pixels", path, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, skip(ReasonTooLarge, "%s: %dx%d = %d pixels exceeds max_pixels %d", path, cfg.Width, cfg.Height, px, maxPixels)
	}
	if least := imgsize.MinFileSize(format, cfg); st.Size() < least {
		return nil, skip(ReasonCorrupt, "%s: truncated: %d bytes cannot hold the %dx%d %s image its header declares (at least %d bytes)",
			path, st.Size(), cfg.Width, cfg.Height, format, least)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, skip(ReasonUnreadable, "%v", err)
	}
	br.Reset(f)
	est := decodeBytes(format, cfg, st.Size(), br)
	release, err := budget.acquire(ctx, est)
	if err != nil {
		return nil, err
	}
	defer func() {
		if d == nil {
			release()
		}
	}()
	img, err := decodeOriented(f, br, nil)
	if err != nil && format == "jpeg" && errors.Is(err, io.ErrUnexpectedEOF) {
		// A sequential JPEG whose pixel data is complete but whose
		// end-of-image marker is missing: libjpeg (PIL, OpenCV, browsers)
		// shows it, image/jpeg stops at EOF. Decode it again with the
		// marker appended: a sequential file cut inside its pixel data
		// still fails. A file cut between two scans would decode with
		// the later scans missing (blurred if progressive, planes of
		// zeros if its components are in separate scans), so it stays
		// corrupt.
		if _, serr := f.Seek(0, io.SeekStart); serr == nil {
			br.Reset(f)
			if jpegRepairable(br) {
				if im, rerr := decodeOriented(f, br, jpegEOI); rerr == nil {
					img, err = im, nil
				}
			}
		}
	}
	var le *loadError
	if errors.As(err, &le) {
		return nil, le
	}
	if err != nil {
		if unsupportedFeature(err) {
			return nil, skip(ReasonUnsupported, "%s: %s data: %v", path, format, err)
		}
		if format == "webp" && webpAnimated(f) {
			return nil, skip(ReasonUnsupported, "%s: animated WebP (the decoder reads still images only): %v", path, err)
		}
		return nil, skip(ReasonCorrupt, "%s: %s data: %v", path, format, err)
	}
	if p, ok := img.(*image.Paletted); ok && format == "gif" {
		img = onScreen(p, cfg.Width, cfg.Height)
	}
	imgalpha.OpaqueIfNoAlpha(img, format) // a BMP with all-zero alpha bytes is opaque
	d = &decoded{img: img, format: format, origW: cfg.Width, origH: cfg.Height, release: release, est: est}
	ext := strings.ToLower(filepath.Ext(path))
	d.extMismatch = true
	for _, e := range formatExt[format] {
		if e == ext {
			d.extMismatch = false
		}
	}
	return d, nil
}

// decodeOriented decodes the image in f (from its start, followed by tail)
// and applies its EXIF orientation, as imaging.Decode with
// imaging.AutoOrientation(true) does, with the same result: the
// orientation by imaging's rule (internal/exiforient), the pixels by
// image.Decode, the transform by imaging's FlipH, Rotate90, ... imaging.Decode
// reads the orientation on a goroutine of its own, fed through an io.Pipe
// that only a returning decode closes: a decoder that panicked (which the
// stage recovers as a corrupt image) left that goroutine blocked for good.
// Here the orientation is read in a pass of its own, on the caller's
// goroutine. br is the read buffer (reset here). A seek error is a
// *loadError.
func decodeOriented(f *os.File, br *bufio.Reader, tail []byte) (image.Image, error) {
	return exiforient.Decode(func() (io.Reader, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, skip(ReasonUnreadable, "%v", err)
		}
		br.Reset(f)
		if tail == nil {
			return br, nil
		}
		return io.MultiReader(br, bytes.NewReader(tail)), nil
	})
}

// jpegRepairable reports whether the JPEG read from r, whose decode
// stopped at EOF, is one the end-marker repair may decode: a sequential
// (baseline or extended Huffman, SOF0 or SOF1) frame whose scans, as far as
// the file goes, name every component of the frame. It walks the marker
// segments and skips each scan's entropy-coded data. A sequential JPEG may
// code its components in separate scans (Y, then Cb, then Cr); cut between
// two of them, image/jpeg decodes the marker-terminated file without error
// and leaves the planes of the missing scans zero (a yellow picture came
// out green). A scan cut inside its data fails to decode anyway.
func jpegRepairable(r *bufio.Reader) bool {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || hdr != [2]byte{0xFF, 0xD8} {
		return false
	}
	var comps []byte         // the frame's component identifiers
	var scanned [256]bool    // components named by a scan header
	covered := func() bool { // every component of the frame is in a scan
		for _, c := range comps {
			if !scanned[c] {
				return false
			}
		}
		return len(comps) > 0
	}
	for {
		// Outside a segment: entropy-coded data, or extraneous bytes
		// (which image/jpeg skips too), up to the next marker.
		b, err := r.ReadByte()
		if err != nil {
			return covered() // the end of the file
		}
		if b != 0xFF {
			continue
		}
		m, err := r.ReadByte()
		for err == nil && m == 0xFF { // fill bytes
			m, err = r.ReadByte()
		}
		switch {
		case err != nil:
			return covered()
		case m == 0x00, m == 0x01, m >= 0xD0 && m <= 0xD7:
			continue // a stuffed 0xFF in a scan, or a marker without a segment
		case m == 0xD9:
			return covered()
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return covered()
		}
		n := (int(hdr[0])<<8 | int(hdr[1])) - 2 // the segment's body
		if n < 0 {
			return false
		}
		switch {
		case m == 0xC0 || m == 0xC1, m == 0xDA:
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return covered()
			}
			if m == 0xDA { // Ns, then Ns (Cs, Td/Ta) pairs
				if comps == nil || n < 1 || n < 1+2*int(body[0]) {
					return false
				}
				for j := range int(body[0]) {
					scanned[body[1+2*j]] = true
				}
				continue
			}
			// P, Y, X, Nf, then Nf (C, H/V, Tq) triples
			if comps != nil || n < 6 || n < 6+3*int(body[5]) {
				return false
			}
			comps = make([]byte, body[5])
			for j := range comps {
				comps[j] = body[6+3*j]
			}
		case m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return false // a progressive, lossless or arithmetic frame
		default:
			if _, err := r.Discard(n); err != nil {
				return covered()
			}
		}
	}
}

// webpAnimated reports whether the WebP file f declares an animation in
// its VP8X header, which x/image/webp cannot decode (it reports "invalid
// format", as for a damaged file).
func webpAnimated(f io.ReaderAt) bool {
	var h [21]byte // RIFF, size, WEBP, VP8X, chunk size, flags
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return false
	}
	return string(h[0:4]) == "RIFF" && string(h[8:12]) == "WEBP" && string(h[12:16]) == "VP8X" && h[20]&(1<<1) != 0
}

// onScreen returns a GIF's first frame as shown: on its w x h logical
// screen, transparent where the frame does not reach. image/gif returns the
// frame with its own bounds, which an offset or smaller first frame leaves
// short of the screen (the picture would be described as the crop).
func onScreen(frame *image.Paletted, w, h int) image.Image {
	screen := image.Rect(0, 0, w, h)
	if frame.Rect == screen {
		return frame
	}
	canvas := image.NewRGBA(screen)
	r := frame.Rect.Intersect(screen)
	draw.Draw(canvas, r, frame, r.Min, draw.Src)
	return canvas
}

// unsupportedFeature reports whether err is a decoder's "valid but
// unsupported" error: the file is a JPEG, PNG, BMP or TIFF image that uses a
// feature the decoder does not implement (a CMYK or Lab TIFF, a 12-bit or
// arithmetic-coded JPEG, an OS/2 bitmap, ...), rather than a damaged one.
// GIF and WebP have no such error.
func unsupportedFeature(err error) bool {
	var (
		je jpeg.UnsupportedError
		pe png.UnsupportedError
		te tiff.UnsupportedError
	)
	return errors.As(err, &je) || errors.As(err, &pe) || errors.As(err, &te) || errors.Is(err, bmp.ErrUnsupported)
}

// targetSize returns the size of img resized to shortSide on its short
// side, the long side capped at 4*shortSide (extreme panoramas are squeezed
// rather than producing huge buffers). Neither side goes below
// min(shortSide, descriptor.Grid): the cap used to shrink the short side of
// a strip with it (a 1 x 500 image became 2 x 1024, a 2000 x 4 one
// 1024 x 2), which left lattice cells, and so 11 of the 36 regions, without
// a pixel, and the image without a gradient. Such a strip is stretched
// across instead, so that every lattice cell holds at least one pixel.
func targetSize(w, h, shortSide int) (int, int) {
	s, l := min(w, h), max(w, h)
	scale := float64(shortSide) / float64(s)
	if float64(l)*scale > float64(4*shortSide) {
		scale = float64(4*shortSide) / float64(l)
	}
	floor := min(shortSide, descriptor.Grid)
	tw := max(floor, int(float64(w)*scale+0.5))
	th := max(floor, int(float64(h)*scale+0.5))
	return tw, th
}

// resizer resizes into a reused buffer with an x/image/draw interpolator,
// single-threaded (the stage parallelises across images, never inside one).
type resizer struct {
	interp draw.Interpolator
	fast   bool // use scaleYCbCr for YCbCr sources downscaled at most 2x
	buf    []uint8
	xs     []tap
}

// Resamplers are the accepted values of the resample param.
var Resamplers = []string{"approxbilinear", "bilinear", "nearest", "catmullrom"}

func newResizer(name string) (*resizer, error) {
	var in draw.Interpolator
	switch name {
	case "approxbilinear", "":
		in = draw.ApproxBiLinear
	case "bilinear":
		in = draw.BiLinear
	case "nearest":
		in = draw.NearestNeighbor
	case "catmullrom":
		in = draw.CatmullRom
	default:
		return nil, fmt.Errorf("unknown resample filter %q", name)
	}
	return &resizer{interp: in, fast: in == draw.ApproxBiLinear}, nil
}

// resize returns src scaled to w x h as an *image.RGBA backed by r's buffer
// (valid until the next call). Pixels with alpha are composited on black.
func (r *resizer) resize(src image.Image, w, h int) *image.RGBA {
	n := 4 * w * h
	if cap(r.buf) < n {
		r.buf = make([]uint8, n)
	}
	dst := &image.RGBA{Pix: r.buf[:n], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	if yc, ok := src.(*image.YCbCr); ok && r.fast && yc.Rect.Dx() <= 2*w && yc.Rect.Dy() <= 2*h && r.scaleYCbCr(dst, yc) {
		return dst
	}
	r.interp.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
	return dst
}
