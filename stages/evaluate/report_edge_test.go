package evaluate

import (
	"bytes"
	"encoding/base64"
	stdhtml "html"
	"image"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"coderflow/pipeline/pipelinetest"
)

// TestReportOddInputs: non-UTF-8 bytes and very long words in captions and
// image keys, a
// grayscale and an all-transparent paletted thumbnail, a NaN loss and an
// infinite learning rate in the curve. Before: the page (declared UTF-8)
// held the invalid bytes, the transparent image's thumbnail was black, and
// the loss and lr charts had NaN coordinates, and the long words made the
// page wider than the window.
func TestReportOddInputs(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4, "odd": true})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "top_k": 4}, ev)
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		t.Errorf("report.html is not valid UTF-8 near %q", b[max(0, i-40):min(len(b), i+20)])
	}
	for _, want := range []string{"caf\uFFFD photo \uFFFD0", "photo_\uFFFD_longlong", "non-finite value not drawn"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, svg := range regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(html, -1) {
		checkFiniteSVG(t, "report chart", svg)
	}
	checkSelfContained(t, html)
	// a 2400-character caption word and an 800-character image key wrap
	// instead of widening the page
	if over := checkChromium(t, rep.Path(ReportFileName)); over > 0 {
		t.Errorf("the page is %d px wider than the window: long words do not wrap", over)
	}
	// thumbnails: the grayscale one decodes, the transparent one is white
	for _, c := range []struct {
		key       string
		minBright uint32
	}{{"photo_102.png", 0}, {"photo_103.png", 0xe000}} {
		m := regexp.MustCompile(`<img src="data:image/jpeg;base64,([^"]+)" alt="` + regexp.QuoteMeta(c.key) + `"`).FindStringSubmatch(html)
		if m == nil {
			t.Errorf("no thumbnail for %s", c.key)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(stdhtml.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("%s: %v", c.key, err)
			continue
		}
		r, g, bl, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
		if min(r, g, bl) < c.minBright {
			t.Errorf("%s: thumbnail centre is (%d, %d, %d), want at least %d (transparent pixels laid over white)", c.key, r, g, bl, c.minBright)
		}
	}
}

// TestReportDeterministic: the same inputs give a byte-identical page
// (no map order, time or temporary path reaches it).
func TestReportDeterministic(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 6})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	ev2 := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 2}, world)
	var pages [][]byte
	for range 3 {
		rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "runs": []string{ev2.Dir}}, ev)
		b, err := os.ReadFile(rep.Path(ReportFileName))
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, b)
	}
	for i, p := range pages[1:] {
		if !bytes.Equal(p, pages[0]) {
			j := 0
			for j < min(len(p), len(pages[0])) && p[j] == pages[0][j] {
				j++
			}
			t.Errorf("run %d differs from run 0 at byte %d: %q vs %q", i+1, j,
				pages[0][max(0, j-40):min(len(pages[0]), j+40)], p[max(0, j-40):min(len(p), j+40)])
		}
	}
}
