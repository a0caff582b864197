package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"coderflow/datasets/table"
	"coderflow/internal/testenv"
	"coderflow/pipeline/pipelinetest"
)

// bigPNGs writes n distinct w x h RGBA PNGs (4 bytes a pixel decoded, a
// few hundred KB on disk) and returns their paths.
func bigPNGs(t testing.TB, n, w, h int) []string {
	t.Helper()
	dir := t.TempDir()
	var ps []string
	for i := range n {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				o := m.PixOffset(x, y)
				m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = uint8(x*(i+1)/8), uint8(y*(i+2)/8), uint8((x^y)>>(i%3)), 0xFF
			}
		}
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("big-%d.png", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// shardBytes returns the contents of the artifact's feature shards, in order.
func shardBytes(t testing.TB, files []string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodeBudgetBoundsBytesInFlight runs 8 workers on images whose
// decodes need about 9 MB each, and one needing about 27 MB, under
// decode_memory 20: the decodes in flight must never hold more than the
// budget together, the big one must decode alone, and the shards must be
// byte-identical to those of an unbounded run (1 worker and 8 workers with
// a budget far above the data). The old stage had no budget: its 8
// workers decoded 8 images at once.
func TestDecodeBudgetBoundsBytesInFlight(t *testing.T) {
	paths := append(bigPNGs(t, 4, 1500, 1500), bigPNGs(t, 1, 2600, 2600)...)
	paths = append(paths, fixturePaths(t)[:7]...)
	in := imagesArtifact(t, paths, 2)
	const budgetMB = 20
	var (
		mu       sync.Mutex
		maxMulti int64 // most bytes in flight with more than one decode
		maxAlone int64 // largest estimate decoded alone
		multi    int   // acquisitions that found another decode in flight
	)
	budgetHook = func(b *decodeBudget, inFlight int64, n int) {
		if b.size != budgetMB<<20 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if n > 1 {
			maxMulti = max(maxMulti, inFlight)
			multi++
		} else {
			maxAlone = max(maxAlone, inFlight)
		}
	}
	t.Cleanup(func() { budgetHook = nil })

	var want [][]byte
	for _, params := range []map[string]any{
		{"workers": 1, "decode_memory": 1 << 20, "shard_rows": 10, "row_group_rows": 3},
		{"workers": 8, "decode_memory": 1 << 20, "shard_rows": 10, "row_group_rows": 3},
		{"workers": 8, "decode_memory": budgetMB, "shard_rows": 10, "row_group_rows": 3},
		{"workers": 3, "decode_memory": 1, "shard_rows": 10, "row_group_rows": 3},
	} {
		a := pipelinetest.RunStage(t, &Spec, params, in)
		if got := a.TableRows(table.Features); got != int64(len(paths)*2) {
			t.Fatalf("%v: %d rows, want %d", params, got, len(paths)*2)
		}
		files, _ := a.Table(table.Features)
		got := shardBytes(t, files)
		if want == nil {
			want = got
			continue
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d shards, want %d", params, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%v: %s differs from the 1-worker unbounded run", params, filepath.Base(files[i]))
			}
		}
	}
	t.Logf("budget %d MB: at most %d bytes in flight over %d concurrent acquisitions; largest alone %d", budgetMB, maxMulti, multi, maxAlone)
	if maxMulti > budgetMB<<20 {
		t.Errorf("decodes in flight held %d bytes together, above decode_memory %d MB", maxMulti, budgetMB)
	}
	if maxAlone < budgetMB<<20 {
		t.Errorf("the 2600x2600 image (about 27 MB) was not decoded alone: largest lone estimate %d", maxAlone)
	}
}

