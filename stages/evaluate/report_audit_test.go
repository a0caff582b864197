package evaluate

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/train/eval"
)

// panicMagic starts the files of a test-only image format whose header
// reads and whose decoder panics, as a decoder bug on hostile input would.
// panicConfigMagic starts those of one whose header reader panics.
const (
	panicMagic       = "PANICIMG"
	panicConfigMagic = "PANICCFG"
)

func init() {
	image.RegisterFormat("testpanic", panicMagic,
		func(io.Reader) (image.Image, error) { panic("test decoder bug") },
		func(io.Reader) (image.Config, error) {
			return image.Config{Width: 8, Height: 8, ColorModel: color.RGBAModel}, nil
		})
	image.RegisterFormat("testpaniccfg", panicConfigMagic,
		func(io.Reader) (image.Image, error) { panic("test decoder bug") },
		func(io.Reader) (image.Config, error) { panic("test header reader bug") })
}

// TestReportDecoderPanicCostsOneThumbnail: an image whose decoder or
// header reader panics (a decoder bug on a hostile file) gets a placeholder; the report is
// still written with the other thumbnails, and no goroutine is left
// behind. imaging.Decode with AutoOrientation reads the EXIF orientation on
// a goroutine fed through an io.Pipe that only a returning decode closes:
// the panic failed the whole report and left that goroutine blocked for
// good. Not parallel: it reads every goroutine's stack.
func TestReportDecoderPanicCostsOneThumbnail(t *testing.T) {
	for _, magic := range []string{panicMagic, panicConfigMagic} {
		t.Run(magic, func(t *testing.T) { testDecoderPanic(t, magic) })
	}
}

func testDecoderPanic(t *testing.T, magic string) {
	bad := filepath.Join(t.TempDir(), "103.img")
	// longer than a pipe's first write, as any real file is
	if err := os.WriteFile(bad, []byte(magic+strings.Repeat("x", 100<<10)), 0o644); err != nil {
		t.Fatal(err)
	}
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4, "fifo": bad})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 4, "top_k": 4}, ev)
	b, err := os.ReadFile(rep.Path(ReportFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "cannot decode the image") {
		t.Error("no placeholder for the image whose decoder panicked")
	}
	// 101 has no file, 103 panics; 100 and 102 are thumbnails
	if got, want := fmt.Sprint(rep.Manifest.Info["thumbnails_missing"], rep.Manifest.Info["thumbnails"]), "2 2"; got != want {
		t.Errorf("thumbnails_missing, thumbnails = %s, want %s", got, want)
	}
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("imaging.Decode")) || bytes.Contains(g, []byte("imaging.readOrientation")) {
			t.Errorf("goroutine left behind by a panicking decode:\n%s", g)
		}
	}
}

// TestReportBestAmongSameData: the bold "best" rSum of the run comparison
// is the best of the runs on this run's test data. A listed run of other
// test data (e.g. COCO 1K next to 5K, whose rSum is always higher) is shown
// but was marked best: its number is not comparable. With no other run
// of the same data, no row is marked.
func TestReportBestAmongSameData(t *testing.T) {
	world := pipelinetest.RunStage(t, &fakeWorld, map[string]any{"n": 4})
	ev := pipelinetest.RunStage(t, &Spec, nil, world)
	cur, err := eval.ReadMetricsFile(ev.Dir)
	if err != nil || cur.Data == nil {
		t.Fatalf("%v %+v", err, cur)
	}
	dir := t.TempDir()
	write := func(name, key string, rsum float64, otherData bool) string {
		mf := *cur
		d := *cur.Data
		if otherData {
			d.IDs = "sha256:" + strings.Repeat("ab", 32)
		}
		mf.Data, mf.Key, mf.Mean.RSum = &d, key, rsum
		p := filepath.Join(dir, name, eval.MetricsFileName)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := eval.WriteMetricsFile(p, &mf); err != nil {
			t.Fatal(err)
		}
		return p
	}
	other := write("other", strings.Repeat("1", 64), cur.Mean.RSum+300, true)
	better := write("better", strings.Repeat("2", 64), cur.Mean.RSum+10, false)
	worse := write("worse", strings.Repeat("3", 64), cur.Mean.RSum-10, false)
	for _, c := range []struct {
		name string
		runs []string
		best string // the key prefix of the best row; "" none
	}{
		{"other data only", []string{other}, ""},
		{"a better run of the same data", []string{other, better, worse}, "22222222"},
		{"this run is the best", []string{other, worse}, short(cur.Key)},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 0, "runs": c.runs}, ev)
			b, err := os.ReadFile(rep.Path(ReportFileName))
			if err != nil {
				t.Fatal(err)
			}
			var best []string
			for _, row := range strings.Split(runsTable(string(b)), "<tr")[2:] {
				if strings.Contains(row, ` best"`) {
					best = append(best, row)
				}
			}
			switch {
			case c.best == "" && len(best) > 0:
				t.Errorf("rows marked best, want none: %q", best)
			case c.best != "" && (len(best) != 1 || !strings.Contains(best[0], c.best)):
				t.Errorf("best rows %q, want the one of %s", best, c.best)
			}
		})
	}
}

