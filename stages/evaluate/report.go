package evaluate

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/disintegration/imaging"

	"coderflow/datasets/table"
	"coderflow/internal/atomicfile"
	"coderflow/internal/exiforient"
	"coderflow/internal/imgalpha"
	"coderflow/internal/imgsize"
	"coderflow/pipeline"
	"coderflow/train/eval"
)

// ReportFileName is the report's file name in the artifact.
const ReportFileName = "report.html"

// ReportSpec is the `report` stage kind.
var ReportSpec = pipeline.Spec{
	Kind: "report",
	// 2: every other evaluate stage upstream joins the run comparison.
	// 3: runs_dir runs are compared only when they evaluated the same test
	// data (metrics.json's data identity); the page and the manifest info
	// count those found and left out; a missing runs_dir is an empty one.
	// 4: thumbnails of images whose header declares more than max_pixels
	// pixels are refused before decoding (a placeholder, a page note and
	// the thumbnails_too_large info).
	// 5: a run whose embed stage dropped test images says on the page that
	// its numbers are not the protocol's full test set (and marks such rows
	// in the run comparison).
	// 6: non-finite curve values (a diverged loss) are left out of the
	// charts with a note (they made every coordinate NaN); invalid UTF-8
	// from upstream tables becomes U+FFFD; transparent thumbnail pixels
	// are laid over white (they were black); long words wrap.
	// 7: the dropped-upstream note names the data set stage's skips too
	// (evaluate 4 counts them).
	// 8: a BMP whose alpha bytes are all zero is shown opaque, as the
	// features stage reads it (its thumbnail was blank white).
	// 9: the bold best rSum of the run comparison is the best of the runs
	// on this run's test data (a listed or upstream run of other test
	// data was marked best), none with fewer than two of them; an
	// unreadable runs_dir file is named without where runs_dir is (an os
	// error carried the absolute path; a JSON one repeated the file name);
	// the edges-per-relation table lists at most maxRelations relations;
	// chart axis labels are round (a zero tick read "-0", and ticks summed
	// from the step drifted: "-5.551e-17" for 0); a truncated image file
	// gets a placeholder before decoding (internal/imgsize).
	Version: "9",
	Doc: "A self-contained HTML report (report.html: inline CSS, SVG charts, data-URI thumbnails, no network): " +
		"the R@K table of the upstream evaluate stage, a comparison with other runs (runs; runs_dir: the runs of the " +
		"same test data, e.g. the workflow's earlier runs with other params), training " +
		"curves (train_curve), data set and concept graph statistics (images, captions, concepts, concept_edges) " +
		"and retrieval examples (top-k images for sample captions, top-k captions for sample images). " +
		"Every other evaluate stage upstream (e.g. COCO 5K next to 1K) joins the comparison. " +
		"Every section is optional: it is left out when its upstream table is absent.",
	Params: []pipeline.Param{
		{Name: "examples", Type: pipeline.Int, Default: 6, Min: pipeline.Bound(0), Max: pipeline.Bound(100),
			Doc: "sample queries per direction in the retrieval examples"},
		{Name: "top_k", Type: pipeline.Int, Default: 5, Min: pipeline.Bound(1), Max: pipeline.Bound(20),
			Doc: "results shown per sample query"},
		{Name: "thumb_size", Type: pipeline.Int, Default: 160, Min: pipeline.Bound(16), Max: pipeline.Bound(1024),
			Doc: "thumbnail bounding box in pixels"},
		{Name: "max_pixels", Type: pipeline.Int, Default: 50_000_000, Min: pipeline.Bound(1),
			Doc: "thumbnails: images whose header declares more pixels are not decoded (decompression-bomb guard, as " +
				"features.regions' max_pixels); they get a placeholder, a note naming the file and the thumbnails_too_large info"},
		{Name: "seed", Type: pipeline.Int, Default: 0, Doc: "seed for choosing the sample queries"},
		{Name: "runs", Type: pipeline.StringList, Default: []string{},
			Doc: "other runs to compare: metrics.json files or evaluate artifact directories (their content is not " +
				"part of the cache key: prefer runs_dir, or --force the report)"},
		{Name: "runs_dir", Type: pipeline.Path, Optional: true, SkipInputs: true, MissingIsEmpty: true,
			Doc: "a directory searched recursively for metrics.json files, e.g. ${workdir}/cache/evaluate (the shipped " +
				"workflows' setting): those of the same test data as this run are compared, the others counted as left out; " +
				"a missing directory is an empty one. Its content is part of the cache key, except the report's own " +
				"evaluate inputs (the run that makes them does not change the key)"},
		{Name: "title", Type: pipeline.String, Default: "", Doc: "page title (default: coderflow report: <stage>)"},
	},
	Stage: pipeline.StageFunc(runReport),
}

type reportPage struct {
	Title    string
	Stage    string
	Metrics  *eval.MetricsFile
	Main     []metricCell
	FoldRows []foldRow
	Runs     *runTable
	RunsNote string // what runs_dir held: found, compared, left out
	Charts   []template.HTML
	Curve    []curveCell
	Splits   []splitRow
	Concepts *conceptStats
	T2I      []t2iExample
	I2T      []i2tExample
	Notes    []string
}

