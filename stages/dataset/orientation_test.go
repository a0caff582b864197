package dataset

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

var updateFixtures = flag.Bool("update-fixtures", false, "regenerate the testdata/ orientation fixtures")

// Every orientation fixture stores 6 x 4 pixels.
const fixW, fixH = 6, 4

// orientFixtures lists testdata/: each file's EXIF orientation as
// jpegOrientation must read it and the displayed size the images table must
// record.
var orientFixtures = []struct {
	name   string
	orient int
	w, h   int
	make   func() []byte // the file's bytes (TestGenerateOrientationFixtures)
}{
	{"orientation-1.jpg", 1, 6, 4, func() []byte { return withAPP1(exifLE(ifdEntry{0x0112, 1})) }},
	{"orientation-3.jpg", 3, 6, 4, func() []byte { return withAPP1(exifLE(ifdEntry{0x0112, 3})) }},
	{"orientation-6.jpg", 6, 4, 6, func() []byte { return withAPP1(exifLE(ifdEntry{0x0112, 6})) }},
	{"orientation-8.jpg", 8, 4, 6, func() []byte { return withAPP1(exifBE(ifdEntry{0x0112, 8})) }},
	// As cameras write it: a JFIF APP0 first, the orientation after other tags.
	{"orientation-6-jfif.jpg", 6, 4, 6, func() []byte {
		return withSegments(jfifAPP0(), app1(exifBE(ifdEntry{0x010F, 0}, ifdEntry{0x0110, 0}, ifdEntry{0x0112, 6})))
	}},
	{"no-exif.jpg", 1, 6, 4, func() []byte { return baseJPEG() }},
	// Malformed EXIF: orientation 1 (as stored), and the image is kept.
	// IFD0 declares 200 entries; the segment holds one, and the walk runs
	// off the end of the file.
	{"exif-truncated-ifd.jpg", 1, 6, 4, func() []byte {
		b := exifLE(ifdEntry{0x010F, 0})
		binary.LittleEndian.PutUint16(b[14:], 200)
		return withAPP1(b)
	}},
	// The APP1 segment ends inside the TIFF header.
	{"exif-cut-header.jpg", 1, 6, 4, func() []byte { return withAPP1([]byte("Exif\x00\x00II")) }},
	// IFD0 offset far past the end of the file.
	{"exif-bad-offset.jpg", 1, 6, 4, func() []byte {
		b := exifLE(ifdEntry{0x0112, 6})
		binary.LittleEndian.PutUint32(b[10:], 0xFFFFFF00)
		return withAPP1(b)
	}},
	{"exif-bad-byte-order.jpg", 1, 6, 4, func() []byte {
		b := exifLE(ifdEntry{0x0112, 6})
		copy(b[6:], "XX")
		return withAPP1(b)
	}},
	{"exif-bad-value.jpg", 1, 6, 4, func() []byte { return withAPP1(exifLE(ifdEntry{0x0112, 9})) }},
	// An XMP APP1 before the EXIF one: imaging reads the first APP1 only,
	// so features.regions does not rotate this image, and the table
	// records it as stored too.
	{"xmp-before-exif.jpg", 1, 6, 4, func() []byte {
		return withSegments(app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")), app1(exifLE(ifdEntry{0x0112, 6})))
	}},
}

// baseJPEG is a 6 x 4 JPEG (a gradient) without any APPn segment.
func baseJPEG() []byte {
	m := image.NewNRGBA(image.Rect(0, 0, fixW, fixH))
	for y := range fixH {
		for x := range fixW {
			m.SetNRGBA(x, y, color.NRGBA{uint8(40 * x), uint8(60 * y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

type ifdEntry struct{ tag, value uint16 }

// exifTIFF returns an APP1 payload: "Exif\0\0", a TIFF header and IFD0 with
// entries of type SHORT, count 1.
func exifTIFF(o binary.ByteOrder, mark string, entries ...ifdEntry) []byte {
	var b bytes.Buffer
	b.WriteString("Exif\x00\x00" + mark)
	binary.Write(&b, o, uint16(42))
	binary.Write(&b, o, uint32(8)) // IFD0 right after the header
	binary.Write(&b, o, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, o, []uint16{e.tag, 3})
		binary.Write(&b, o, uint32(1))
		binary.Write(&b, o, []uint16{e.value, 0}) // a SHORT is left-justified in the value field
	}
	binary.Write(&b, o, uint32(0)) // no next IFD
	return b.Bytes()
}

func exifLE(e ...ifdEntry) []byte { return exifTIFF(binary.LittleEndian, "II", e...) }
func exifBE(e ...ifdEntry) []byte { return exifTIFF(binary.BigEndian, "MM", e...) }

// app1 wraps payload in an APP1 marker segment.
func app1(payload []byte) []byte {
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// jfifAPP0 is a JFIF 1.01 APP0 segment, 1:1 aspect, no thumbnail.
func jfifAPP0() []byte {
	return []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
}

// withSegments inserts segments right after the SOI marker of baseJPEG.
func withSegments(segs ...[]byte) []byte {
	base := baseJPEG()
	out := append([]byte{}, base[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, base[2:]...)
}

func withAPP1(payload []byte) []byte { return withSegments(app1(payload)) }

// TestGenerateOrientationFixtures rewrites testdata/ when run with
// -update-fixtures.
func TestGenerateOrientationFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to regenerate testdata/")
	}
	os.MkdirAll("testdata", 0o755)
	for _, f := range orientFixtures {
		if err := os.WriteFile(filepath.Join("testdata", f.name), f.make(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadDimsOrientation: the images table records the displayed size of
// a JPEG (EXIF orientation 5-8 swaps width and height), and a malformed
// EXIF block means orientation 1, never a failed image.
func TestReadDimsOrientation(t *testing.T) {
	t.Parallel()
	for _, f := range orientFixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join("testdata", f.name)
			fh, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			if o := jpegOrientation(fh); o != f.orient {
				t.Errorf("orientation %d, want %d", o, f.orient)
			}
			d := readDims(p)
			if d.err != nil || d.w != f.w || d.h != f.h {
				t.Errorf("readDims = %dx%d (err %v), want %dx%d", d.w, d.h, d.err, f.w, f.h)
			}
		})
	}
}

// TestOrientationMatchesImaging: the recorded size is the size of the image
// features.regions and the evaluate report compute on, which decode with
// imaging.AutoOrientation(true).
func TestOrientationMatchesImaging(t *testing.T) {
	t.Parallel()
	for _, f := range orientFixtures {
		p := filepath.Join("testdata", f.name)
		img, err := imaging.Open(p, imaging.AutoOrientation(true))
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		d := readDims(p)
		if b := img.Bounds(); d.w != b.Dx() || d.h != b.Dy() {
			t.Errorf("%s: table size %dx%d, imaging decodes %dx%d", f.name, d.w, d.h, b.Dx(), b.Dy())
		}
	}
}

// FuzzOrientationMatchesImaging puts arbitrary bytes in the first APP1
// segment of a small JPEG: jpegOrientation must not panic, and whenever
// imaging decodes the file, the size recorded must be the size it decodes.
// Files stay under exifScanLimit, the one place the two may differ.
func FuzzOrientationMatchesImaging(f *testing.F) {
	for _, fx := range orientFixtures {
		f.Add(fx.make())
	}
	f.Add(exifLE(ifdEntry{0x0112, 5}))
	f.Add(exifBE(ifdEntry{0x0112, 7}))
	base := baseJPEG()
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > 32<<10 {
			return
		}
		var file []byte
		if bytes.HasPrefix(payload, []byte{0xFF, 0xD8}) {
			file = payload // a whole file, as the seeds are
		} else {
			file = append(append(append([]byte{}, base[:2]...), app1(payload)...), base[2:]...)
		}
		o := jpegOrientation(bytes.NewReader(file))
		if o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(file))
		if err != nil {
			return
		}
		img, err := imaging.Decode(bytes.NewReader(file), imaging.AutoOrientation(true))
		if err != nil {
			return
		}
		w, h := cfg.Width, cfg.Height
		if swapsAxes(o) {
			w, h = h, w
		}
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Fatalf("orientation %d gives %dx%d, imaging decodes %dx%d", o, w, h, b.Dx(), b.Dy())
		}
	})
}

// TestReadersRecordDisplayedSize runs dataset.flickr8k and dataset.f30k on
// the orientation fixtures and checks the width and height of every row.
func TestReadersRecordDisplayedSize(t *testing.T) {
	t.Parallel()
	want := map[string][2]int32{}
	var names []string
	for _, f := range orientFixtures {
		want[f.name] = [2]int32{int32(f.w), int32(f.h)}
		names = append(names, f.name)
	}
	copyFixtures := func(t *testing.T, dir string) {
		t.Helper()
		os.MkdirAll(dir, 0o755)
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join("testdata", n))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, n), b, 0o644)
		}
	}
	check := func(t *testing.T, rows []table.ImageRow, key func(string) string) {
		t.Helper()
		if len(rows) != len(names) {
			t.Fatalf("%d images, want %d", len(rows), len(names))
		}
		for _, r := range rows {
			w, ok := want[key(r.Key)]
			if !ok {
				t.Errorf("unexpected row %+v", r)
			} else if r.Width != w[0] || r.Height != w[1] {
				t.Errorf("%s: width x height %dx%d, want %dx%d", r.Key, r.Width, r.Height, w[0], w[1])
			}
		}
	}
	t.Run("flickr8k", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		copyFixtures(t, filepath.Join(root, "Flicker8k_Dataset"))
		var tok strings.Builder
		for _, n := range names {
			for k := range 5 {
				fmt.Fprintf(&tok, "%s#%d\ta caption %d .\n", n, k, k)
			}
		}
		txt := filepath.Join(root, "Flickr8k_text")
		os.MkdirAll(txt, 0o755)
		os.WriteFile(filepath.Join(txt, "Flickr8k.token.txt"), []byte(tok.String()), 0o644)
		os.WriteFile(filepath.Join(txt, "Flickr_8k.trainImages.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
		os.WriteFile(filepath.Join(txt, "Flickr_8k.devImages.txt"), nil, 0o644)
		os.WriteFile(filepath.Join(txt, "Flickr_8k.testImages.txt"), nil, 0o644)
		a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{"source": "dir:" + root})
		files, _ := a.Table(table.Images)
		rows, err := table.ReadAll[table.ImageRow](t.Context(), files...)
		if err != nil {
			t.Fatal(err)
		}
		check(t, rows, func(k string) string { return k })
		if iss, _ := diskInfo(t, a)["issues"].(map[string]any); len(iss) != 0 {
			t.Errorf("issues: %v (a malformed EXIF block must not skip the image)", iss)
		}
	})
	t.Run("f30k", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		copyFixtures(t, filepath.Join(root, "flickr30k-images"))
		var ims []kImage
		for i, n := range names {
			ims = append(ims, kImage{Filename: n, ImgID: i, Split: "train", Sentences: sentences(n, 5)})
		}
		b, err := json.Marshal(map[string]any{"images": ims, "dataset": "flickr30k"})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, "dataset_flickr30k.json"), b, 0o644)
		a := pipelinetest.RunStage(t, &F30KSpec, map[string]any{"source": "dir:" + root})
		files, _ := a.Table(table.Images)
		rows, err := table.ReadAll[table.ImageRow](t.Context(), files...)
		if err != nil {
			t.Fatal(err)
		}
		check(t, rows, func(k string) string { return filepath.Base(k) })
	})
}
