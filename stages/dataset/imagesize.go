package dataset

import (
	"context"
	"fmt"
	"image"
	_ "image/gif"  // decoders for image.DecodeConfig
	_ "image/jpeg" // decoders for image.DecodeConfig
	_ "image/png"  // decoders for image.DecodeConfig
	"io"
	"os"
	"runtime"

	// BMP and TIFF, which features.regions decodes too: registered here so
	// that the readers' headers do not depend on what else is linked in
	// (imaging registers them, but a binary without features.regions
	// would count such images as unreadable).
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp" // decoders for image.DecodeConfig
	"golang.org/x/sync/errgroup"

	"coderflow/pipeline"
)

// dims is an image's size as displayed (EXIF orientation applied), or the
// reason it could not be read.
type dims struct {
	w, h int
	err  error
}

// imageDims reads the headers of paths with a bounded worker pool (the
// size from image.DecodeConfig, and for a JPEG its EXIF orientation tag). A
// missing or undecodable file is reported in its dims.err (the caller
// decides skip or fail); only ctx cancellation is returned as an error.
func imageDims(ctx context.Context, paths []string, workers int, prog pipeline.Progress) ([]dims, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]dims, len(paths))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers * 2) // header reads wait on I/O
	for i, p := range paths {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			out[i] = readDims(p)
			if prog != nil {
				prog.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

func readDims(p string) dims {
	// Stat before opening: opening a named pipe blocks until a writer
	// appears, which would hang the stage for good.
	if st, err := os.Stat(p); err != nil {
		return dims{err: err}
	} else if st.IsDir() {
		return dims{err: fmt.Errorf("%s: is a directory", p)}
	} else if !st.Mode().IsRegular() {
		return dims{err: fmt.Errorf("%s: not a regular file (mode %v)", p, st.Mode())}
	}
	f, err := os.Open(p)
	if err != nil {
		return dims{err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		return dims{err: fmt.Errorf("%s: zero-byte file", p)}
	}
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return dims{err: fmt.Errorf("%s: %w", p, err)}
	}
	w, h := cfg.Width, cfg.Height
	// Record the image as displayed, the way features.regions and the
	// report decode it (imaging.AutoOrientation): a JPEG whose EXIF
	// orientation turns it by 90 or 270 degrees has its axes swapped.
	// Only the tag is read, from the first 64 KiB; a bad EXIF block means
	// orientation 1 (as stored), never a failed image.
	if format == "jpeg" && swapsAxes(jpegOrientation(io.NewSectionReader(f, 0, exifScanLimit))) {
		w, h = h, w
	}
	return dims{w: w, h: h}
}

// noteBadImage records an image of split whose header could not be read
// as a missing or unreadable image skipped from split; it reports whether
// the image is bad (and so skipped).
func noteBadImage(iss *issues, d dims, split, name string) (bool, error) {
	switch {
	case d.err == nil:
		return false, nil
	case os.IsNotExist(d.err):
		return true, iss.skipImage(split, "missing_images", name)
	default:
		return true, iss.skipImage(split, "unreadable_images", d.err.Error())
	}
}