type metricCell struct {
	Name  string
	Value string
}

type foldRow struct {
	Fold  string
	Cells []string
}

type splitRow struct {
	Split            string
	Images, Captions int64
}

type t2iExample struct {
	Caption string
	Hits    []imageHit
}

type imageHit struct {
	Thumb   thumb
	Score   string
	Correct bool
}

type thumb struct {
	Src     template.URL // data:image/jpeg;base64,...; empty when missing
	Label   string
	Missing string // why there is no thumbnail
	W, H    int    // placeholder size
}

type i2tExample struct {
	Thumb thumb
	Hits  []captionHit
}

type captionHit struct {
	Text    string
	Score   string
	Correct bool
}

type curveCell struct{ Name, Value string }

func runReport(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	page := &reportPage{Title: p.String("title"), Stage: env.StageID}
	if page.Title == "" {
		page.Title = "coderflow report: " + env.StageID
	}
	// results
	var mf *eval.MetricsFile
	if a, err := env.Input(eval.MetricsTable); err == nil {
		mf, err = eval.ReadMetricsFile(a.Dir)
		if err != nil {
			return err
		}
		page.Metrics = mf
		page.Main = mainCells(mf.Mean)
		if len(mf.PerFold) > 1 {
			for i, m := range mf.PerFold {
				page.FoldRows = append(page.FoldRows, foldRow{Fold: fmt.Sprint(i), Cells: cells(m)})
			}
			page.FoldRows = append(page.FoldRows, foldRow{Fold: "mean", Cells: cells(mf.Mean)})
		}
	} else if !errors.Is(err, pipeline.ErrNoInput) {
		return err
	} else {
		page.Notes = append(page.Notes, "No evaluate stage upstream: no retrieval metrics.")
	}
	// comparison: the other evaluations upstream (COCO's 1K and 5K), then
	// runs, then the runs of the same test data in runs_dir
	var inputDirs []string
	for _, a := range env.Inputs {
		inputDirs = append(inputDirs, a.Dir)
	}
	comp, err := collectRuns(mf, append(otherUpstreamMetrics(env), p.Strings("runs")...), p.Path("runs_dir"), inputDirs)
	if err != nil {
		return err
	}
	runs := comp.runs
	if len(runs) > 1 {
		page.Runs = buildRunTable(runs, mf)
	}
	env.SetInfo("runs_compared", len(runs))
	if d := comp.dir; d != nil {
		page.RunsNote = d.text(mf != nil && mf.Data != nil)
		env.SetInfo("runs_found", d.found)
		env.SetInfo("runs_left_out_other_data", d.otherData)
		env.SetInfo("runs_left_out_no_data_identity", d.noData)
		env.SetInfo("runs_left_out_unreadable", d.unreadable)
		if d.otherData+d.noData > 0 {
			env.Log.Info("runs_dir: evaluations of other or unknown test data left out of the comparison",
				"found", d.found, "other_data", d.otherData, "no_data_identity", d.noData)
		}
		if d.unreadable > 0 {
			env.Log.Warn("runs_dir: unreadable metrics.json files left out of the comparison",
				"count", d.unreadable, "first", d.firstBad)
		}
	}
	// curves
	if err := addCurves(ctx, env, page); err != nil {
		return err
	}
	// retrieval examples (they decide which images and captions to look up)
	ex, err := buildExamples(ctx, env, mf, page)
	if err != nil {
		return err
	}
	// data set statistics and lookups
	if err := addDataStats(ctx, env, page, ex); err != nil {
		return err
	}
	if err := addConceptStats(ctx, env, page); err != nil {
		return err
	}
	if ex != nil {
		if err := ex.render(ctx, page, p.Int("thumb_size"), int64(p.Int("max_pixels"))); err != nil {
			return err
		}
		env.SetInfo("thumbnails", ex.thumbs)
		env.SetInfo("thumbnails_missing", ex.missing)
		env.SetInfo("thumbnails_too_large", len(ex.tooLarge))
		for _, msg := range ex.tooLarge {
			env.Log.Warn("report: thumbnail refused: " + msg)
		}
		if k := len(ex.tooLarge); k > 0 {
			page.Notes = append(page.Notes, fmt.Sprintf("%d %s not decoded for a thumbnail because %s header %s more than "+
				"max_pixels pixels (decompression-bomb guard); first: %s.", k, plural(k, "image was", "images were"),
				plural(k, "its", "their"), plural(k, "declares", "declare"), ex.tooLarge[0]))
		}
	}
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	// the page declares UTF-8: invalid bytes in captions, keys, labels or
	// params (from any upstream table) become U+FFFD instead of making the
	// whole document invalid
	out := bytes.ToValidUTF8(buf.Bytes(), []byte("\uFFFD"))
	if err := atomicfile.WriteFile(env.Path(ReportFileName), out, 0o644); err != nil {
		return err
	}
	sum := fmt.Sprintf("%s (%d KiB)", ReportFileName, len(out)/1024)
	if mf != nil {
		sum += fmt.Sprintf(": rsum %.1f", mf.Mean.RSum)
	}
	if len(runs) > 1 {
		sum += fmt.Sprintf(", %d runs compared", len(runs))
	}
	if d := comp.dir; d != nil {
		var out []string
		if n := d.otherData + d.noData; n > 0 {
			out = append(out, fmt.Sprintf("%d of other or unknown test data", n))
		}
		if d.unreadable > 0 {
			out = append(out, fmt.Sprintf("%d unreadable", d.unreadable))
		}
		if len(out) > 0 {
			sum += " (" + strings.Join(out, ", ") + " left out)"
		}
	}
	env.Summarize("%s", sum)
	return nil
}

