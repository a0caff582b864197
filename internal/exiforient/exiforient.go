// Package exiforient reads the EXIF orientation of a JPEG by the rule
// github.com/disintegration/imaging v1.6.2 applies when it decodes with
// imaging.AutoOrientation(true) (its unexported readOrientation), step for
// step: the first APP1 segment only (an XMP APP1 before the EXIF one means
// no orientation), IFD0 only, the tag's type and count not checked, values
// outside 1..8 ignored.
//
// The dataset readers (the displayed width and height of the images table,
// reading at most the first 64 KiB) and features.regions (which decodes the
// pixels itself and applies imaging's transforms, reading as far as the
// file goes, as imaging does) share it, so that the images table's size is
// that of the image the features are computed on.
// stages/dataset's TestOrientationMatchesImaging and
// FuzzOrientationMatchesImaging, and stages/features'
// TestDecodeOrientedMatchesImaging hold it to imaging's rule.
package exiforient

import (
	"bufio"
	"encoding/binary"
	"image"
	"io"
	"sync"

	"github.com/disintegration/imaging"
)

// readers holds the read buffers of Read: 4 KiB covers the segments up to
// the first scan of a typical photo in one read.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// Read returns the EXIF orientation (1..8) of the JPEG read from r, or 1
// when there is none or it cannot be read: a missing, truncated or
// malformed EXIF block means "as stored". It never fails and never panics
// on bad input. With limit > 0 it reads at most limit bytes of r; imaging
// reads as far as the file goes (limit 0).
func Read(r io.Reader, limit int64) int {
	if limit > 0 {
		r = io.LimitReader(r, limit)
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); readers.Put(br) }()
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
	if ifd < 8 || (limit > 0 && int64(ifd-8) > limit) || !skip(int(ifd-8)) {
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

// Apply returns img turned as EXIF orientation o (1..8) says, with the
// transforms imaging.Decode with AutoOrientation(true) applies (imaging's
// fixOrientation); o outside 2..8 returns img itself.
func Apply(img image.Image, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

// Decode decodes an image and applies its EXIF orientation: the pixels
// imaging.Decode with imaging.AutoOrientation(true) gives, without its
// goroutine. rewind returns the file from its start; Decode calls it twice,
// once to read the orientation (Read, unbounded, as imaging reads it) and
// once for image.Decode, and returns rewind's errors as they are.
// imaging.Decode reads the orientation on a goroutine of its own, fed
// through an io.Pipe that only a returning decode closes: a decoder that
// panicked left that goroutine blocked for good. Here everything runs on
// the caller's goroutine, which can recover a decoder's panic.
func Decode(rewind func() (io.Reader, error)) (image.Image, error) {
	r, err := rewind()
	if err != nil {
		return nil, err
	}
	o := Read(r, 0)
	if r, err = rewind(); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	return Apply(img, o), nil
}
