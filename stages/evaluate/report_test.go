package evaluate

import (
	"bytes"
	"coderflow/internal/testenv"
	"context"
	"encoding/base64"
	"fmt"
	stdhtml "html"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/train/eval"
)

// fakeWorld is a test-only stage standing in for the data set, concept and
// training stages: it writes images (PNG files in the artifact, one of them
// missing), captions, concepts, concept_edges, train_curve and noisy
// image/caption embeddings for n test images and 2 train images.
var fakeWorld = pipeline.Spec{
	Kind: "test.world", Version: "1",
	Params: []pipeline.Param{
		{Name: "n", Type: pipeline.Int, Default: 12},
		{Name: "noise", Type: pipeline.Float, Default: 0.35},
		{Name: "lr", Type: pipeline.Float, Default: 2e-4},
		{Name: "empty_text", Type: pipeline.Bool, Default: false}, // every caption's text is ""
		{Name: "huge", Type: pipeline.Int, Default: -1},           // this image's file is a PNG header declaring 100000x100000 pixels
		{Name: "hostile", Type: pipeline.Bool, Default: false},    // captions and image keys hold markup that must not inject
		{Name: "fifo", Type: pipeline.String, Default: ""},        // image 103's path (absolute, outside the artifact)
		// odd: image 100's key and captions hold non-UTF-8 bytes and very
		// long words, image 102 is
		// a grayscale PNG, image 103 a paletted PNG whose pixels are all
		// transparent, and the curve has a NaN loss and an infinite lr
		{Name: "odd", Type: pipeline.Bool, Default: false},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		n, noise := env.Params.Int("n"), env.Params.Float("noise")
		r := rand.New(rand.NewPCG(3, 3))
		const d = 8
		unit := func(base []float32, sd float64) []float32 { return noisyUnit(r, d, base, sd) }
		var imgs []table.ImageRow
		var caps []table.CaptionRow
		var ie, ce []table.EmbeddingRow
		add := func(split string, id int64) error {
			rel := fmt.Sprintf("img/%d.png", id)
			if id == 101 {
				rel = "img/missing.png"
			} else if p := env.Params.String("fifo"); p != "" && id == 103 {
				rel = p
			} else if id == int64(env.Params.Int("huge")) {
				if err := os.WriteFile(env.Path(rel), hugePNG(100000, 100000), 0o644); err != nil {
					return err
				}
			} else if odd := env.Params.Bool("odd"); odd && (id == 102 || id == 103) {
				var m image.Image
				if id == 102 {
					g := image.NewGray(image.Rect(0, 0, 64, 48))
					for i := range g.Pix {
						g.Pix[i] = uint8(i)
					}
					m = g
				} else {
					m = image.NewPaletted(image.Rect(0, 0, 64, 48), color.Palette{color.NRGBA{}, color.NRGBA{R: 255, A: 255}})
				}
				var b bytes.Buffer
				if err := png.Encode(&b, m); err != nil {
					return err
				}
				if err := os.WriteFile(env.Path(rel), b.Bytes(), 0o644); err != nil {
					return err
				}
			} else {
				m := image.NewRGBA(image.Rect(0, 0, 64, 48))
				for y := range 48 {
					for x := range 64 {
						m.Set(x, y, color.RGBA{uint8(id * 40), uint8(x * 4), uint8(y * 5), 255})
					}
				}
				f, err := os.Create(env.Path(rel))
				if err != nil {
					return err
				}
				if err := png.Encode(f, m); err != nil {
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			key := fmt.Sprintf("photo_%d.png", id)
			if env.Params.Bool("hostile") {
				key = fmt.Sprintf(`"><script>alert(%d)</script><img src="x.png`, id)
			}
			odd := env.Params.Bool("odd") && id == 100
			if odd {
				key = "photo_\xff\xfe_" + strings.Repeat("long", 200) + "_100.png"
			}
			imgs = append(imgs, table.ImageRow{ImageID: id, Key: key, Split: split, Path: rel, Width: 64, Height: 48})
			iv := unit(nil, 1)
			ie = append(ie, table.EmbeddingRow{ID: id, ImageID: id, Split: split, Vec: iv})
			for k := range 5 {
				cid := id*10 + int64(k)
				text := fmt.Sprintf("a <b>photo</b> number %d, caption %d", id, k)
				if env.Params.Bool("empty_text") {
					text = ""
				}
				if env.Params.Bool("hostile") {
					text = fmt.Sprintf(`</div></li><script>alert("caption %d")</script><a href="https://evil.example/">%d`, cid, cid)
				}
				if odd {
					text = fmt.Sprintf("caf\xe9 photo \xff%d %s", k, strings.Repeat("unbroken", 300))
				}
				caps = append(caps, table.CaptionRow{CaptionID: cid, ImageID: id, Split: split, Ordinal: int32(k), Text: text})
				ce = append(ce, table.EmbeddingRow{ID: cid, ImageID: id, Ordinal: int32(k), Split: split, Vec: unit(iv, noise)})
			}
			return nil
		}
		if err := add("train", 1); err != nil {
			return err
		}
		if err := add("train", 2); err != nil {
			return err
		}
		for i := range n {
			if err := add("test", int64(100+i)); err != nil {
				return err
			}
		}
		var curve []table.CurveRow
		for e := range 6 {
			curve = append(curve, table.CurveRow{Epoch: int32(e + 1), Step: int64(100 * (e + 1)), LR: env.Params.Float("lr"),
				Loss: 5 - float64(e)*0.5, LossInst: 4 - float64(e)*0.4, LossSwap: 1 - float64(e)*0.1,
				DevR1I2T: 10 + float64(e)*5, DevR10I2T: 40 + float64(e)*5, DevR1T2I: 8 + float64(e)*4, DevR10T2I: 30 + float64(e)*6,
				DevRSum: 150 + float64(e)*30, Seconds: 12})
			if env.Params.Bool("odd") && e == 2 {
				curve[e].Loss = math.NaN()
			}
			if env.Params.Bool("odd") && e == 1 {
				curve[e].LR = math.Inf(1)
			}
		}
		var concepts []table.ConceptRow
		for i, w := range []string{"dog", "cat", "ball", "rare"} {
			concepts = append(concepts, table.ConceptRow{ConceptID: int32(i), URI: "/c/en/" + w, Label: w, Freq: int64(40 / (i + 1))})
		}
		edges := []table.ConceptEdgeRow{{Src: 0, Dst: 1, Rel: "/r/RelatedTo", Weight: 1}, {Src: 0, Dst: 2, Rel: "/r/RelatedTo", Weight: 0.5},
			{Src: 1, Dst: 2, Rel: "/r/AtLocation", Weight: 0.3}}
		if env.Params.Bool("hostile") {
			concepts[0].Label, concepts[0].URI = `<script>alert("concept")</script>`, `"><script>alert("uri")</script>`
			edges[2].Rel = `<script>alert("rel")</script>`
		}
		for _, w := range []struct {
			name string
			err  error
			rows int
		}{
			{table.Images, table.WriteFile(env.Path("images.parquet"), env, table.Images, table.Options{AllowInvalidText: true}, imgs), len(imgs)}, // invalid UTF-8 on purpose
			{table.Captions, table.WriteFile(env.Path("captions.parquet"), env, table.Captions, table.Options{AllowInvalidText: true}, caps), len(caps)},
			{table.ImageEmbeddings, table.WriteFile(env.Path("image_embeddings.parquet"), env, table.ImageEmbeddings, table.Options{}, ie), len(ie)},
			{table.CaptionEmbeddings, table.WriteFile(env.Path("caption_embeddings.parquet"), env, table.CaptionEmbeddings, table.Options{}, ce), len(ce)},
			{table.TrainCurve, table.WriteFile(env.Path("train_curve.parquet"), env, table.TrainCurve, table.Options{}, curve), len(curve)},
			{table.Concepts, table.WriteFile(env.Path("concepts.parquet"), env, table.Concepts, table.Options{}, concepts), len(concepts)},
			{table.ConceptEdges, table.WriteFile(env.Path("concept_edges.parquet"), env, table.ConceptEdges, table.Options{}, edges), len(edges)},
		} {
			if w.err != nil {
				return w.err
			}
			env.AddTable(w.name, int64(w.rows), w.name+".parquet")
		}
		return nil
	}),
}

func TestReportStage(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, nil)
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	// two other runs: one with a different model param (lr), one 2-fold
	world2 := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"noise": 0.6, "lr": 1e-3})
	ev2 := pipelinetest.RunStage(t, &Spec, nil, world2)
	ev3 := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 2}, world)
	runsDir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(ev3.Dir, eval.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(runsDir, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runsDir, "x", eval.MetricsFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{
		"runs": []string{ev2.Dir, filepath.Join(ev.Dir, eval.MetricsFileName)}, "runs_dir": runsDir, "examples": 4, "title": "Test <report>"}, ev)
	path := rep.Path(ReportFileName)
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		`<title>Test &lt;report&gt;</title>`, `id="rk"`, `id="runs"`, "(this run)", "<th>lr</th>", `<svg`, "Training loss", "Dev rSum",
		`id="splits"`, "<td class=\"l\">test</td><td>12</td><td>60</td>", "/r/RelatedTo", "dog",
		"Text → Image", "Image → Text", `class="tick"`, "a &lt;b&gt;photo&lt;/b&gt; number", "data:image/jpeg;base64,",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if got := strings.Count(html, "<tr class=\"cur"); got != 1 {
		t.Errorf("%d rows marked as this run, want 1", got)
	}
	// three distinct runs: this one (also listed in runs: deduplicated), ev2, ev3 via runs_dir
	if got := rep.Manifest.Info["runs_compared"]; fmt.Sprint(got) != "3" {
		t.Errorf("runs_compared = %v, want 3", got)
	}
	checkSelfContained(t, html)
	checkChromium(t, path)
}

