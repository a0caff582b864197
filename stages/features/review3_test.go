package features

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"coderflow/datasets/table"
	"coderflow/internal/imgalpha"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/features/descriptor"
)

// TestNonInterleavedJPEGCutBetweenScans: a sequential JPEG may code its
// components in separate scans (Y, then Cb, then Cr: libjpeg's scan
// scripts, some scanners and encoders). Cut between two scans, image/jpeg
// stops at EOF; the end-marker repair of TestJPEGWithoutEndMarker then
// decoded it without error, and image/jpeg returned the missing planes as
// zeros: a yellow disc came out green (Cb = Cr = 0), silently wrong
// features. Only a file whose scans cover every component is repaired.
// testdata/noninterleaved.jpg was made once with libjpeg-turbo's cjpeg:
//
//	convert yellow-disc.jpg -resize 48x36 in.ppm
//	printf '0;\n1;\n2;\n' > scans.txt
//	cjpeg -quality 85 -scans scans.txt in.ppm > noninterleaved.jpg
func TestNonInterleavedJPEGCutBetweenScans(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "noninterleaved.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(data []byte) string {
		p := filepath.Join(dir, "cut.jpg")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want, err := load(write(full), 1<<20, nil)
	if err != nil {
		t.Fatalf("the whole file: %v", err)
	}
	// Markers after the first scan's header: the DHT and SOS segments of
	// the later scans, and the end marker.
	var sos, cuts []int
	for i := 0; i+1 < len(full); i++ {
		if full[i] != 0xFF {
			continue
		}
		switch m := full[i+1]; {
		case m == 0xDA:
			sos = append(sos, i)
			if len(sos) > 1 {
				cuts = append(cuts, i)
			}
		case m == 0xC4 && len(sos) > 0:
			cuts = append(cuts, i)
		case m == 0xC2:
			t.Fatal("testdata/noninterleaved.jpg is progressive")
		}
	}
	if len(sos) != 3 || !(full[len(full)-2] == 0xFF && full[len(full)-1] == 0xD9) {
		t.Fatalf("%d scans, want 3 (one per component) and an end marker", len(sos))
	}
	for _, cut := range cuts {
		for _, n := range []int{cut, cut + 1} { // at a marker, and inside its FF xx
			_, err := load(write(full[:n]), 1<<20, nil)
			var le *loadError
			if !errors.As(err, &le) || le.reason != ReasonCorrupt {
				t.Errorf("cut at byte %d of %d (before the scans that follow): err = %v, want reason %s", n, len(full), err, ReasonCorrupt)
			}
		}
	}
	// Only the end marker missing: every scan is there, so it is repaired.
	got, err := load(write(full[:len(full)-2]), 1<<20, nil)
	if err != nil {
		t.Fatalf("without the end marker: %v", err)
	}
	b := want.img.Bounds()
	if got.img.Bounds() != b {
		t.Fatalf("bounds %v, want %v", got.img.Bounds(), b)
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if got.img.At(x, y) != want.img.At(x, y) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got.img.At(x, y), want.img.At(x, y))
			}
		}
	}
}

