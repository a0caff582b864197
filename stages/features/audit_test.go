package features

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

// panicMagic starts the files of a test-only image format whose header
// reads and whose decoder panics, as a decoder bug on hostile input would.
const panicMagic = "PANICIMG"

func init() {
	image.RegisterFormat("testpanic", panicMagic,
		func(io.Reader) (image.Image, error) { panic("test decoder bug") },
		func(io.Reader) (image.Config, error) {
			return image.Config{Width: 8, Height: 8, ColorModel: color.RGBAModel}, nil
		})
}

// TestDecoderPanicLeaksNothing: a decoder that panics costs its image (a
// counted corrupt skip, as doc.go promises) and nothing else. imaging.Decode
// with AutoOrientation reads the EXIF orientation on a goroutine fed through
// an io.Pipe that only a returning decode closes: each panicking image left
// that goroutine blocked for good, so a run over hostile files grew without
// bound. Not parallel: it reads every goroutine's stack.
func TestDecoderPanicLeaksNothing(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("bug-%d.img", i))
		// longer than a pipe's first write, as any real file is
		if err := os.WriteFile(p, []byte(panicMagic+strings.Repeat("x", 100<<10)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	good, err := filepath.Abs(filepath.Join("testdata", "red-disc.png"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, good)

	// load alone: the panic reaches the caller (the stage recovers it)
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("load of the panicking format did not panic")
			}
		}()
		load(paths[0], 1<<20, nil)
	}()

	in := imagesArtifact(t, paths, 1)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"max_fail_fraction": 0.9, "workers": 2, "short_side": 32}, in)
	if rows := readFeatures(t, a); len(rows) != 1 || rows[0].ImageID != 3 {
		t.Fatalf("rows %v, want the one good image (id 3)", rows)
	}
	failures, _ := a.Manifest.Info["failures"].([]Failure)
	if len(failures) == 0 {
		// the manifest went through JSON
		if l, ok := a.Manifest.Info["failures"].([]any); ok {
			for _, f := range l {
				m := f.(map[string]any)
				failures = append(failures, Failure{Reason: fmt.Sprint(m["reason"]), Error: fmt.Sprint(m["error"])})
			}
		}
	}
	if len(failures) != 3 {
		t.Fatalf("failures %v, want the 3 panicking files", a.Manifest.Info["failures"])
	}
	for _, f := range failures {
		if f.Reason != ReasonCorrupt || !strings.Contains(f.Error, "decoder panicked") {
			t.Errorf("failure %+v, want reason %s, decoder panicked", f, ReasonCorrupt)
		}
	}

	// Every goroutine of the stage has returned: none may be left in a decode.
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("imaging.Decode")) || bytes.Contains(g, []byte("features.loadBudget")) {
			t.Errorf("goroutine left behind by a panicking decode:\n%s", g)
		}
	}
}

// exifJPEG returns jpg with an APP1 segment inserted after its SOI: the
// EXIF block of a TIFF header in byte order bo ("II" or "MM") whose IFD0
// holds tags (tag, value) as SHORTs, its IFD at offset ifd (8 normally).
func exifJPEG(jpg []byte, bo string, ifd uint32, tags [][2]uint16) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if bo == "MM" {
		order = binary.BigEndian
	}
	t := []byte(bo)
	t = order.AppendUint16(t, 42)
	t = order.AppendUint32(t, ifd)
	for uint32(len(t)) < ifd {
		t = append(t, 0)
	}
	t = order.AppendUint16(t, uint16(len(tags)))
	for _, tv := range tags {
		t = order.AppendUint16(t, tv[0])
		t = order.AppendUint16(t, 3) // SHORT
		t = order.AppendUint32(t, 1)
		t = order.AppendUint16(t, tv[1])
		t = append(t, 0, 0)
	}
	t = append(t, 0, 0, 0, 0) // no next IFD
	body := append([]byte("Exif\x00\x00"), t...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(body)+2))
	seg = append(seg, body...)
	return slices.Concat(jpg[:2], seg, jpg[2:])
}