// TestReportEmptyCaptions: captions whose text is empty (tokenize keeps
// them) are shown empty, not as missing from the captions table.
func TestReportEmptyCaptions(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"empty_text": true})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4}, ev)
	page, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "text not found") || !strings.Contains(string(page), "Text → Image") {
		t.Error("empty captions reported as not found in the captions table (or no examples)")
	}
}

func TestReportWithoutOptionalTables(t *testing.T) {
	emb := pipelinetest.RunStage(t, &fakeEmbeddings, map[string]any{"n": 10})
	ev := pipelinetest.RunStage(t, &Spec, nil, emb)
	rep := pipelinetest.RunStage(t, &ReportSpec, nil, ev)
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !strings.Contains(html, `id="rk"`) || strings.Contains(html, `id="runs"`) || strings.Contains(html, "<svg") {
		t.Errorf("want the R@K table only")
	}
	// examples without an images table: placeholders, not broken images
	if strings.Contains(html, "<img") || !strings.Contains(html, "no image file") {
		t.Errorf("want thumbnail placeholders")
	}
	checkSelfContained(t, html)
	if _, err := pipelinetest.RunStageErr(t, &ReportSpec, map[string]any{"runs": []string{"/nonexistent/metrics.json"}}, ev); err == nil {
		t.Error("missing run file: want an error")
	}
}