// TestRunsDirErrorNamesNoLocation: an unreadable metrics.json in runs_dir
// is named on the page by its place in runs_dir, never by where runs_dir
// is (not part of the cache key: the same inputs elsewhere gave another
// page). An os error ("open /abs/path: permission denied", a file gc
// deleted after the walk) carried the absolute path onto the page.
func TestRunsDirErrorNamesNoLocation(t *testing.T) {
	local := filepath.Join(t.TempDir(), "cache", "evaluate")
	p := filepath.Join(local, "a", eval.MetricsFileName)
	for _, c := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}, "runs_dir/a/metrics.json: open: permission denied"},
		{fmt.Errorf("%s: format %q, want %q", p, "x", eval.MetricsFormat), `runs_dir/a/metrics.json: format "x", want "` + eval.MetricsFormat + `"`},
	} {
		if got := runsDirError(c.err, local, "a/metrics.json"); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

// TestTickLabelsAreRound: the axis labels of a chart whose values touch
// zero (a loss term or learning rate decaying to 0, R@1 of 0 in the first
// epochs: the 10% padding takes the axis below zero) are round numbers:
// the zero tick was labelled "-0" (Ceil of a small negative number), and
// ticks accumulated by adding the step drifted ("2.776e-17" for 0).
func TestTickLabelsAreRound(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{-5, 55, "0 20 40"},
		{-0.3, 0.2, "-0.3 -0.2 -0.1 0 0.1 0.2"},
		{-0.0003, 0.0002, "-0.0003 -0.0002 -0.0001 0 0.0001 0.0002"},
		{0.7, 1.2, "0.7 0.8 0.9 1 1.1 1.2"},
		{-0.7, 0.3, "-0.6 -0.4 -0.2 0 0.2"},
	} {
		var labels []string
		for _, v := range ticks(c.lo, c.hi, 5) {
			labels = append(labels, fmtTick(v))
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("ticks(%v, %v): %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	svg := lineChart("R@1", "epoch", "%", []series{{Name: "R@1", X: []float64{1, 2, 3}, Y: []float64{0, 20, 50}}})
	if strings.Contains(svg, ">-0<") {
		t.Errorf("a chart from 0 has a -0 tick label")
	}
}

// fakeGraph is a test-only stage writing a concept graph of n concepts in
// a chain, each edge with its own relation (a custom assertions file).
var fakeGraph = pipeline.Spec{
	Kind: "test.graph", Version: "1",
	Params: []pipeline.Param{{Name: "n", Type: pipeline.Int, Default: 10}},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		n := env.Params.Int("n")
		var concepts []table.ConceptRow
		var edges []table.ConceptEdgeRow
		for i := range n {
			concepts = append(concepts, table.ConceptRow{ConceptID: int32(i), URI: fmt.Sprintf("/c/en/w%d", i), Label: fmt.Sprint("w", i), Freq: 1})
			if i > 0 {
				edges = append(edges, table.ConceptEdgeRow{Src: int32(i - 1), Dst: int32(i), Rel: fmt.Sprintf("/r/rel%05d", i), Weight: 1})
			}
		}
		if err := table.WriteFile(env.Path("concepts.parquet"), env, table.Concepts, table.Options{}, concepts); err != nil {
			return err
		}
		if err := table.WriteFile(env.Path("concept_edges.parquet"), env, table.ConceptEdges, table.Options{}, edges); err != nil {
			return err
		}
		env.AddTable(table.Concepts, int64(len(concepts)), "concepts.parquet")
		env.AddTable(table.ConceptEdges, int64(len(edges)), "concept_edges.parquet")
		return nil
	}),
}

// TestReportRelationsBounded: the edges-per-relation table lists at most
// maxRelations relations (the most frequent) and sums up the others in one
// row; a concept graph of a custom assertions file with a relation per
// edge put every edge on the page. ConceptNet's ~50 relations all show.
func TestReportRelationsBounded(t *testing.T) {
	for _, c := range []struct {
		n, rows int
		other   string
	}{
		{10, 9, ""},
		{maxRelations + 1, maxRelations, ""},
		{5000, maxRelations + 1, fmt.Sprintf("%d other relations", 4999-maxRelations)},
	} {
		g := pipelinetest.RunStage(t, &fakeGraph, map[string]any{"n": c.n})
		rep := pipelinetest.RunStage(t, &ReportSpec, nil, g)
		b, err := os.ReadFile(rep.Path(ReportFileName))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		i := strings.Index(page, `<th class="l">relation</th>`)
		if i < 0 {
			t.Fatalf("n=%d: no relations table", c.n)
		}
		tab := page[i : i+strings.Index(page[i:], "</table>")]
		if got := strings.Count(tab, "<tr>"); got != c.rows {
			t.Errorf("n=%d: %d relation rows, want %d", c.n, got, c.rows)
		}
		if c.other != "" && !strings.Contains(tab, c.other) {
			t.Errorf("n=%d: no %q row", c.n, c.other)
		}
		if c.n == 5000 && len(b) > 64<<10 {
			t.Errorf("n=%d: page of %d bytes", c.n, len(b))
		}
	}
}