var metricNames = []string{"R@1", "R@5", "R@10", "medr", "meanr", "R@1", "R@5", "R@10", "medr", "meanr", "rSum"}

func cells(m eval.Metrics) []string {
	var out []string
	for _, nv := range m.Named() {
		out = append(out, fmtMetric(nv.Name, nv.Value))
	}
	return out
}

// fmtMetric formats a metric as papers do: recalls, rSum and mean ranks
// with one decimal, medr as an integer unless it is a fold mean.
func fmtMetric(name string, v float64) string {
	if strings.HasSuffix(name, "medr") && v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func mainCells(m eval.Metrics) []metricCell {
	var out []metricCell
	for i, c := range cells(m) {
		out = append(out, metricCell{Name: metricNames[i], Value: c})
	}
	return out
}

// ---- run comparison ----

type runInfo struct {
	label   string
	current bool
	note    string // e.g. "other test data" for a listed run
	mf      *eval.MetricsFile
}

type runTable struct {
	Params []string
	Rows   []runRow
}

type runRow struct {
	Label   string
	Note    string
	Current bool
	Best    bool
	Params  []string
	N       int
	Folds   int
	Alpha   string
	Cells   []string
}

// otherUpstreamMetrics returns the directories of the artifacts upstream
// (breadth first) that declare the metrics table, except the nearest one,
// which is the report's main result: e.g. COCO 5K next to COCO 1K.
func otherUpstreamMetrics(env *pipeline.Env) []string {
	var dirs []string
	first := true
	pipeline.WalkUpstream(env.Inputs, func(a *pipeline.Artifact) bool {
		if _, ok := a.Table(eval.MetricsTable); ok {
			if !first {
				dirs = append(dirs, a.Dir)
			}
			first = false
		}
		return true
	})
	return dirs
}

// comparison is the outcome of collectRuns.
type comparison struct {
	runs []runInfo // the current run first, then the others sorted by label
	dir  *dirCount // what runs_dir held; nil without runs_dir
}

// dirCount counts the distinct evaluations (by evaluate key) found in
// runs_dir, apart from the report's own inputs: found = compared + shown +
// otherData + noData + unreadable.
type dirCount struct {
	found     int
	compared  int // added to the table: the same test data as this run
	shown     int // already in the table: an evaluation upstream or one listed in runs
	otherData int // left out: another test data identity
	noData    int // left out: no data identity in the file, or none in this run's
	// unreadable counts the metrics.json files that could not be read or are
	// not coderflow metrics files (left out; firstBad names the first).
	unreadable int
	firstBad   string
}

// text describes c for the page. curData says whether this run has a data
// identity to compare with.
func (c *dirCount) text(curData bool) string {
	if c.found == 0 {
		return "runs_dir: no other evaluations found yet."
	}
	var parts []string
	if c.shown > 0 {
		parts = append(parts, fmt.Sprintf("%d already shown (an evaluation upstream or one listed in runs)", c.shown))
	}
	if c.compared > 0 {
		parts = append(parts, fmt.Sprintf("%d of the same test data compared", c.compared))
	}
	if c.otherData > 0 {
		parts = append(parts, fmt.Sprintf("%d left out because %s other test data (another data set, size, seed or split): "+
			"their numbers are not comparable", c.otherData, plural(c.otherData, "it evaluated", "they evaluated")))
	}
	if c.noData > 0 {
		why := "their metrics.json has no data identity (written by an older evaluate stage)"
		if !curData {
			why = "this run's evaluation has no data identity to compare with"
		}
		parts = append(parts, fmt.Sprintf("%d left out because %s", c.noData, why))
	}
	if c.unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable metrics.json %s left out (%s)", c.unreadable,
			plural(c.unreadable, "file", "files"), c.firstBad))
	}
	return fmt.Sprintf("runs_dir: %d other %s found: %s.", c.found, plural(c.found, "evaluation", "evaluations"), strings.Join(parts, "; "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// collectRuns returns the runs to compare: the current run first, then the
// others (deduplicated by evaluate key), sorted by label. The runs in files
// (the evaluations upstream and those listed in runs) are always shown;
// those found in dir only when they evaluated the same test data as the
// current run (cur). A missing dir is an empty one, and the
// report's input artifacts in it (inputDirs) are not looked at: the engine
// leaves them out of runs_dir's digest (SkipInputs), so what the report
// reads there is exactly what its cache key covers.
func collectRuns(cur *eval.MetricsFile, files []string, dir string, inputDirs []string) (*comparison, error) {
	c := &comparison{}
	seen := map[string]bool{}
	if cur != nil {
		c.runs = append(c.runs, runInfo{label: runLabel(cur, ""), current: true, mf: cur})
		seen[cur.Key] = true
	}
	add := func(id, label string, mf *eval.MetricsFile) {
		seen[id] = true
		r := runInfo{label: runLabel(mf, label), mf: mf}
		if cur != nil && cur.Data != nil && !eval.SameData(cur, mf) {
			r.note = "other test data"
			if mf.Data == nil {
				r.note = "test data unknown"
			}
		}
		c.runs = append(c.runs, r)
	}
	for _, f := range files {
		mf, err := eval.ReadMetricsFile(f)
		if err != nil {
			return nil, fmt.Errorf("report: run %s: %w", f, err)
		}
		id := cmp.Or(mf.Key, f)
		if !seen[id] {
			add(id, f, mf)
		}
	}
	if local, ok := pipeline.IsLocalSource(dir); ok && local != "" {
		c.dir = &dirCount{}
		found, err := findMetricsFiles(local, inputDirs)
		if err != nil {
			return nil, fmt.Errorf("report: runs_dir: %w", err)
		}
		counted := map[string]bool{}
		for _, rel := range found {
			mf, err := eval.ReadMetricsFile(filepath.Join(local, filepath.FromSlash(rel)))
			if err != nil {
				// runs_dir is a directory of other runs, by default the
				// workdir's whole evaluate cache: one damaged or foreign
				// file there must not fail every report, so it is counted
				// and named (runs listed in runs are the user's choice and
				// fail the report instead)
				c.dir.found++
				c.dir.unreadable++
				if c.dir.firstBad == "" {
					c.dir.firstBad = runsDirError(err, local, rel)
				}
				continue
			}
			// a file without a key is named by its place in runs_dir (not
			// by where runs_dir is: that is not part of the cache key)
			id := cmp.Or(mf.Key, "runs_dir/"+rel)
			if counted[id] {
				continue
			}
			counted[id] = true
			c.dir.found++
			switch {
			case seen[id]:
				c.dir.shown++
			case cur == nil || cur.Data == nil || mf.Data == nil:
				c.dir.noData++
			case !eval.SameData(cur, mf):
				c.dir.otherData++
			default:
				c.dir.compared++
				add(id, "runs_dir/"+rel, mf)
			}
		}
	}
	if len(c.runs) > 1 {
		sort.SliceStable(c.runs[1:], func(i, j int) bool { return c.runs[1+i].label < c.runs[1+j].label })
	}
	return c, nil
}

// runsDirError describes err, from reading runs_dir's file rel, for the
// page: named by its place in runs_dir, never by where runs_dir is (local),
// which is not part of the cache key.
func runsDirError(err error, local, rel string) string {
	name := "runs_dir/" + rel
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return name + ": " + pe.Op + ": " + pe.Err.Error()
	}
	msg := strings.TrimPrefix(err.Error(), filepath.Join(local, filepath.FromSlash(rel))+": ")
	return name + ": " + strings.ReplaceAll(msg, local+string(filepath.Separator), "runs_dir/")
}

// findMetricsFiles returns the metrics.json files under dir (slash-separated
// paths relative to it, sorted). A missing dir holds none. It walks the tree
// as the engine digests it (symlinks followed, loops cut), except that the
// directories in skip and those the engine renames aside while it deletes
// an artifact (*.trash-*) are not looked into. As in the digest
// (MissingIsEmpty), an entry that does not exist when it is looked at (a
// dangling symlink) is not there.
func findMetricsFiles(dir string, skip []string) ([]string, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	skipped := map[string]bool{}
	for _, s := range skip {
		abs, _ := filepath.Abs(s)
		skipped[abs] = true
	}
	var found []string
	var walk func(d, rel string, chain []fs.FileInfo) error
	walk = func(d, rel string, chain []fs.FileInfo) error {
		des, err := os.ReadDir(d)
		if err != nil {
			if rel != "" && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, de := range des {
			p, r := filepath.Join(d, de.Name()), path.Join(rel, de.Name())
			fi, err := os.Stat(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				abs, _ := filepath.Abs(p)
				if skipped[abs] || strings.Contains(de.Name(), ".trash-") ||
					slices.ContainsFunc(chain, func(a fs.FileInfo) bool { return os.SameFile(a, fi) }) {
					continue
				}
				if err := walk(p, r, append(chain, fi)); err != nil {
					return err
				}
			case fi.Mode().IsRegular() && de.Name() == eval.MetricsFileName:
				found = append(found, r)
			}
		}
		return nil
	}
	if err := walk(dir, "", []fs.FileInfo{st}); err != nil {
		return nil, err
	}
	sort.Strings(found)
	return found, nil
}

func runLabel(mf *eval.MetricsFile, path string) string {
	var parts []string
	if mf.Model != nil {
		parts = append(parts, mf.Model.Stage+" "+short(mf.Model.Key))
	}
	if mf.Stage != "" {
		parts = append(parts, mf.Stage+" "+short(mf.Key))
	}
	if len(parts) == 0 {
		return path
	}
	return strings.Join(parts, " → ")
}

func short(k string) string {
	if len(k) > 8 {
		return k[:8]
	}
	return k
}

func buildRunTable(runs []runInfo, cur *eval.MetricsFile) *runTable {
	// the model params whose values differ between runs
	vals := map[string]map[string]bool{}
	for _, r := range runs {
		if r.mf.Model == nil {
			continue
		}
		for k, v := range r.mf.Model.Params {
			if vals[k] == nil {
				vals[k] = map[string]bool{}
			}
			vals[k][fmt.Sprint(v)] = true
		}
	}
	var names []string
	for k, set := range vals {
		missing := false
		for _, r := range runs {
			if r.mf.Model == nil || r.mf.Model.Params[k] == nil {
				missing = true
			}
		}
		if len(set) > 1 || (missing && len(set) > 0) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	t := &runTable{Params: names}
	// the best rSum among the runs of this run's test data (those without
	// a data note): a run of other test data (COCO 1K next to 5K) is shown
	// but its number is not comparable; with fewer than two such runs none
	// is marked
	best, comparable := -1, 0
	for i, r := range runs {
		if r.note != "" {
			continue
		}
		comparable++
		if best < 0 || r.mf.Mean.RSum > runs[best].mf.Mean.RSum {
			best = i
		}
	}
	if comparable < 2 {
		best = -1
	}
	for i, r := range runs {
		row := runRow{Label: r.label, Note: r.note, Current: r.current, Best: i == best, N: r.mf.Images, Folds: r.mf.Folds,
			Alpha: "—", Cells: cells(r.mf.Mean)}
		if d := r.mf.DroppedUpstream; d > 0 {
			// not the protocol's full test set: say so next to its numbers
			row.Note = strings.TrimPrefix(row.Note+"; ", "; ") + fmt.Sprintf("%d dropped upstream: not the full test set", d)
		}
		if r.mf.ConceptDim > 0 {
			row.Alpha = fmt.Sprint(r.mf.Alpha)
		}
		for _, k := range names {
			v := "—"
			if r.mf.Model != nil {
				if x, ok := r.mf.Model.Params[k]; ok {
					v = fmt.Sprint(x)
				}
			}
			row.Params = append(row.Params, v)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// ---- training curves ----

func addCurves(ctx context.Context, env *pipeline.Env, page *reportPage) error {
	files, _, err := env.InputTable(table.TrainCurve)
	if errors.Is(err, pipeline.ErrNoInput) {
		return nil
	}
	if err != nil {
		return err
	}
	rows, err := table.ReadAll[table.CurveRow](ctx, files...)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		page.Notes = append(page.Notes, "The train_curve table is empty.")
		return nil
	}
	x := func(r table.CurveRow) float64 { return float64(r.Step) }
	xl := "step"
	if rows[len(rows)-1].Step == 0 {
		x = func(r table.CurveRow) float64 { return float64(r.Epoch) }
		xl = "epoch"
	}
	pick := func(name string, f func(table.CurveRow) float64, keep func(table.CurveRow) bool) (series, bool) {
		s := series{Name: name}
		nonzero := false
		for _, r := range rows {
			if keep != nil && !keep(r) {
				continue
			}
			s.X = append(s.X, x(r))
			s.Y = append(s.Y, f(r))
			if f(r) != 0 {
				nonzero = true
			}
		}
		return s, nonzero && len(s.X) > 0
	}
	var losses []series
	for _, c := range []struct {
		name string
		f    func(table.CurveRow) float64
	}{
		{"total", func(r table.CurveRow) float64 { return r.Loss }},
		{"instance", func(r table.CurveRow) float64 { return r.LossInst }},
		{"concept", func(r table.CurveRow) float64 { return r.LossConcept }},
		{"pseudo-label", func(r table.CurveRow) float64 { return r.LossPred }},
		{"swapped", func(r table.CurveRow) float64 { return r.LossSwap }},
	} {
		if s, ok := pick(c.name, c.f, nil); ok {
			losses = append(losses, s)
		}
	}
	if len(losses) > 0 {
		page.Charts = append(page.Charts, template.HTML(lineChart("Training loss", xl, "loss", losses)))
	}
	hasDev := func(r table.CurveRow) bool { return r.DevRSum != 0 }
	if s, ok := pick("dev rSum", func(r table.CurveRow) float64 { return r.DevRSum }, hasDev); ok {
		page.Charts = append(page.Charts, template.HTML(lineChart("Dev rSum", xl, "rSum", []series{s})))
		var rk []series
		for _, c := range []struct {
			name string
			f    func(table.CurveRow) float64
		}{
			{"i2t R@1", func(r table.CurveRow) float64 { return r.DevR1I2T }},
			{"t2i R@1", func(r table.CurveRow) float64 { return r.DevR1T2I }},
			{"i2t R@10", func(r table.CurveRow) float64 { return r.DevR10I2T }},
			{"t2i R@10", func(r table.CurveRow) float64 { return r.DevR10T2I }},
		} {
			s, _ := pick(c.name, c.f, hasDev)
			rk = append(rk, s)
		}
		page.Charts = append(page.Charts, template.HTML(lineChart("Dev recall", xl, "%", rk)))
	}
	if s, ok := pick("learning rate", func(r table.CurveRow) float64 { return r.LR }, nil); ok {
		page.Charts = append(page.Charts, template.HTML(lineChart("Learning rate", xl, "lr", []series{s})))
	}
	last := rows[len(rows)-1]
	// Curve rows are one per finished epoch (1-based), each with the seconds
	// that epoch took (table.CurveRow).
	var secs float64
	for _, r := range rows {
		secs += r.Seconds
	}
	page.Curve = []curveCell{
		{"epochs", fmt.Sprint(last.Epoch)}, {"steps", fmt.Sprint(last.Step)},
		{"final loss", fmt.Sprintf("%.4f", last.Loss)}, {"training time", fmt.Sprintf("%.0f s", secs)},
	}
	if best := slices.MaxFunc(rows, func(a, b table.CurveRow) int { return cmpF(a.DevRSum, b.DevRSum) }); best.DevRSum > 0 {
		page.Curve = append(page.Curve, curveCell{"best dev rSum", fmt.Sprintf("%.1f (epoch %d)", best.DevRSum, best.Epoch)})
	}
	return nil
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---- data set and concept statistics ----

func addDataStats(ctx context.Context, env *pipeline.Env, page *reportPage, ex *examples) error {
	counts := map[string]*splitRow{}
	row := func(s string) *splitRow {
		if counts[s] == nil {
			counts[s] = &splitRow{Split: s}
		}
		return counts[s]
	}
	found := false
	if files, a, err := env.InputTable(table.Images); err == nil {
		found = true
		err := table.Scan(ctx, files, 4096, func(rows []table.ImageRow) error {
			for _, r := range rows {
				row(r.Split).Images++
				if ex != nil {
					if _, ok := ex.images[r.ImageID]; ok {
						ex.images[r.ImageID] = imageRef{path: r.Path, key: r.Key, dir: a.Dir, known: true}
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else if !errors.Is(err, pipeline.ErrNoInput) {
		return err
	}
	if files, _, err := env.InputTable(table.Captions); err == nil {
		found = true
		err := table.Scan(ctx, files, 4096, func(rows []table.CaptionRow) error {
			for _, r := range rows {
				row(r.Split).Captions++
				if ex != nil {
					if _, ok := ex.captions[r.CaptionID]; ok {
						ex.captions[r.CaptionID] = r.Text
						ex.found[r.CaptionID] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else if !errors.Is(err, pipeline.ErrNoInput) {
		return err
	}
	if !found {
		return nil
	}
	order := map[string]int{table.SplitTrain: 0, table.SplitRestval: 1, table.SplitDev: 2, table.SplitTest: 3, table.SplitTestAll: 4}
	for _, r := range counts {
		page.Splits = append(page.Splits, *r)
	}
	sort.Slice(page.Splits, func(i, j int) bool {
		oi, iok := order[page.Splits[i].Split]
		oj, jok := order[page.Splits[j].Split]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return page.Splits[i].Split < page.Splits[j].Split
	})
	var ti, tc int64
	for _, r := range page.Splits {
		ti += r.Images
		tc += r.Captions
	}
	page.Splits = append(page.Splits, splitRow{Split: "total", Images: ti, Captions: tc})
	return nil
}

type conceptStats struct {
	Concepts, Edges int64
	MeanDegree      string
	Isolated        int64
	Relations       []relCount
	Top             []table.ConceptRow
}

// maxRelations is the most relations the edges-per-relation table lists
// (ConceptNet has about 50); the others are summed up in one row.
const maxRelations = 60

type relCount struct {
	Rel   string
	Count int64
}

func addConceptStats(ctx context.Context, env *pipeline.Env, page *reportPage) error {
	files, _, err := env.InputTable(table.Concepts)
	if errors.Is(err, pipeline.ErrNoInput) {
		return nil
	}
	if err != nil {
		return err
	}
	st := &conceptStats{}
	const topN = 12
	ids := map[int32]bool{}
	err = table.Scan(ctx, files, 4096, func(rows []table.ConceptRow) error {
		for _, r := range rows {
			st.Concepts++
			ids[r.ConceptID] = true
			st.Top = append(st.Top, r)
		}
		// keep the topN most frequent so far
		sort.SliceStable(st.Top, func(i, j int) bool { return st.Top[i].Freq > st.Top[j].Freq })
		if len(st.Top) > topN {
			st.Top = st.Top[:topN]
		}
		return nil
	})
	if err != nil {
		return err
	}
	if files, _, err := env.InputTable(table.ConceptEdges); err == nil {
		rels := map[string]int64{}
		touched := map[int32]bool{}
		err := table.Scan(ctx, files, 8192, func(rows []table.ConceptEdgeRow) error {
			for _, r := range rows {
				st.Edges++
				rels[r.Rel]++
				touched[r.Src], touched[r.Dst] = true, true
			}
			return nil
		})
		if err != nil {
			return err
		}
		for r, c := range rels {
			st.Relations = append(st.Relations, relCount{r, c})
		}
		sort.Slice(st.Relations, func(i, j int) bool {
			if st.Relations[i].Count != st.Relations[j].Count {
				return st.Relations[i].Count > st.Relations[j].Count
			}
			return st.Relations[i].Rel < st.Relations[j].Rel
		})
		if k := len(st.Relations) - maxRelations; k > 0 {
			// a custom graph with a relation per edge put every edge on the page
			var rest int64
			for _, r := range st.Relations[maxRelations:] {
				rest += r.Count
			}
			st.Relations = append(st.Relations[:maxRelations:maxRelations],
				relCount{fmt.Sprintf("(%d other relations)", k), rest})
		}
		for id := range ids {
			if !touched[id] {
				st.Isolated++
			}
		}
		if st.Concepts > 0 {
			st.MeanDegree = fmt.Sprintf("%.2f", 2*float64(st.Edges)/float64(st.Concepts))
		}
	} else if !errors.Is(err, pipeline.ErrNoInput) {
		return err
	}
	page.Concepts = st
	return nil
}

// ---- retrieval examples ----

type imageRef struct {
	path, key, dir string
	known          bool
}

type examples struct {
	ts       *testSet
	t2i      []int // caption rows
	i2t      []int // image rows
	topImg   [][]eval.Hit
	topCap   [][]eval.Hit
	images   map[int64]imageRef // image id -> where its file is
	captions map[int64]string   // caption id -> text
	found    map[int64]bool     // caption ids found in the captions table
	thumbs   int
	missing  int      // thumbnails not made, tooLarge included
	tooLarge []string // one message naming the file per image refused for max_pixels
}

func buildExamples(ctx context.Context, env *pipeline.Env, mf *eval.MetricsFile, page *reportPage) (*examples, error) {
	n := env.Params.Int("examples")
	if n == 0 {
		return nil, nil
	}
	if _, err := env.Input(table.ImageEmbeddings); errors.Is(err, pipeline.ErrNoInput) {
		return nil, nil
	}
	// the split, alpha and folds of the evaluation; without one, the test
	// split without folds and the model's alpha
	split, alpha, folds := table.SplitTest, float64(modelAlpha), 0
	if mf != nil {
		split, alpha, folds = mf.Split, mf.Alpha, mf.Folds
	}
	ts, err := loadTestSet(ctx, env, split)
	if err != nil {
		return nil, fmt.Errorf("report: retrieval examples: %w", err)
	}
	if alpha == modelAlpha {
		alpha = trainedAlpha(modelSource(ts.source))
	}
	k := env.Params.Int("top_k")
	r := rand.New(rand.NewPCG(uint64(env.Params.Int("seed")), 0x5eed))
	ex := &examples{ts: ts, images: map[int64]imageRef{}, captions: map[int64]string{}, found: map[int64]bool{}}
	ex.t2i = r.Perm(len(ts.captionIDs))[:min(n, len(ts.captionIDs))]
	ex.i2t = r.Perm(ts.in.N)[:min(n, ts.in.N)]
	sort.Ints(ex.t2i)
	sort.Ints(ex.i2t)
	for _, q := range ex.t2i {
		hits, err := eval.TopImages(ts.in, alpha, folds, q, k)
		if err != nil {
			return nil, err
		}
		ex.topImg = append(ex.topImg, hits)
		ex.captions[ts.captionIDs[q]] = ""
		for _, h := range hits {
			ex.images[ts.imageIDs[h.Index]] = imageRef{}
		}
	}
	for _, i := range ex.i2t {
		hits, err := eval.TopCaptions(ts.in, alpha, folds, i, k)
		if err != nil {
			return nil, err
		}
		ex.topCap = append(ex.topCap, hits)
		ex.images[ts.imageIDs[i]] = imageRef{}
		for _, h := range hits {
			ex.captions[ts.captionIDs[h.Index]] = ""
		}
	}
	return ex, nil
}

func (ex *examples) render(ctx context.Context, page *reportPage, size int, maxPixels int64) error {
	cache := map[int64]thumb{}
	th := func(id int64) thumb {
		if t, ok := cache[id]; ok {
			return t
		}
		t := ex.thumbnail(id, size, maxPixels)
		cache[id] = t
		if t.Src != "" {
			ex.thumbs++
		} else {
			ex.missing++
		}
		return t
	}
	text := func(id int64) string {
		if ex.found[id] {
			return ex.captions[id] // possibly empty: tokenize keeps empty captions
		}
		return fmt.Sprintf("(caption %d: text not found in the captions table)", id)
	}
	for k, q := range ex.t2i {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := t2iExample{Caption: text(ex.ts.captionIDs[q])}
		for _, h := range ex.topImg[k] {
			e.Hits = append(e.Hits, imageHit{Thumb: th(ex.ts.imageIDs[h.Index]), Score: fmt.Sprintf("%.3f", h.Score),
				Correct: h.Index == q/eval.CaptionsPerImage})
		}
		page.T2I = append(page.T2I, e)
	}
	for k, i := range ex.i2t {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := i2tExample{Thumb: th(ex.ts.imageIDs[i])}
		for _, h := range ex.topCap[k] {
			e.Hits = append(e.Hits, captionHit{Text: text(ex.ts.captionIDs[h.Index]), Score: fmt.Sprintf("%.3f", h.Score),
				Correct: h.Index/eval.CaptionsPerImage == i})
		}
		page.I2T = append(page.I2T, e)
	}
	return nil
}

// thumbnail returns the image downscaled into a size x size box as a JPEG
// data URI, or a reason why it is missing. The header is read first: an
// image that declares more than maxPixels pixels is not decoded (a
// decompression bomb would otherwise allocate width*height pixels), and a
// message naming its file is added to ex.tooLarge. A panic in a decoder
// (its header reader included) on a hostile file costs that thumbnail
// only: "cannot decode the image".
func (ex *examples) thumbnail(id int64, size int, maxPixels int64) (t thumb) {
	ref := ex.images[id]
	t = thumb{Label: fmt.Sprintf("image %d", id), W: size, H: size * 3 / 4}
	if ref.key != "" {
		t.Label = ref.key
	}
	defer func() {
		if p := recover(); p != nil {
			t = thumb{Label: t.Label, W: t.W, H: t.H, Missing: "cannot decode the image"}
		}
	}()
	if !ref.known || ref.path == "" {
		t.Missing = "no image file"
		return t
	}
	path := table.ResolvePath(ref.dir, ref.path)
	st, err := os.Stat(path)
	if err != nil {
		t.Missing = "image file not found"
		return t
	}
	if !st.Mode().IsRegular() {
		t.Missing = "not a regular file" // a FIFO would block the open forever
		return t
	}
	f, err := os.Open(path)
	if err != nil {
		t.Missing = "cannot read the image file"
		return t
	}
	defer f.Close()
	br := bufio.NewReader(f)
	cfg, format, err := image.DecodeConfig(br)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		t.Missing = "cannot decode the image"
		return t
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		t.Missing = fmt.Sprintf("image too large: %dx%d pixels", cfg.Width, cfg.Height)
		ex.tooLarge = append(ex.tooLarge, fmt.Sprintf("%s (%s): header declares %dx%d = %d pixels, above max_pixels %d: not decoded",
			t.Label, ref.path, cfg.Width, cfg.Height, px, maxPixels))
		return t
	}
	// a file shorter than any complete one of that header (cut short, or
	// crafted) is refused before the decoder allocates the whole image
	if st, err := f.Stat(); err != nil || st.Size() < imgsize.MinFileSize(format, cfg) {
		t.Missing = "truncated image file"
		return t
	}
	img, err := decodeOriented(f, br)
	if errors.Is(err, errSeek) {
		t.Missing = "cannot read the image file"
		return t
	}
	if err != nil {
		t.Missing = "cannot decode the image"
		return t
	}
	// a BMP whose alpha bytes are all zero is opaque, as the features
	// stage reads it (it showed as a blank white thumbnail)
	imgalpha.OpaqueIfNoAlpha(img, format)
	img = imaging.Fit(img, size, size, imaging.Box)
	// JPEG has no alpha: transparent pixels (a paletted PNG's transparent
	// index, an RGBA PNG's background) are laid over white, not turned black
	b := img.Bounds()
	img = imaging.Overlay(imaging.New(b.Dx(), b.Dy(), color.White), img, image.Point{}, 1)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 82}); err != nil {
		t.Missing = "cannot encode the thumbnail"
		return t
	}
	t.Src = template.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
	return t
}

// errSeek is decodeOriented's error when the file cannot be rewound.
var errSeek = errors.New("cannot rewind the image file")

// decodeOriented decodes the image in f (from its start) and applies its
// EXIF orientation, as imaging.Decode with imaging.AutoOrientation(true)
// does, with the same pixels: the orientation by imaging's rule
// (internal/exiforient, as features.regions' decodeOriented), the pixels by
// image.Decode, the transform by imaging's FlipH, Rotate90, ...
// imaging.Decode reads the orientation on a goroutine of its own, fed
// through an io.Pipe that only a returning decode closes: a decoder that
// panicked failed the whole report and left that goroutine blocked for
// good. Here the orientation is read in a pass of its own on the caller's
// goroutine (exiforient.Decode), and a decoder panic is an error (that
// image's placeholder). br is the read buffer (reset here).
func decodeOriented(f *os.File, br *bufio.Reader) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("image decoder panicked: %v", p)
		}
	}()
	return exiforient.Decode(func() (io.Reader, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("%w: %v", errSeek, err)
		}
		br.Reset(f)
		return br, nil
	})
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).Parse(reportHTML))