// TestCancelMidShardResumeSameFeatures: a run cancelled while it computes
// its second shard, then resumed, holds every image exactly once, in
// images-table order, with features bit-identical to one uninterrupted run
// with another worker count and other shard and row-group boundaries; the
// failures of the mixed inputs (an empty file, a text file) are counted
// once. Inputs: every decodable fixture (PNG grey+alpha, palette+alpha,
// 16-bit, RGBA; GIF; JPEG baseline, progressive, non-interleaved, CMYK,
// EXIF-rotated; WebP; thin strips) and two bad files, repeated.
func TestCancelMidShardResumeSameFeatures(t *testing.T) {
	names := []string{"red-disc.png", "blue-square-alpha.png", "green-triangle.gif", "yellow-disc.jpg",
		"rotated-exif6.jpg", "png-named.jpg", "red-disc.webp", "gray-alpha.png", "palette-alpha.png", "red16.png",
		"cmyk-red.jpg", "progressive.jpg", "noninterleaved.jpg", "thin-1x500.png", "strip-2000x4.png",
		"empty.jpg", "notes.jpg"}
	var paths []string
	for _, n := range names {
		p, err := filepath.Abs(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	const repeat = 18
	in := imagesArtifact(t, paths, repeat)
	total := len(paths) * repeat
	base := map[string]any{"short_side": 32, "max_fail_fraction": 0.5}
	with := func(kv ...any) map[string]any {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	ref := readFeatures(t, pipelinetest.RunStage(t, &Spec, with("workers", 1), in))

	out := filepath.Join(t.TempDir(), "artifact")
	raw := with("workers", 2, "shard_rows", 150, "row_group_rows", 7)
	ctx, cancel := context.WithCancel(t.Context())
	stop := make(chan struct{})
	go func() { // cancel once shard 0 is committed (its sidecar is written just before)
		defer cancel()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := os.Stat(filepath.Join(out, "features", "part-00000.json")); err == nil {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	_, err := pipeline.RunStandalone(ctx, &Spec, "features", raw, []*pipeline.Artifact{in}, out, nil)
	close(stop)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	_, err1 := os.Stat(filepath.Join(out, "features", "part-00001.parquet"))
	t.Logf("cancelled run: err %v; shard 1 written: %v", err, err1 == nil)

	a, err := pipeline.RunStandalone(t.Context(), &Spec, "features", raw, []*pipeline.Artifact{in}, out, nil)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	got := readFeatures(t, a)
	if len(got) != len(ref) || a.TableRows(table.Features) != int64(len(ref)) {
		t.Fatalf("resumed: %d rows (manifest %d), uninterrupted: %d", len(got), a.TableRows(table.Features), len(ref))
	}
	for i := range got {
		if got[i].ImageID != ref[i].ImageID {
			t.Fatalf("row %d: image %d, want %d", i, got[i].ImageID, ref[i].ImageID)
		}
		if !slices.Equal(got[i].Feats, ref[i].Feats) || !slices.Equal(got[i].Boxes, ref[i].Boxes) {
			t.Fatalf("image %d (%s): features differ from the uninterrupted run", got[i].ImageID, names[got[i].ImageID%int64(len(names))])
		}
	}
	if want := total - 2*repeat; len(got) != want {
		t.Fatalf("%d rows, want %d", len(got), want)
	}
	if f := fmt.Sprint(a.Manifest.Info["failed"]); f != fmt.Sprint(2*repeat) {
		t.Errorf("failed = %s, want %d (each bad file once per repeat)", f, 2*repeat)
	}
}

// TestTruncatedBodyRefusedBeforeDecoding: a file whose header declares an
// image within max_pixels but which is far too short to hold it (a
// download cut after its header, or a crafted file) is refused as
// truncated before decoding. The decoders allocate the whole image (a
// progressive JPEG its coefficients too) when the pixel data begins, so a
// 48-byte PNG declaring 7000x7000 at 16 bits made a worker allocate 392 MB,
// a 250-byte progressive JPEG 368 MB, before failing as corrupt. Complete
// files near the bound (flat images, maximally compressed) still decode.
func TestTruncatedBodyRefusedBeforeDecoding(t *testing.T) {
	const side = 7000 // 49 Mpx, under the default max_pixels
	pngChunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(append(b, typ...), data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, side), side)
	ihdr = append(ihdr, 16, 6, 0, 0, 0) // 16-bit RGBA
	png16 := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	png16 = append(png16, pngChunk("IDAT", []byte{0x78, 0x9c, 0x62})...)

	// A JPEG's frame resized to side x side and cut after its first scan header.
	jpegCut := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		b = slices.Clone(b)
		for i := 2; i+9 < len(b); {
			m, n := b[i+1], int(b[i+2])<<8|int(b[i+3])
			if m >= 0xC0 && m <= 0xC2 {
				binary.BigEndian.PutUint16(b[i+5:], side)
				binary.BigEndian.PutUint16(b[i+7:], side)
			}
			if m == 0xDA {
				return b[:i+2+n+4]
			}
			i += 2 + n
		}
		t.Fatalf("%s: no scan", name)
		return nil
	}
	// A 24-bit BMP header without its rows.
	bmpHdr := make([]byte, 54)
	copy(bmpHdr, "BM")
	binary.LittleEndian.PutUint32(bmpHdr[10:], 54)
	binary.LittleEndian.PutUint32(bmpHdr[14:], 40)
	binary.LittleEndian.PutUint32(bmpHdr[18:], side)
	binary.LittleEndian.PutUint32(bmpHdr[22:], side)
	binary.LittleEndian.PutUint16(bmpHdr[26:], 1)
	binary.LittleEndian.PutUint16(bmpHdr[28:], 24)

	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"rgba16.png":      png16,
		"progressive.jpg": jpegCut("progressive.jpg"),
		"baseline.jpg":    jpegCut("yellow-disc.jpg"),
		"cmyk.jpg":        jpegCut("cmyk-red.jpg"),
		"rgb.bmp":         bmpHdr,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, err := load(p, 50_000_000, nil)
		runtime.ReadMemStats(&m1)
		var le *loadError
		if !errors.As(err, &le) || le.reason != ReasonCorrupt || !strings.Contains(le.msg, "truncated") {
			t.Errorf("%s (%d bytes, %dx%d): err = %v, want reason %s saying truncated", name, len(data), side, side, err, ReasonCorrupt)
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 16<<20 {
			t.Errorf("%s (%d bytes): load allocated %d MB", name, len(data), a>>20)
		}
	}

	// Flat images, as small as their encoders make them, are above the bound.
	flat := image.NewGray(image.Rect(0, 0, 1200, 900))
	var pb, jb, bb bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&pb, flat); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jb, image.NewRGBA(flat.Rect), &jpeg.Options{Quality: 1}); err != nil {
		t.Fatal(err)
	}
	pal := image.NewPaletted(flat.Rect, color.Palette{color.Black, color.White})
	if err := bmp.Encode(&bb, pal); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"flat.png": pb.Bytes(), "flat.jpg": jb.Bytes(), "flat.bmp": bb.Bytes()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := load(p, 50_000_000, nil); err != nil {
			t.Errorf("%s (%d bytes): %v", name, len(data), err)
		}
	}
}