// TestReportShowsEveryUpstreamEvaluation: with two evaluate stages upstream
// (COCO 1K with 5 folds and 5K without), the first is the main result and
// the other joins the run comparison.
func TestReportShowsEveryUpstreamEvaluation(t *testing.T) {
	emb := pipelinetest.RunStage(t, &fakeEmbeddings, map[string]any{"n": 10, "mode": "noisy"})
	ev1k := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 5}, emb)
	ev5k := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 0}, emb)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 0}, ev1k, ev5k)
	if got := fmt.Sprint(rep.Manifest.Info["runs_compared"]); got != "2" {
		t.Errorf("runs_compared = %v, want 2 (the 1K and the 5K evaluation)", got)
	}
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !strings.Contains(html, `id="runs"`) || !strings.Contains(html, short(ev5k.Key())) || !strings.Contains(html, short(ev1k.Key())) {
		t.Errorf("the run comparison does not list both evaluations")
	}
}

var (
	srcRe  = regexp.MustCompile(`(?i)\b(src|href)\s*=\s*"([^"]*)"`)
	dataRe = regexp.MustCompile(`^data:image/(jpeg|png);base64,([A-Za-z0-9+/=]+)$`)
)

// checkSelfContained checks that every src/href is a data URI that decodes
// as an image, and that the page has no scripts or external references.
func checkSelfContained(t *testing.T, html string) {
	t.Helper()
	if strings.Contains(strings.ToLower(html), "<script") || strings.Contains(html, "url(") {
		t.Error("report has a script or CSS url()")
	}
	for _, m := range srcRe.FindAllStringSubmatch(html, -1) {
		d := dataRe.FindStringSubmatch(stdhtml.UnescapeString(m[2]))
		if d == nil {
			t.Errorf("%s=%.60q is not an image data URI", m[1], m[2])
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(d[2])
		if err != nil {
			t.Errorf("bad base64: %v", err)
			continue
		}
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("data URI does not decode: %v", err)
			continue
		}
		if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
			t.Error("empty thumbnail")
		}
	}
}

