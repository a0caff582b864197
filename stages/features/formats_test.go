package features

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

// TestFormatsByContent decodes BMP and TIFF (imaging registers both
// decoders, so they were always decoded) under their own extensions and
// under a wrong one: only the wrong one counts as an extension mismatch.
func TestFormatsByContent(t *testing.T) {
	img := image.Image(drawShape(40, 30, "disc", color.NRGBA{220, 30, 30, 255}, false))
	var bb, tb bytes.Buffer
	if err := bmp.Encode(&bb, img); err != nil {
		t.Fatal(err)
	}
	if err := tiff.Encode(&tb, img, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name, format string
		data         []byte
		mismatch     bool
	}{
		{"a.bmp", "bmp", bb.Bytes(), false},
		{"a.tif", "tiff", tb.Bytes(), false},
		{"a.tiff", "tiff", tb.Bytes(), false},
		{"b.jpg", "bmp", bb.Bytes(), true},
		{"t.png", "tiff", tb.Bytes(), true},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := load(p, 1<<20, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.format != tc.format || d.extMismatch != tc.mismatch || d.img.Bounds().Dx() != 40 {
			t.Errorf("%s: format %s, extension mismatch %v, bounds %v; want %s, %v", tc.name, d.format, d.extMismatch, d.img.Bounds(), tc.format, tc.mismatch)
		}
	}
}

// tiffBytes returns a little-endian, single-strip TIFF of w x h pixels with
// spp 8-bit samples per pixel, the given photometric interpretation and
// compression tags, and strip as its pixel data.
func tiffBytes(w, h, spp, photometric, compression uint16, strip []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II*\x00")
	bpsOff := uint32(8 + len(strip))
	ifdOff := bpsOff + 2*uint32(spp)
	binary.Write(&b, le, ifdOff)
	b.Write(strip)
	for range spp {
		binary.Write(&b, le, uint16(8))
	}
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32 // a SHORT value sits in the low half (little-endian)
	}
	const short, long = 3, 4
	bps := entry{258, short, uint32(spp), 8}
	if spp > 2 {
		bps.value = bpsOff
	}
	entries := []entry{
		{256, short, 1, uint32(w)},
		{257, short, 1, uint32(h)},
		bps,
		{259, short, 1, uint32(compression)},
		{262, short, 1, uint32(photometric)},
		{273, long, 1, 8}, // StripOffsets
		{277, short, 1, uint32(spp)},
		{278, short, 1, uint32(h)}, // RowsPerStrip
		{279, long, 1, uint32(len(strip))},
	}
	binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, le, e)
	}
	binary.Write(&b, le, uint32(0)) // no next IFD
	return b.Bytes()
}

// TestUnsupportedFeatures checks that valid images using a feature the Go
// decoders do not implement (CMYK or Lab TIFF, as ImageMagick writes them,
// 12-bit or arithmetic-coded JPEG, OS/2 BMP, ...) are skipped as
// unsupported, not corrupt, whether the header or the pixel data reveals
// it, and that damaged files stay corrupt.
func TestUnsupportedFeatures(t *testing.T) {
	rgb := bytes.Repeat([]byte{200, 30, 30}, 4)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, drawShape(16, 16, "disc", color.NRGBA{220, 30, 30, 255}, false), nil); err != nil {
		t.Fatal(err)
	}
	good := jb.Bytes()
	sof := bytes.Index(good, []byte{0xFF, 0xC0}) // baseline SOF0: FF C0, length, precision
	if sof < 0 {
		t.Fatal("no SOF0 in the encoded JPEG")
	}
	precision12 := bytes.Clone(good)
	precision12[sof+1], precision12[sof+4] = 0xC1, 12 // extended sequential, 12-bit samples
	arithmetic := bytes.Clone(good)
	arithmetic[sof+1] = 0xC9 // SOF9: extended sequential, arithmetic coding
	// An OS/2 bitmap: 14-byte file header and 12-byte BITMAPCOREHEADER.
	os2 := []byte("BM")
	os2 = binary.LittleEndian.AppendUint32(os2, 26+12)
	os2 = binary.LittleEndian.AppendUint32(os2, 0)
	os2 = binary.LittleEndian.AppendUint32(os2, 26)
	os2 = binary.LittleEndian.AppendUint32(os2, 12)
	os2 = binary.LittleEndian.AppendUint16(os2, 2)
	os2 = binary.LittleEndian.AppendUint16(os2, 2)
	os2 = binary.LittleEndian.AppendUint16(os2, 1)
	os2 = binary.LittleEndian.AppendUint16(os2, 24)
	os2 = append(os2, make([]byte, 12)...)
	// A PNG with a compression method other than deflate.
	pngCompression := bombPNG(2, 2)
	pngCompression[16+10] = 1
	binary.BigEndian.PutUint32(pngCompression[16+13:], crc32.ChecksumIEEE(pngCompression[12:16+13]))

	tests := []struct {
		name   string
		data   []byte
		reason string
		msg    string // in the error
	}{
		{"cmyk.tif", tiffBytes(2, 2, 4, 5, 1, bytes.Repeat([]byte{0, 200, 200, 0}, 4)), ReasonUnsupported, "color model"},
		{"lab.tif", tiffBytes(2, 2, 3, 8, 1, rgb), ReasonUnsupported, "color model"},
		{"jpeg-in.tif", tiffBytes(2, 2, 3, 2, 7, rgb), ReasonUnsupported, "compression value 7"}, // found decoding the data
		{"12bit.jpg", precision12, ReasonUnsupported, "precision"},
		{"arithmetic.jpg", arithmetic, ReasonUnsupported, "unknown marker"},
		{"os2.bmp", os2, ReasonUnsupported, "unsupported BMP"},
		{"compression.png", pngCompression, ReasonUnsupported, "compression method"},
		{"rgb.tif", tiffBytes(2, 2, 3, 2, 1, rgb), "", ""}, // the builder makes decodable files
		{"short.tif", tiffBytes(2, 2, 3, 2, 1, rgb)[:20], ReasonCorrupt, ""},
		{"truncated.jpg", good[:len(good)/2], ReasonCorrupt, ""},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := load(p, 1<<20, nil)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var le *loadError
		if !errors.As(err, &le) || le.reason != tc.reason || !strings.Contains(le.msg, tc.msg) || !strings.Contains(le.msg, p) {
			t.Errorf("%s: err = %v, want reason %s mentioning %q and the path", tc.name, err, tc.reason, tc.msg)
		}
	}

	// The stage counts them under their reason in the manifest.
	var paths []string
	for _, name := range []string{"rgb.tif", "cmyk.tif", "jpeg-in.tif", "short.tif"} {
		paths = append(paths, filepath.Join(dir, name))
	}
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"max_fail_fraction": 1.0, "workers": 2}, imagesArtifact(t, paths, 1))
	if n := a.TableRows(table.Features); n != 1 {
		t.Errorf("%d feature rows, want 1", n)
	}
	var info struct {
		ByReason map[string]int `json:"failed_by_reason"`
	}
	b, _ := json.Marshal(a.Manifest.Info)
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{ReasonUnsupported: 2, ReasonCorrupt: 1}; !maps.Equal(info.ByReason, want) {
		t.Errorf("failed_by_reason = %v, want %v", info.ByReason, want)
	}
}