// TestPathsThatAreNotImageFiles: what an image folder may hold under an
// image's name besides an image: a directory, a symlink to one, a dangling
// or looping symlink, a file without read permission. Each is a counted
// skip whose error names the path; a symlink to an image is the image.
func TestPathsThatAreNotImageFiles(t *testing.T) {
	dir := t.TempDir()
	img, err := filepath.Abs(filepath.Join("testdata", "red-disc.png"))
	if err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(p("dir.jpg"), 0o755))
	must(os.Symlink(p("dir.jpg"), p("link-to-dir.jpg")))
	must(os.Symlink(p("nowhere.jpg"), p("dangling.jpg")))
	must(os.Symlink(p("loop-b.jpg"), p("loop-a.jpg")))
	must(os.Symlink(p("loop-a.jpg"), p("loop-b.jpg")))
	must(os.Symlink(img, p("link-to-image.png")))
	b, err := os.ReadFile(img)
	must(err)
	must(os.WriteFile(p("locked.png"), b, 0o000))
	_, lockedErr := os.ReadFile(p("locked.png")) // root reads it anyway

	for _, tc := range []struct {
		name, reason string
	}{
		{"dir.jpg", ReasonUnreadable},
		{"link-to-dir.jpg", ReasonUnreadable},
		{"dangling.jpg", ReasonMissing},
		{"loop-a.jpg", ReasonUnreadable},
		{"link-to-image.png", ""},
		{"locked.png", ReasonUnreadable},
	} {
		if tc.name == "locked.png" && lockedErr == nil {
			t.Logf("locked.png: readable without permission (running as root): case skipped")
			continue
		}
		d, err := load(p(tc.name), 1<<20, nil)
		if tc.reason == "" {
			if err != nil || d.img.Bounds().Dx() != 160 {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var le *loadError
		if !errors.As(err, &le) || le.reason != tc.reason || !strings.Contains(le.msg, p(tc.name)) {
			t.Errorf("%s: err = %v, want reason %s naming the path", tc.name, err, tc.reason)
		}
	}
}

// TestBMPWithZeroAlphaIsOpaque: a 32-bit BMP with a V4 or V5 header whose
// fourth bytes are all zero (writers that leave the "unused" byte alone)
// was decoded by x/image/bmp as fully transparent, so the stage described
// a black image; browsers show it opaque, and so does the stage now. A BMP
// with real alpha keeps it (composited on black, like PNG).
func TestBMPWithZeroAlphaIsOpaque(t *testing.T) {
	const w, h = 8, 6
	bmp32 := func(infoLen, compression uint32, alpha byte) []byte {
		return imgalpha.BMP32(w, h, infoLen, compression, [4]byte{40, 30, 220, alpha}) // B, G, R, A: red
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		data  []byte
		red   uint32 // 8-bit red of the decoded, composited pixel
		alpha uint32
	}{
		{"v4-bitfields-zero-alpha.bmp", bmp32(108, 3, 0), 220, 255},
		{"v5-rgb-zero-alpha.bmp", bmp32(124, 0, 0), 220, 255},
		{"v5-rgb-half-alpha.bmp", bmp32(124, 0, 128), 110, 128},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := load(p, 1<<20, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r, _, _, a := d.img.At(3, 3).RGBA() // premultiplied: composited on black
		if r>>8 != tc.red || a>>8 != tc.alpha {
			t.Errorf("%s: pixel %v: red %d alpha %d on black, want red %d alpha %d", tc.name, d.img.At(3, 3), r>>8, a>>8, tc.red, tc.alpha)
		}
	}
}

// adobeCMYKJPEG encodes a baseline JPEG of flat 8x8 blocks in four
// components with Adobe's APP14 marker, transform 0 (plain CMYK, stored
// inverted: 255 is no ink), the other Adobe layout: image/jpeg encodes
// no CMYK and ImageMagick writes YCCK (transform 2, cmyk-red.jpg). blocks
// are the blocks' ink, left to right, as C, M, Y, K.
func adobeCMYKJPEG(blocks [][4]uint8) []byte {
	seg := func(marker byte, body ...byte) []byte {
		return append([]byte{0xFF, marker, byte((len(body) + 2) >> 8), byte(len(body) + 2)}, body...)
	}
	out := []byte{0xFF, 0xD8}
	out = append(out, seg(0xEE, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, 0)...)...)
	out = append(out, seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...)...) // all quantisers 1
	sof := []byte{8, 0, 8, byte(8 * len(blocks) >> 8), byte(8 * len(blocks)), 4}
	for c := range 4 {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	out = append(out, seg(0xC0, sof...)...)
	dc := append([]byte{0x00}, make([]byte, 16)...) // DC table 0: categories 0-11, 4-bit codes
	dc[4] = 12
	for s := range 12 {
		dc = append(dc, byte(s))
	}
	out = append(out, seg(0xC4, dc...)...)
	ac := append([]byte{0x10}, make([]byte, 16)...) // AC table 0: end-of-block only, code "0"
	ac[1] = 1
	out = append(out, seg(0xC4, append(ac, 0x00)...)...)
	out = append(out, seg(0xDA, 4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0)...)
	var acc uint32
	var n uint
	var data []byte
	put := func(v uint32, bits uint) {
		for i := int(bits) - 1; i >= 0; i-- {
			acc = acc<<1 | v>>uint(i)&1
			if n++; n == 8 {
				data = append(data, byte(acc))
				if byte(acc) == 0xFF {
					data = append(data, 0)
				}
				acc, n = 0, 0
			}
		}
	}
	var pred [4]int
	for _, b := range blocks {
		for c := range 4 {
			d := 8 * (int(255-b[c]) - 128) // flat block: DC = 8 x (stored value - 128)
			diff := d - pred[c]
			pred[c] = d
			cat := uint(0)
			for a := max(diff, -diff); a > 0; a >>= 1 {
				cat++
			}
			put(uint32(cat), 4)
			if diff < 0 {
				diff += 1<<cat - 1
			}
			put(uint32(diff), cat)
			put(0, 1) // end of block
		}
	}
	for n != 0 {
		put(1, 1)
	}
	return append(append(out, data...), 0xFF, 0xD9)
}

// TestAdobeCMYKJPEG: a plain CMYK JPEG (Adobe transform 0) decodes to its
// colours, ink inverted as Adobe stores it: red stays red, blue stays blue.
func TestAdobeCMYKJPEG(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cmyk.jpg")
	if err := os.WriteFile(p, adobeCMYKJPEG([][4]uint8{{0, 255, 255, 0}, {255, 255, 0, 0}, {0, 0, 0, 255}}), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := load(p, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.img.(*image.CMYK); !ok {
		t.Fatalf("decoded as %T, want *image.CMYK", d.img)
	}
	for i, want := range []color.RGBA{{255, 0, 0, 255}, {0, 0, 255, 255}, {0, 0, 0, 255}} {
		r, g, b, _ := d.img.At(8*i+4, 4).RGBA()
		got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
		for c, w := range [3]uint8{want.R, want.G, want.B} {
			if got[c] < int(w)-2 || got[c] > int(w)+2 {
				t.Errorf("block %d: RGB %v, want %v", i, got, want)
				break
			}
		}
	}
}

// FuzzLoad: whatever the bytes, and whatever their extension, load
// returns an image within max_pixels or a *loadError with a reason, and
// the image resizes and describes without panicking. The seeds are the
// decodable fixtures of testdata/ and the inputs of this file; go test runs
// only the seeds (go test -fuzz FuzzLoad explores).
func FuzzLoad(f *testing.F) {
	for _, n := range []string{"red-disc.png", "green-triangle.gif", "yellow-disc.jpg", "rotated-exif6.jpg",
		"red-disc.webp", "palette-alpha.png", "red16.png", "cmyk-red.jpg", "progressive.jpg", "noninterleaved.jpg",
		"thin-1x500.png"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Ext(n))
	}
	f.Add(adobeCMYKJPEG([][4]uint8{{0, 255, 255, 0}}), ".jpg")
	var bb bytes.Buffer
	if err := bmp.Encode(&bb, image.NewRGBA(image.Rect(0, 0, 5, 3))); err != nil {
		f.Fatal(err)
	}
	f.Add(bb.Bytes(), ".bmp")
	const maxPixels = 1 << 20
	ex, err := descriptor.NewExtractor(descriptor.Config{Parts: descriptor.Parts, Regions: descriptor.MaxRegions})
	if err != nil {
		f.Fatal(err)
	}
	rs, err := newResizer("approxbilinear")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, ext string) {
		if len(ext) > 8 || strings.ContainsAny(ext, "/\\\x00") {
			return
		}
		p := filepath.Join(t.TempDir(), "img"+ext)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := load(p, maxPixels, nil)
		if err != nil {
			var le *loadError
			if !errors.As(err, &le) || le.reason == "" || !strings.Contains(le.msg, p) {
				t.Fatalf("err %v: want a *loadError with a reason, naming the file", err)
			}
			return
		}
		b := d.img.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > maxPixels {
			t.Fatalf("decoded bounds %v beyond max_pixels %d", b, maxPixels)
		}
		tw, th := targetSize(b.Dx(), b.Dy(), 32)
		_, feats := ex.Image(rs.resize(d.img, tw, th), nil, nil)
		for _, v := range feats {
			if v != v {
				t.Fatal("NaN in the descriptor")
			}
		}
	})
}