// TestDecodeBudgetBoundsPeakHeap measures the live heap's growth while 8
// workers decode 16 images of about 9 MB (2.25 MP RGBA) each: with
// decode_memory 20 at most two are decoded at once, so the growth must stay
// well below what 8 concurrent decodes take (about 72 MB), which the
// unbounded run (decode_memory far above the data, as the old stage)
// shows. The comparison asserts no timing, only bytes.
func TestDecodeBudgetBoundsPeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	in := imagesArtifact(t, bigPNGs(t, 4, 1500, 1500), 4)
	grow := func(mb int) uint64 {
		return testenv.HeapGrowth(func() {
			pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 8, "decode_memory": mb}, in)
		})
	}
	bounded := grow(20)
	unbounded := grow(1 << 20)
	const decode = 4 * 1500 * 1500
	t.Logf("live heap growth: %d MB with decode_memory 20, %d MB unbounded (8 decodes = %d MB)", bounded>>20, unbounded>>20, 8*decode>>20)
	if bounded > 5*decode {
		t.Errorf("with decode_memory 20 the live heap grew by %d MB, more than 5 decodes (%d MB): the budget does not bound the decodes", bounded>>20, 5*decode>>20)
	}
}

// TestDecodeBudgetWaits: a decode waits while the budget is taken, a
// cancelled wait returns the context's error and leaves nothing acquired,
// and an estimate above the whole budget is served alone instead of
// waiting for ever.
func TestDecodeBudgetWaits(t *testing.T) {
	b := newDecodeBudget(100)
	rel1, err := b.acquire(t.Context(), 60)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := b.acquire(ctx, 50) // 60 + 50 > 100: waits
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: err %v, want context.Canceled", err)
	}
	rel1()
	rel1() // a second release is a no-op
	got := make(chan func(), 1)
	go func() {
		rel, err := b.acquire(t.Context(), 1000) // above the budget: alone
		if err != nil {
			t.Error(err)
		}
		got <- rel
	}()
	rel := <-got
	if b.sem.TryAcquire(1) {
		t.Fatal("an over-budget decode left room for another")
	}
	rel()
	if !b.sem.TryAcquire(100) {
		t.Fatal("the budget was not given back whole")
	}
	var nilBudget *decodeBudget
	if r, err := nilBudget.acquire(t.Context(), 1<<40); err != nil || r == nil {
		t.Fatalf("nil budget: %v", err)
	}
}

// TestDecodeBytesCoversDecoders decodes generated images of each format
// and colour model that Go's encoders write and requires the bytes the
// decode allocates (runtime.MemStats.TotalAlloc, an upper bound of what it
// holds) to stay within decodeBytes's estimate plus 256 KB of buffers.
func TestDecodeBytesCoversDecoders(t *testing.T) {
	const w, h = 1200, 900
	gray := image.NewGray(image.Rect(0, 0, w, h))
	rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.RGBA{200, 0, 0, 255}})
	g16 := image.NewGray16(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8((x*7 + y*3) ^ (x * y >> 6))
			gray.Pix[y*gray.Stride+x] = v
			o := rgba.PixOffset(x, y)
			rgba.Pix[o], rgba.Pix[o+1], rgba.Pix[o+2], rgba.Pix[o+3] = v, uint8(x), uint8(y), 0xFF
			pal.Pix[y*pal.Stride+x] = v % 3
			g16.SetGray16(x, y, color.Gray16{Y: uint16(v) << 8})
		}
	}
	dir := t.TempDir()
	var src string // the RGBA PNG, the source of the ImageMagick conversions
	for _, tc := range encodeCases(gray, rgba, pal, g16) {
		var buf bytes.Buffer
		if err := tc.enc(&buf); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if tc.name == "rgba.png" {
			src = p
		}
		t.Run(tc.name, func(t *testing.T) { checkDecodeBytes(t, p) })
	}
	// What Go cannot write: progressive, 4:4:4, CMYK and EXIF-rotated
	// JPEGs, interlaced PNGs, WebP.
	convert, err := exec.LookPath("convert")
	if err != nil {
		t.Logf("ImageMagick convert not installed: progressive JPEG, interlaced PNG and WebP cases skipped")
		return
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"progressive.jpg", []string{"-interlace", "JPEG"}},
		{"progressive444.jpg", []string{"-interlace", "JPEG", "-sampling-factor", "1x1"}},
		{"cmyk.jpg", []string{"-colorspace", "CMYK"}},
		{"progressive-cmyk.jpg", []string{"-colorspace", "CMYK", "-interlace", "JPEG"}},
		{"rotated.jpg", []string{"-orient", "RightTop"}},
		{"interlaced.png", []string{"-interlace", "PNG"}},
		{"interlaced-gray.png", []string{"-colorspace", "Gray", "-interlace", "PNG"}},
		{"lossy.webp", []string{"-alpha", "off", "-quality", "90"}},
		{"lossy-alpha.webp", []string{"-alpha", "set", "-channel", "A", "-evaluate", "set", "50%", "+channel", "-quality", "90"}},
		{"lossless.webp", []string{"-define", "webp:lossless=true"}},
	} {
		p := filepath.Join(dir, tc.name)
		if out, err := exec.Command(convert, append(append([]string{src}, tc.args...), p)...).CombinedOutput(); err != nil {
			t.Logf("%s: convert: %v\n%s (case skipped)", tc.name, err, out)
			continue
		}
		t.Run(tc.name, func(t *testing.T) { checkDecodeBytes(t, p) })
	}
}

