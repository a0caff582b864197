package dataset

import (
	"io"

	"coderflow/internal/exiforient"
)

// exifScanLimit bounds how much of a file jpegOrientation reads: the EXIF
// block is an APP1 segment (at most 64 KiB) that the Exif standard puts
// first after SOI (or after a JFIF APP0), so its orientation tag lies far
// inside the first 64 KiB in any real file.
const exifScanLimit = 64 << 10

// jpegOrientation returns the EXIF orientation (1..8) of the JPEG read from
// r, reading at most exifScanLimit bytes, or 1 when there is none or it
// cannot be read, by imaging's rule (internal/exiforient): the rule
// features.regions and the evaluate report decode by, so that the images
// table's width and height are those of the image the features are
// computed on. The only difference is the bound: imaging reads as far as
// the file goes. TestOrientationMatchesImaging and
// FuzzOrientationMatchesImaging hold the two together.
func jpegOrientation(r io.Reader) int { return exiforient.Read(r, exifScanLimit) }

// swapsAxes reports whether EXIF orientation o turns the stored image by 90
// or 270 degrees (5 transpose, 6 rotate 90 clockwise, 7 transverse, 8
// rotate 90 counter-clockwise), so the displayed width is the stored height.
func swapsAxes(o int) bool { return o >= 5 && o <= 8 }
