package dataset

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"
)

// exifScanLimit bounds how much of a file jpegOrientation reads: the EXIF
// block is an APP1 segment (at most 64 KiB) that the Exif standard puts
// first after SOI (or after a JFIF APP0), so its orientation tag lies far
// inside the first 64 KiB in any real file.
const exifScanLimit = 64 << 10

// exifReaders holds the read buffers of jpegOrientation: 4 KiB covers the
// segments up to the first scan of a typical photo in one read.
var exifReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// jpegOrientation returns the EXIF orientation (1..8) of the JPEG read from
// r, reading at most exifScanLimit bytes, or 1 when there is none or it
// cannot be read. It never fails and never panics on bad input: a missing,
// truncated or malformed EXIF block means "as stored", orientation 1.
//
// It is the rule github.com/disintegration/imaging v1.6.2 applies (its
// unexported readOrientation) when features.regions and the evaluate report
// decode with imaging.AutoOrientation(true), step for step, so that the
// images table's width and height are those of the image the features are
// computed on: the first APP1 segment only (an XMP APP1 before the EXIF one
// means no orientation), IFD0 only, the tag's type and count not checked,
// values outside 1..8 ignored. The only difference is the bound: imaging
// reads as far as the file goes. TestOrientationMatchesImaging and
// FuzzOrientationMatchesImaging hold the two together.
func jpegOrientation(r io.Reader) int {
	br := exifReaders.Get().(*bufio.Reader)
	br.Reset(io.LimitReader(r, exifScanLimit))
	defer func() { br.Reset(nil); exifReaders.Put(br) }()
	u16 := func(o binary.ByteOrder) (uint16, bool) {
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, false
		}
		return o.Uint16(b[:]), true
	}
	skip := func(n int) bool {
		_, err := br.Discard(n)
		return err == nil
	}
	be := binary.BigEndian
	if soi, ok := u16(be); !ok || soi != 0xFFD8 {
		return 1
	}
	// Walk the marker segments up to the first APP1.
	for {
		marker, ok := u16(be)
		if !ok {
			return 1
		}
		size, ok := u16(be)
		if !ok || marker>>8 != 0xFF {
			return 1
		}
		if marker == 0xFFE1 {
			break
		}
		if size < 2 || !skip(int(size)-2) {
			return 1
		}
	}
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:]) != "Exif" || !skip(2) {
		return 1
	}
	var order binary.ByteOrder
	switch bo, ok := u16(be); {
	case !ok:
		return 1
	case bo == 0x4D4D: // "MM"
		order = binary.BigEndian
	case bo == 0x4949: // "II"
		order = binary.LittleEndian
	default:
		return 1
	}
	if !skip(2) { // the TIFF magic 42, not checked (as imaging)
		return 1
	}
	var off [4]byte
	if _, err := io.ReadFull(br, off[:]); err != nil {
		return 1
	}
	ifd := order.Uint32(off[:])
	if ifd < 8 || ifd-8 > exifScanLimit || !skip(int(ifd-8)) {
		return 1
	}
	n, ok := u16(order)
	if !ok {
		return 1
	}
	for range int(n) {
		tag, ok := u16(order)
		if !ok {
			return 1
		}
		if tag != 0x0112 {
			if !skip(10) {
				return 1
			}
			continue
		}
		if !skip(6) { // type and count
			return 1
		}
		v, ok := u16(order)
		if !ok || v < 1 || v > 8 {
			return 1
		}
		return int(v)
	}
	return 1
}

// swapsAxes reports whether EXIF orientation o turns the stored image by 90
// or 270 degrees (5 transpose, 6 rotate 90 clockwise, 7 transverse, 8
// rotate 90 counter-clockwise), so the displayed width is the stored height.
func swapsAxes(o int) bool { return o >= 5 && o <= 8 }