// checkDecodeBytes loads the image file p and requires the bytes allocated
// meanwhile to stay within decodeBytes's estimate plus 256 KB of buffers.
func checkDecodeBytes(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	est := decodeBytes(format, cfg, int64(len(b)), bytes.NewReader(b))
	alloc := allocated(func() {
		d, err := load(p, 1<<30, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.release()
	})
	px := float64(cfg.Width * cfg.Height)
	t.Logf("%s %s %T: %d KB file, estimate %d KB (%.2f bytes a pixel), allocated %d KB (%.2f)",
		filepath.Base(p), format, cfg.ColorModel, len(b)>>10, est>>10, float64(est)/px, alloc>>10, float64(alloc)/px)
	if alloc > uint64(est)+256<<10 {
		t.Errorf("%s: decode allocated %d bytes, estimate %d", filepath.Base(p), alloc, est)
	}
}

var allocMu sync.Mutex

// allocated returns the bytes fn allocated (the whole process's, so the
// test must not run in parallel with others).
func allocated(fn func()) uint64 {
	allocMu.Lock()
	defer allocMu.Unlock()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

type encodeCase struct {
	name string
	enc  func(io.Writer) error
}

// encodeCases encodes the test images in every format and colour model
// the Go encoders write (WebP has no Go encoder: see the testdata fixtures).
func encodeCases(gray *image.Gray, rgba *image.NRGBA, pal *image.Paletted, g16 *image.Gray16) []encodeCase {
	jp := func(m image.Image) func(io.Writer) error {
		return func(w io.Writer) error { return jpeg.Encode(w, m, &jpeg.Options{Quality: 90}) }
	}
	pn := func(m image.Image) func(io.Writer) error { return func(w io.Writer) error { return png.Encode(w, m) } }
	ti := func(m image.Image) func(io.Writer) error {
		return func(w io.Writer) error { return tiff.Encode(w, m, &tiff.Options{Compression: tiff.Deflate}) }
	}
	bm := func(m image.Image) func(io.Writer) error { return func(w io.Writer) error { return bmp.Encode(w, m) } }
	return []encodeCase{
		{"gray.jpg", jp(gray)},
		{"ycbcr.jpg", jp(rgba)},
		{"gray.png", pn(gray)},
		{"gray16.png", pn(g16)},
		{"rgba.png", pn(rgba)},
		{"paletted.png", pn(pal)},
		{"paletted.gif", func(w io.Writer) error { return gif.Encode(w, pal, nil) }},
		{"rgba.gif", func(w io.Writer) error { return gif.Encode(w, rgba, nil) }},
		{"gray.tif", ti(gray)},
		{"gray16.tif", ti(g16)},
		{"rgba.tif", ti(rgba)},
		{"paletted.tif", ti(pal)},
		{"gray.bmp", bm(gray)},
		{"rgba.bmp", bm(rgba)},
		{"paletted.bmp", bm(pal)},
	}
}