// TestAnimatedGIFFirstFrame: an animated GIF is described by its first
// frame (as PIL and a still thumbnail show it), not its last or a blend.
func TestAnimatedGIFFirstFrame(t *testing.T) {
	pal := color.Palette{color.RGBA{220, 30, 30, 255}, color.RGBA{30, 30, 220, 255}}
	var frames []*image.Paletted
	for i := range 3 {
		m := image.NewPaletted(image.Rect(0, 0, 30, 20), pal)
		for j := range m.Pix {
			m.Pix[j] = uint8(min(i, 1)) // red, then blue
		}
		frames = append(frames, m)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 10, 10}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "anim.gif")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := load(p, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, _, bl, _ := d.img.At(15, 10).RGBA(); r>>8 != 220 || bl>>8 != 30 {
		t.Fatalf("pixel %v, want the first frame's red", d.img.At(15, 10))
	}
}

// TestFileRowsDamagedFooter: fileRows (the resume check of a shard) reads a
// shard's footer; a damaged footer length made parquet-go allocate it (up
// to 4 GB; list counts in the footer up to 2^31-1 elements, a fatal out of
// memory) before failing. The footer is checked first now.
func TestFileRowsDamagedFooter(t *testing.T) {
	p := filepath.Join(t.TempDir(), "part-00000.parquet")
	b := append([]byte("PAR1"), make([]byte, 64)...)
	b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFF0) // footer length: about 4 GB
	b = append(b, "PAR1"...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := fileRows(p)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want an error naming %s", err, p)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("fileRows allocated %d MB for a %d-byte file", d>>20, len(b))
	}
}