// TestDecodeOrientedMatchesImaging: the stage's own orientation pass
// (decodeOriented, which replaced imaging.Decode for TestDecoderPanicLeaksNothing)
// gives the image imaging.Decode with AutoOrientation gives, pixel for pixel
// and of the same type, for every orientation and for EXIF blocks imaging
// reads in its own way (XMP first, bad values, a tag after others, big
// endian, an IFD further on, a file cut inside the block), so the shards do
// not change.
func TestDecodeOrientedMatchesImaging(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 13, 7))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 29)
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 255
	}
	var jb, gb bytes.Buffer
	if err := jpeg.Encode(&jb, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	grey := image.NewGray(src.Rect)
	draw.Draw(grey, grey.Rect, src, image.Point{}, draw.Src)
	if err := jpeg.Encode(&gb, grey, nil); err != nil {
		t.Fatal(err)
	}
	xmp := slices.Concat([]byte{0xFF, 0xE1, 0, 12}, []byte("http://ns.a"))[:14]
	cases := map[string][]byte{"no exif": jb.Bytes()}
	for o := uint16(0); o <= 9; o++ {
		cases[fmt.Sprintf("II %d", o)] = exifJPEG(jb.Bytes(), "II", 8, [][2]uint16{{0x0112, o}})
		cases[fmt.Sprintf("MM %d after a tag, IFD at 20", o)] = exifJPEG(jb.Bytes(), "MM", 20, [][2]uint16{{0x0100, 13}, {0x0112, o}})
		cases[fmt.Sprintf("grey %d", o)] = exifJPEG(gb.Bytes(), "II", 8, [][2]uint16{{0x0112, o}})
	}
	six := exifJPEG(jb.Bytes(), "II", 8, [][2]uint16{{0x0112, 6}})
	cases["XMP APP1 first"] = slices.Concat(six[:2], xmp, six[2:])
	cases["IFD offset 4"] = exifJPEG(jb.Bytes(), "II", 4, [][2]uint16{{0x0112, 6}})
	cases["cut inside EXIF"] = six[:30]
	cases["no EOI"] = six[:len(six)-2]
	if tf, err := os.ReadFile(filepath.Join("testdata", "rotated-exif6.jpg")); err == nil {
		cases["rotated-exif6.jpg"] = tf
	} else {
		t.Fatal(err)
	}
	dir := t.TempDir()
	br := bufio.NewReaderSize(nil, 64<<10)
	for name, data := range cases {
		p := filepath.Join(dir, "x.jpg")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		want, werr := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, gerr := decodeOriented(f, br, nil)
		f.Close()
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s: error %v, imaging %v", name, gerr, werr)
			continue
		}
		if werr != nil {
			continue
		}
		if reflect.TypeOf(got) != reflect.TypeOf(want) || got.Bounds() != want.Bounds() {
			t.Errorf("%s: %T %v, imaging %T %v", name, got, got.Bounds(), want, want.Bounds())
			continue
		}
		b := want.Bounds()
	pixels:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if got.At(x, y) != want.At(x, y) {
					t.Errorf("%s: pixel (%d,%d) %v, imaging %v", name, x, y, got.At(x, y), want.At(x, y))
					break pixels
				}
			}
		}
	}
	// the orientations did apply: 6 and 8 turn 13x7 into 7x13
	for _, o := range []uint16{5, 6, 7, 8} {
		d, err := load(writeTemp(t, exifJPEG(jb.Bytes(), "II", 8, [][2]uint16{{0x0112, o}})), 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := d.img.Bounds(); b.Dx() != 7 || b.Dy() != 13 {
			t.Errorf("orientation %d: %v, want 7x13", o, b)
		}
	}
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "img.jpg")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVectorsInFlightBoundedByRows: the feature vectors in use at once
// (the pool the stage keeps, and its memory budget) never exceed the rows
// of one shard, whatever workers and row_group_rows say. With one row group per shard (row_group_rows and shard_rows far
// above the table, as TestHugeShardAndRowGroupRows asks), workers+1 row
// groups were counted: 1,024 workers on 100,000 images made a pool channel
// of 102 million slots (2.5 GB) for 100,000 vectors that can exist.
func TestVectorsInFlightBoundedByRows(t *testing.T) {
	for _, tc := range []struct {
		workers, rowGroup, shardRows int
		total, want                  int64
	}{
		{1024, 1e9, 1e9, 100_000, 100_000},
		{1024, 256, 2048, 100_000, 2048},
		{2, 256, 2048, 100_000, 3*256 + chunkRows},
		{8, 1e9, 1e9, 7, 7},
		{1, 5, 1e9, 0, 1},
	} {
		c := config{workers: tc.workers, rowGroup: tc.rowGroup, shardRows: tc.shardRows}
		if got := c.vectorsInFlight(tc.total); got != tc.want {
			t.Errorf("%+v: %d vectors in flight, want %d", tc, got, tc.want)
		}
	}
}

// barrierMagic starts the files of a test-only format whose decoder waits
// until barrierWant decodes are in flight at once (or gives up, failing its
// image, when that does not happen).
const barrierMagic = "BARRIERIMG"

var barrier struct {
	sync.Mutex
	want    int
	n       int
	reached chan struct{}
	failed  bool
}

func init() {
	image.RegisterFormat("testbarrier", barrierMagic,
		func(io.Reader) (image.Image, error) {
			barrier.Lock()
			barrier.n++
			if barrier.n == barrier.want {
				close(barrier.reached)
			}
			ch, failed := barrier.reached, barrier.failed
			barrier.Unlock()
			if failed {
				return nil, errors.New("decodes not concurrent")
			}
			select {
			case <-ch:
				m := image.NewRGBA(image.Rect(0, 0, 2, 2))
				for i := range m.Pix {
					m.Pix[i] = 200
				}
				return m, nil
			case <-time.After(5 * time.Second):
				barrier.Lock()
				barrier.failed = true
				barrier.Unlock()
				return nil, errors.New("decodes not concurrent")
			}
		},
		func(io.Reader) (image.Config, error) {
			return image.Config{Width: 2, Height: 2, ColorModel: color.RGBAModel}, nil
		})
}

// TestWorkersRunTogetherWhateverRowGroupRows: the images of a shard are
// decoded `workers` at a time whatever row_group_rows is. They were
// computed in chunks of min(row_group_rows, 64) images, so row_group_rows
// 1 made any number of workers decode one image at a time, and more than
// 64 workers never had more than 64 images to share. Here 4 workers must
// have 4 decodes in flight at once, under row_group_rows 1.
func TestWorkersRunTogetherWhateverRowGroupRows(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 8 {
		p := filepath.Join(dir, fmt.Sprintf("b-%d.img", i))
		if err := os.WriteFile(p, []byte(barrierMagic+strings.Repeat("x", 64)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	barrier.Lock()
	barrier.want, barrier.n, barrier.reached, barrier.failed = 4, 0, make(chan struct{}), false
	barrier.Unlock()
	in := imagesArtifact(t, paths, 1)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"workers": 4, "row_group_rows": 1, "max_fail_fraction": 1.0, "short_side": 16}, in)
	if n := a.TableRows(table.Features); n != int64(len(paths)) {
		t.Fatalf("%d rows of %d images: 4 workers never decoded 4 images at once", n, len(paths))
	}
}
