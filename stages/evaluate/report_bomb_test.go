package evaluate

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"coderflow/pipeline/pipelinetest"
	"coderflow/train/eval"
)

// hugePNG returns a small PNG file (under 100 bytes) whose header declares
// w x h RGBA pixels and whose data holds one row: a decoder that trusts the
// header allocates w*h*4 bytes before it finds out.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk("IHDR", append(ihdr, 8, 6, 0, 0, 0)) // 8-bit RGBA, no interlace
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1+16)) // a filter byte and a few pixels
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

func TestHugePNGFixture(t *testing.T) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(hugePNG(100000, 100000)))
	if err != nil || format != "png" || cfg.Width != 100000 || cfg.Height != 100000 {
		t.Fatalf("fixture header: %v %q %dx%d", err, format, cfg.Width, cfg.Height)
	}
}

// TestReportRefusesHugeImages: an image file whose header declares
// 100000x100000 pixels (a decompression bomb) is refused from its header:
// a placeholder that says so, a page note naming the file, and counted in
// thumbnails_too_large; the other thumbnails are made. A max_pixels below
// the photos' 64x48 refuses all of them.
func TestReportRefusesHugeImages(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4, "huge": 102})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	for _, c := range []struct {
		name      string
		maxPixels int
		tooLarge  int
		want      []string
	}{
		{"default", 50_000_000, 1, []string{"image too large: 100000x100000 pixels",
			"photo_102.png (img/102.png): header declares 100000x100000 = 10000000000 pixels, above max_pixels 50000000",
			"data:image/jpeg;base64,"}},
		// two photos of 64x48 and the huge one (101 has no file)
		{"small cap", 64*48 - 1, 3, []string{"image too large: 64x48 pixels", "3 images were not decoded"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "top_k": 4, "max_pixels": c.maxPixels}, ev)
			b, err := os.ReadFile(rep.Path(ReportFileName))
			if err != nil {
				t.Fatal(err)
			}
			html := string(b)
			for _, w := range c.want {
				if !strings.Contains(html, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			if got := fmt.Sprint(rep.Manifest.Info["thumbnails_too_large"]); got != fmt.Sprint(c.tooLarge) {
				t.Errorf("thumbnails_too_large = %s, want %d", got, c.tooLarge)
			}
			// the missing file and the refused ones
			if got := fmt.Sprint(rep.Manifest.Info["thumbnails_missing"]); got != fmt.Sprint(c.tooLarge+1) {
				t.Errorf("thumbnails_missing = %s, want %d", got, c.tooLarge+1)
			}
			checkSelfContained(t, html)
		})
	}
}

// TestReportEscapesMarkup: captions, image keys (thumbnail labels and
// placeholders), run labels, model param names, concept labels and URIs
// and relation names holding markup are
// escaped: no script, link or image reaches the page.
func TestReportEscapesMarkup(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4, "hostile": true})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	mf, err := eval.ReadMetricsFile(ev.Dir)
	if err != nil {
		t.Fatal(err)
	}
	mf.Stage, mf.Key = `<script>alert("stage")</script>`, `"><script>alert("key")</script>`
	mf.Model = &eval.ModelRef{Stage: "<b>train</b>", Key: "k", Params: map[string]any{`<script>alert("param")</script>`: `<i>1</i>`}}
	other := filepath.Join(t.TempDir(), eval.MetricsFileName)
	if err := eval.WriteMetricsFile(other, mf); err != nil {
		t.Fatal(err)
	}
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "top_k": 4, "runs": []string{other},
		"title": `</title><script>alert("title")</script>`}, ev)
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, bad := range []string{"<script", "<a ", "<b>train", "<i>1", `src="x.png`} {
		if strings.Contains(html, bad) {
			i := strings.Index(html, bad)
			t.Errorf("report contains %q: %s", bad, html[max(0, i-200):min(len(html), i+100)])
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(&#34;caption 1000&#34;)&lt;/script&gt;`, `&lt;script&gt;alert(&#34;stage&#34;)`,
		`&lt;script&gt;alert(&#34;param&#34;)`, `&lt;script&gt;alert(103)&lt;/script&gt;`,
		`&lt;script&gt;alert(&#34;concept&#34;)`, `&lt;script&gt;alert(&#34;uri&#34;)`, `&lt;script&gt;alert(&#34;rel&#34;)`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	checkSelfContained(t, html)
}

// TestReportSkipsNonRegularFiles: an images table path naming a FIFO (or a
// device) gets a placeholder; opening it for a thumbnail blocked the report
// forever (no writer ever comes).
func TestReportSkipsNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "103.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4, "fifo": fifo})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "top_k": 4}, ev)
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "not a regular file") {
		t.Error("no placeholder for the FIFO")
	}
	// 101 has no file, 103 is the FIFO
	if got := fmt.Sprint(rep.Manifest.Info["thumbnails_missing"]); got != "2" {
		t.Errorf("thumbnails_missing = %s, want 2", got)
	}
}

// TestReportRefusesTruncatedImage: a PNG whose header declares 7000x7000
// at 16 bits, cut right after the header (48 bytes), gets a placeholder
// before decoding: image/png allocated the whole image (about 390 MB)
// before it failed on the missing data.
func TestReportRefusesTruncatedImage(t *testing.T) {
	var png bytes.Buffer
	png.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{0, 0, 0x1b, 0x58, 0, 0, 0x1b, 0x58, 16, 6, 0, 0, 0} // 7000x7000, 16-bit RGBA
	binary.Write(&png, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	png.Write(chunk)
	binary.Write(&png, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	bad := filepath.Join(t.TempDir(), "103.png")
	if err := os.WriteFile(bad, png.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4, "fifo": bad})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "top_k": 4, "max_pixels": 100_000_000}, ev)
	runtime.ReadMemStats(&after)
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "truncated image file") {
		t.Error("no placeholder for the truncated image")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("the report allocated %d MiB for a 48-byte image", alloc>>20)
	}
}