var _ = jpeg.Decode // register the JPEG decoder for image.Decode

// checkChromium renders the report in headless Chromium: a screenshot that
// must not be blank, and a DOM dump of a copy with a small script that
// records every image's naturalWidth after load. It returns how many CSS
// pixels the page is wider than a 1200 px window (-1 without Chromium).
func checkChromium(t *testing.T, report string) int {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Log("chromium not found: headless rendering check skipped")
		return -1
	}
	dir := t.TempDir()
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	probe := `<script>window.addEventListener("load", function () {
  var imgs = document.images, bad = 0;
  for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad++; }
  var p = document.createElement("pre"); p.id = "probe"; p.textContent = "images=" + imgs.length + " broken=" + bad +
    " overflow=" + (document.documentElement.scrollWidth - document.documentElement.clientWidth);
  document.body.appendChild(p);
});</script></body>`
	probed := filepath.Join(dir, "probed.html")
	if err := os.WriteFile(probed, []byte(strings.Replace(string(page), "</body>", probe, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(extra ...string) []string {
		return append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}, extra...)
	}
	out, err := exec.CommandContext(t.Context(), bin, args("--dump-dom", "--window-size=1200,2000", "file://"+probed)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	m := regexp.MustCompile(`images=(\d+) broken=(\d+) overflow=(-?\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("probe result not in the DOM dump (%d bytes)", len(out))
	}
	nImg, _ := strconv.Atoi(m[1])
	if m[2] != "0" || nImg == 0 {
		t.Errorf("chromium: %s images, %s broken", m[1], m[2])
	}
	shot := filepath.Join(dir, "out.png")
	if d := os.Getenv("CODERFLOW_REPORT_SCREENSHOT"); d != "" {
		shot = d // keep the screenshot for a look
	}
	cmd := exec.CommandContext(t.Context(), bin, args("--screenshot="+shot, "--window-size=1200,2000", "file://"+report)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// non-blank: many distinct colours
	colours := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}] = true
		}
	}
	if len(colours) < 50 {
		t.Errorf("screenshot looks blank: %d distinct colours", len(colours))
	}
	overflow, _ := strconv.Atoi(m[3])
	t.Logf("chromium: %d images, none broken; screenshot %dx%d with %d colours; %d px wider than the window",
		nImg, b.Dx(), b.Dy(), len(colours), overflow)
	return overflow
}

func sharedData(t *testing.T) string { return testenv.SharedData(t) }

// fakeFlickr writes images (absolute paths to real Flickr8k test photos),
// their real captions, and noisy embeddings, for the first n test images.
var fakeFlickr = pipeline.Spec{
	Kind: "test.flickr", Version: "1",
	Params: []pipeline.Param{
		{Name: "root", Type: pipeline.String, Default: ""},
		{Name: "n", Type: pipeline.Int, Default: 10},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		root, n := env.Params.String("root"), env.Params.Int("n")
		list, err := os.ReadFile(filepath.Join(root, "Flickr8k_text", "Flickr_8k.testImages.txt"))
		if err != nil {
			return err
		}
		tok, err := os.ReadFile(filepath.Join(root, "Flickr8k_text", "Flickr8k.token.txt"))
		if err != nil {
			return err
		}
		texts := map[string][]string{}
		for line := range strings.SplitSeq(string(tok), "\n") {
			name, text, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			img, _, _ := strings.Cut(name, "#")
			texts[img] = append(texts[img], strings.TrimSpace(text))
		}
		r := rand.New(rand.NewPCG(5, 5))
		var imgs []table.ImageRow
		var caps []table.CaptionRow
		var ie, ce []table.EmbeddingRow
		for _, name := range strings.Fields(string(list)) {
			if len(imgs) == n {
				break
			}
			path := filepath.Join(root, "Flicker8k_Dataset", name)
			if _, err := os.Stat(path); err != nil || len(texts[name]) < 5 {
				continue
			}
			id := int64(len(imgs) + 1)
			imgs = append(imgs, table.ImageRow{ImageID: id, Key: name, Split: "test", Path: path})
			iv := unit3(float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64()))
			ie = append(ie, table.EmbeddingRow{ID: id, ImageID: id, Split: "test", Vec: iv})
			for k := range 5 {
				cid := id*10 + int64(k)
				caps = append(caps, table.CaptionRow{CaptionID: cid, ImageID: id, Split: "test", Ordinal: int32(k), Text: texts[name][k]})
				cv := unit3(iv[0]+float32(r.NormFloat64()*0.5), iv[1]+float32(r.NormFloat64()*0.5), iv[2]+float32(r.NormFloat64()*0.5))
				ce = append(ce, table.EmbeddingRow{ID: cid, ImageID: id, Ordinal: int32(k), Split: "test", Vec: cv})
			}
		}
		for _, w := range []error{
			table.WriteFile(env.Path("images.parquet"), env, table.Images, table.Options{}, imgs),
			table.WriteFile(env.Path("captions.parquet"), env, table.Captions, table.Options{}, caps),
			table.WriteFile(env.Path("ie.parquet"), env, table.ImageEmbeddings, table.Options{}, ie),
			table.WriteFile(env.Path("ce.parquet"), env, table.CaptionEmbeddings, table.Options{}, ce),
		} {
			if w != nil {
				return w
			}
		}
		env.AddTable(table.Images, int64(len(imgs)), "images.parquet")
		env.AddTable(table.Captions, int64(len(caps)), "captions.parquet")
		env.AddTable(table.ImageEmbeddings, int64(len(ie)), "ie.parquet")
		env.AddTable(table.CaptionEmbeddings, int64(len(ce)), "ce.parquet")
		return nil
	}),
}

// unit3 is (x, y, z) scaled to unit L2 norm.
func unit3(x, y, z float32) []float32 {
	n := float32(math.Sqrt(float64(x*x + y*y + z*z)))
	return []float32{x / n, y / n, z / n}
}

func TestReportRealPhotos(t *testing.T) {
	root := filepath.Join(sharedData(t), "flickr8k-1k")
	world := pipelinetest.RunStage(t, &fakeFlickr, map[string]any{"root": root, "n": 10})
	if world.TableRows(table.Images) != 10 {
		t.Fatalf("%d test photos found, want 10", world.TableRows(table.Images))
	}
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 5, "thumb_size": 120}, ev)
	if got, miss := fmt.Sprint(rep.Manifest.Info["thumbnails"]), fmt.Sprint(rep.Manifest.Info["thumbnails_missing"]); got == "0" || miss != "0" {
		t.Errorf("thumbnails %s, missing %s", got, miss)
	}
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(b))
	checkChromium(t, rep.Path(ReportFileName))
}
