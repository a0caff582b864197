// Command benchdoc runs every benchmark that has a goal in the issues, each
// measuring this project's operation and its anchor side by side in the same
// run, and regenerates docs/BENCHMARKS.md: one table (operation, our figure,
// the anchor, the ratio, the goal, met or not), the environment, and the raw
// `go test -bench` output. `go tool task bench` runs it.
//
//	go run ./internal/tools/benchdoc -out docs/BENCHMARKS.md [-quick] [-only REGEX]
package main

import (
	"bufio"
	"bytes"
	"coderflow/internal/hostinfo"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// run is one `go test -bench` invocation.
type run struct {
	ID      string
	Pkg     string
	Bench   string
	Tags    string
	Env     []string
	Time    string // -benchtime
	Timeout string
	Args    []string      // after -args: the benchmark's own flags
	Needs   func() string // returns a reason to skip, or ""
}

// row is one line of the table: a figure of ours and of the anchor, read
// from the metrics of a run's benchmark lines, and the goal as conditions on
// those figures.
type row struct {
	Op      string
	Run     string
	Line    string // regexp selecting the benchmark line (sub-benchmark name)
	Ours    metric
	Anchor  metric
	Ratio   metric // read directly when the benchmark reports it
	RatioFn func(ours, anchor float64) float64
	// Extra are further figures the goal needs (content reads, peak RSS):
	// shown after ours, and named in Met by their Unit.
	Extra []metric
	Goal  string
	// Met is the goal as conditions, all of which must hold. A condition
	// whose figure is missing from the output makes the row "not measured"
	// (or "no" if another, measured condition fails): never "yes".
	Met  []cond
	Note string
	// Vars fill {name} placeholders of Op from the run's raw output: name ->
	// a regexp whose first group is the value (e.g. the edge count of a
	// benchmark's log line), so the label states what was measured.
	Vars map[string]string
	// NotRun, when set, says why task bench does not run this measurement:
	// the row is printed with that reason instead of figures.
	NotRun string
}

type metric struct {
	Unit  string  // e.g. "ns/op", "img/s"
	Line  string  // overrides row.Line
	Label string  // how to print the unit
	Scale float64 // multiplies the value (1e-6: ns -> ms); 0 = 1
	// NonZero: a reported 0 means the benchmark could not measure it
	// (e.g. peak RSS without /proc).
	NonZero bool
	// Best, when set, replaces Unit: the highest of these figures, printed
	// with its own label (e.g. the faster of DuckDB on 1 and 2 threads).
	Best []metric
}

// cond is one condition of a goal: the figure Of ("ours", "anchor",
// "ratio", or the Unit of one of the row's Extra metrics) compared by Op
// (">=", ">", "<=", "<", "==") with V.
type cond struct {
	Of string
	Op string
	V  float64
}

func (c cond) holds(v float64) bool {
	switch c.Op {
	case ">=":
		return v >= c.V
	case ">":
		return v > c.V
	case "<=":
		return v <= c.V
	case "<":
		return v < c.V
	case "==":
		return v == c.V
	}
	panic("benchdoc: unknown condition operator " + c.Op)
}

func openblasInstalled() string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libopenblas.so", "/usr/lib/aarch64-linux-gnu/libopenblas.so", "/usr/lib/libopenblas.so"} {
		if _, err := os.Stat(p); err == nil {
			return ""
		}
	}
	return "OpenBLAS not installed (apt-get install libopenblas-dev)"
}

var runs = []run{
	{ID: "cache", Pkg: "./pipeline", Bench: "BenchmarkCacheCheckUnchanged", Time: "10x"},
	{ID: "download", Pkg: "./datasets/download", Bench: "BenchmarkFetchVsCopy", Time: "3x"},
	{ID: "npy", Pkg: "./datasets/npy", Bench: "BenchmarkReadVsRaw", Time: "3x"},
	{ID: "features", Pkg: "./stages/features", Bench: "BenchmarkStageVsImageMagick|BenchmarkPeakRSS", Time: "1x", Timeout: "30m"},
	// Each iteration writes and reads 13.6 MB on both sides in about 1 s;
	// ten of them average out some of the shared machine's noise (single
	// iterations ranged 2.6-3.6x for the write).
	{ID: "features-parquet", Pkg: "./stages/features", Bench: "BenchmarkParquetVsDuckDB", Time: "10x", Timeout: "30m"},
	// the size: 3.4M edges (English ConceptNet 5.7); about 2.5 min,
	// most of it the Cayley QuadWriter anchor
	{ID: "kgload", Pkg: "./kg", Bench: "BenchmarkLoad$", Time: "1x", Timeout: "30m", Args: []string{"-kg.edges=3400000"}},
	{ID: "link", Pkg: "./stages/kg", Bench: "BenchmarkTokenizeLink$", Time: "3x"},
	{ID: "tokenize", Pkg: "./stages/tokenize", Bench: "BenchmarkTokenize$", Time: "3x"},
	{ID: "train", Pkg: "./train", Bench: "BenchmarkStep/(small|full-mean)", Time: "5x", Timeout: "40m"},
	{ID: "train-openblas", Pkg: "./train", Bench: "BenchmarkStep|BenchmarkProductsOfStep/small-mean", Tags: "openblas", Env: []string{"CGO_LDFLAGS=-lopenblas"}, Time: "8x", Timeout: "30m", Needs: openblasInstalled},
	{ID: "eval", Pkg: "./train/eval", Bench: "BenchmarkRecallK5K", Time: "1x", Timeout: "30m"},
	{ID: "eval-openblas", Pkg: "./train/eval", Bench: "BenchmarkRecallK5K", Tags: "openblas", Env: []string{"CGO_LDFLAGS=-lopenblas"}, Time: "3x", Timeout: "30m", Needs: openblasInstalled},
}

func ratioDiv(a, b float64) float64 { return a / b }

// The BenchmarkStep sizes (train/bench_test.go, benchConfigs): "small" is
// not workflows/demo.yaml's size (104-d descriptors, 64 prototypes, 100
// concepts) but DefaultConfig with 256-d regions, vocabulary 2,000, 16
// tokens, queue 1,024; "full" is the paper's.
const (
	stepSmall = "B=128, 36 x 256-d regions, D=256, queue 1,024, 256 prototypes, 300 concepts"
	stepFull  = "B=128, 36 x 2,048-d regions, D=1024, queue 4,096, 256 prototypes, 300 concepts"
)

// trainStepRow is a row of BenchmarkStep: the step's effective GEMM rate
// against the raw SGEMM rate of its dominant shape (goal: >= 60 %).
func trainStepRow(op, run, line string) row {
	return row{Op: op, Run: run, Line: "^BenchmarkStep/" + line,
		Ours:   metric{Unit: "GFLOP/s-best", Label: "GFLOP/s effective (best step)"},
		Anchor: metric{Unit: "sgemm-GFLOP/s-best", Label: "GFLOP/s (raw SGEMM, dominant shape)"},
		Ratio:  metric{Unit: "%-of-sgemm"}, Goal: ">= 60% of SGEMM", Met: []cond{{"ratio", ">=", 60}},
		Note: "ms/step and the time split in the raw output"}
}

// duckBest is the anchor of the Parquet rows: the faster of DuckDB's runs on
// 1 and 2 threads, which is what the benchmark's x_*_vs_best_duck ratio
// divides by.
func duckBest(what, side string) metric {
	return metric{Best: []metric{
		{Unit: "duck1_" + side + "_MB/s", Label: "MB/s (" + what + ", 1 thread: the faster of 1 and 2 threads)"},
		{Unit: "duck2_" + side + "_MB/s", Label: "MB/s (" + what + ", 2 threads: the faster of 1 and 2 threads)"},
	}}
}

var rows = []row{
	{Op: "cache check, 100 stages x 10,000 external files, unchanged, every stage cached", Run: "cache",
		Ours:    metric{Unit: "ns/op", Line: "cache-check", Label: "ms", Scale: 1e-6},
		Anchor:  metric{Unit: "ns/op", Line: "anchor=stat", Label: "ms (stat of the 10,000 files)", Scale: 1e-6},
		Extra:   []metric{{Unit: "content_reads", Line: "cache-check", Label: "content reads"}},
		RatioFn: ratioDiv, Goal: "O(stat): 0 content reads", Met: []cond{{"ratio", "<", 3}, {"content_reads", "==", 0}},
		Note: "met: < 3x the stat anchor and 0 content reads"},
	{Op: "download from a local HTTP server", Run: "download", Ours: metric{Unit: "fetch_MB/s", Label: "MB/s"}, Anchor: metric{Unit: "copy_MB/s", Label: "MB/s (io.Copy)"},
		Ratio: metric{Unit: "fetch/copy"}, Goal: ">= 0.8x", Met: []cond{{"ratio", ">=", 0.8}}},
	{Op: ".npy read (SCAN features)", Run: "npy", Ours: metric{Unit: "npy_MB/s", Label: "MB/s"}, Anchor: metric{Unit: "raw_MB/s", Label: "MB/s (raw file read)"},
		Ratio: metric{Unit: "npy/raw"}, Goal: ">= 0.5x", Met: []cond{{"ratio", ">=", 0.5}}},
	{Op: "features.regions on 500x375 JPEGs (decode, resize, 36-region descriptors)", Run: "features", Line: "StageVsImageMagick",
		Ours: metric{Unit: "stage_img/s", Label: "img/s"}, Anchor: metric{Unit: "mogrify_img/s", Label: "img/s (ImageMagick mogrify -resize 256x256^)"},
		Ratio: metric{Unit: "x_vs_mogrify"}, Goal: ">= 1.0x", Met: []cond{{"ratio", ">=", 1.0}}},
	{Op: "feature shard write (Parquet), vs the faster DuckDB run", Run: "features-parquet", Line: "ParquetVsDuckDB",
		Ours: metric{Unit: "go_write_MB/s", Label: "MB/s"}, Anchor: duckBest("DuckDB COPY TO", "write"),
		Ratio: metric{Unit: "x_write_vs_best_duck"}, Goal: ">= 3x", Met: []cond{{"ratio", ">=", 3}}},
	{Op: "feature shard read (Arrow reader), vs the faster DuckDB run", Run: "features-parquet", Line: "ParquetVsDuckDB",
		Ours: metric{Unit: "arrow_read_MB/s", Label: "MB/s"}, Anchor: duckBest("DuckDB read", "read"),
		Ratio: metric{Unit: "x_read_vs_best_duck"}, Goal: ">= 1x", Met: []cond{{"ratio", ">=", 1}}},
	{Op: "features.regions peak RSS, 8,750 vs 875 images", Run: "features", Line: "PeakRSS",
		Ours: metric{Unit: "rss8750_MiB", Label: "MiB (8,750 images)", NonZero: true}, Anchor: metric{Unit: "rss875_MiB", Label: "MiB (875 images)", NonZero: true},
		Ratio: metric{Unit: "rss_ratio"}, Goal: "<= 1.10x", Met: []cond{{"ratio", "<=", 1.10}}},
	{Op: "ConceptNet-form CSV -> Cayley bolt store, {edges} generated English edges (BenchmarkLoad -kg.edges; the issue's size is 3.4M, English ConceptNet 5.7)", Run: "kgload",
		Vars: map[string]string{"edges": `(?m)^\s+\S+\.go:\d+: (\d+) edges \(`},
		Ours: metric{Unit: "bulk_edges/s", Label: "edges/s"}, Anchor: metric{Unit: "quadwriter_edges/s", Label: "edges/s (Cayley QuadWriter into bolt)"},
		Ratio: metric{Unit: "speedup"}, Goal: ">= 2.5x and >= 100k edges/s", Met: []cond{{"ratio", ">=", 2.5}, {"ours", ">=", 100e3}}},
	{Op: "tokenize + link 35,455 Flickr8k captions", Run: "link",
		Ours: metric{Unit: "tokenize+link_captions/s", Label: "captions/s"}, Goal: ">= 50k captions/s", Met: []cond{{"ours", ">=", 50e3}}},
	{Op: "tokenizer alone vs strings.Fields+ToLower", Run: "tokenize", Line: "^BenchmarkTokenize/", Goal: "(no goal; context)",
		Note: "see docs/bench/tokenize.md"},
	trainStepRow("train step "+stepSmall+", mean text (small, pure Go)", "train", "small-mean/gonum"),
	trainStepRow("train step "+stepSmall+", bi-GRU (small, pure Go)", "train", "small-bigru/gonum"),
	trainStepRow("train step "+stepFull+", mean text (pure Go)", "train", "full-mean/gonum"),
	{Op: "train step " + stepFull + ", bi-GRU (pure Go)", Run: "train", Line: "^BenchmarkStep/full-bigru/gonum", Goal: ">= 60% of SGEMM",
		NotRun: "not run by task bench: one step is 143.9 GFLOP, 8.3x the D=1024 mean step: about 7 s in pure Go on 2 idle cores " +
			"(18.8 s measured on a loaded machine), so even -benchtime 1x (3 steps with the warm-up) would add 25-60 s for one noisy sample; " +
			"run it alone with `go test -run '^$' -bench 'BenchmarkStep/full-bigru' -benchtime 1x ./train`"},
	trainStepRow("train step "+stepSmall+", mean text (small, OpenBLAS)", "train-openblas", "small-mean/openblas"),
	{Op: "the products of that step alone, back to back: the ceiling of its ratio", Run: "train-openblas", Line: "^BenchmarkProductsOfStep/small-mean/openblas",
		Ours:   metric{Unit: "ms-products-best", Label: "ms (best)"},
		Anchor: metric{Unit: "sgemm-GFLOP/s-best", Label: "GFLOP/s (raw SGEMM, dominant shape)"},
		Ratio:  metric{Unit: "%-of-sgemm"}, Goal: "(no goal; context)", Note: "see docs/bench/train.md, Fifth look"},
	trainStepRow("train step "+stepSmall+", bi-GRU (small, OpenBLAS)", "train-openblas", "small-bigru/openblas"),
	trainStepRow("train step "+stepFull+", mean text (OpenBLAS)", "train-openblas", "full-mean/openblas"),
	trainStepRow("train step "+stepFull+", bi-GRU (OpenBLAS)", "train-openblas", "full-bigru/openblas"),
	{Op: "Recall@K 5,000 x 25,000 x 1,024, both directions (pure Go)", Run: "eval",
		Ours: metric{Unit: "eval_s", Label: "s"}, Anchor: metric{Unit: "gemm_s", Label: "s (the GEMM alone)"},
		Extra: []metric{{Unit: "peak_rss_MiB", Label: "MiB peak RSS", NonZero: true}},
		Ratio: metric{Unit: "eval/gemm"}, Goal: "<= 1.2x and <= 1 GiB", Met: []cond{{"ratio", "<=", 1.2}, {"peak_rss_MiB", "<=", 1024}}},
	{Op: "Recall@K 5,000 x 25,000 x 1,024, both directions (OpenBLAS)", Run: "eval-openblas",
		Ours: metric{Unit: "eval_s", Label: "s"}, Anchor: metric{Unit: "gemm_s", Label: "s (the GEMM alone)"},
		Extra: []metric{{Unit: "peak_rss_MiB", Label: "MiB peak RSS", NonZero: true}},
		Ratio: metric{Unit: "eval/gemm"}, Goal: "<= 1.2x and <= 1 GiB", Met: []cond{{"ratio", "<=", 1.2}, {"peak_rss_MiB", "<=", 1024}}},
}

// benchLine is one parsed benchmark result line.
type benchLine struct {
	Name    string
	Metrics map[string]float64
}

var lineRe = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+(.*)$`)

func parse(out string) []benchLine {
	var res []benchLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := lineRe.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		bl := benchLine{Name: m[1], Metrics: map[string]float64{}}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				bl.Metrics[f[i+1]] = v
			}
		}
		res = append(res, bl)
	}
	return res
}

func find(lines []benchLine, pattern, unit string) (float64, string, bool) {
	re := regexp.MustCompile(pattern)
	for _, l := range lines {
		if re.MatchString(l.Name) {
			if v, ok := l.Metrics[unit]; ok {
				return v, l.Name, true
			}
		}
	}
	return 0, "", false
}

// figure is one value read for a row: the value (scaled), the label to
// print it with, and the benchmark line it came from.
type figure struct {
	V     float64
	Label string
	From  string
}

// read finds metric m in lines (the row's line pattern unless m has its
// own); ok is false when the output does not carry it.
func (rw row) read(lines []benchLine, m metric) (figure, bool) {
	if len(m.Best) > 0 {
		var best figure
		found := false
		for _, alt := range m.Best {
			if alt.Line == "" {
				alt.Line = m.Line
			}
			if f, ok := rw.read(lines, alt); ok && (!found || f.V > best.V) {
				best, found = f, true
			}
		}
		return best, found
	}
	if m.Unit == "" {
		return figure{}, false
	}
	pat := m.Line
	if pat == "" {
		pat = rw.Line
	}
	if pat == "" {
		pat = "."
	}
	v, name, ok := find(lines, pat, m.Unit)
	// NaN or Inf (a ratio over a 0 that was not measured) is no figure
	if !ok || (m.NonZero && v == 0) || math.IsNaN(v) || math.IsInf(v, 0) {
		return figure{}, false
	}
	if m.Scale != 0 {
		v *= m.Scale
	}
	label := m.Label
	if label == "" {
		label = m.Unit
	}
	return figure{V: v, Label: label, From: name}, true
}

// measure reads a row's figures from its run's output: "ours", "anchor",
// "ratio" and each Extra metric by its Unit. A figure the output does not
// carry is absent from the map.
func (rw row) measure(lines []benchLine) map[string]figure {
	got := map[string]figure{}
	if f, ok := rw.read(lines, rw.Ours); ok {
		got["ours"] = f
	}
	if f, ok := rw.read(lines, rw.Anchor); ok {
		got["anchor"] = f
	}
	_, okO := got["ours"]
	_, okA := got["anchor"]
	hasO := rw.Ours.Unit != "" || len(rw.Ours.Best) > 0
	hasA := rw.Anchor.Unit != "" || len(rw.Anchor.Best) > 0
	switch {
	case rw.Ratio.Unit != "":
		// the ratio relates the two figures shown: a ratio read beside a
		// figure that is not measured (a peak RSS read as 0, no VmHWM line,
		// gives rss_ratio 0) is not a measurement either
		if f, ok := rw.read(lines, rw.Ratio); ok && (okO || !hasO) && (okA || !hasA) {
			got["ratio"] = f
		}
	case rw.RatioFn != nil:
		o, okO := got["ours"]
		a, okA := got["anchor"]
		if okO && okA {
			got["ratio"] = figure{V: rw.RatioFn(o.V, a.V)}
		}
	}
	for _, m := range rw.Extra {
		if f, ok := rw.read(lines, m); ok {
			got[m.Unit] = f
		}
	}
	return got
}

// verdict is the met column: "" for a row without a goal, "**no**" if a
// measured condition fails, "not measured" if a condition's figure is
// missing (and none fails), else "yes".
func verdict(conds []cond, got map[string]figure) string {
	if len(conds) == 0 {
		return ""
	}
	missing := false
	for _, c := range conds {
		f, ok := got[c.Of]
		if !ok {
			missing = true
			continue
		}
		if !c.holds(f.V) {
			return "**no**"
		}
	}
	if missing {
		return "not measured"
	}
	return "yes"
}

// op is the row's operation label with its {name} placeholders filled from
// the run's raw output (see row.Vars).
func (rw row) op(raw string) string {
	op := rw.Op
	for name, pat := range rw.Vars {
		val := "(not in the output)"
		if m := regexp.MustCompile(pat).FindStringSubmatch(raw); m != nil {
			val = m[1]
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				val = thousands(n)
			}
		}
		op = strings.ReplaceAll(op, "{"+name+"}", val)
	}
	if rw.Note != "" {
		op += " (" + rw.Note + ")"
	}
	return op
}

// thousands prints n with comma separators: 3400000 -> 3,400,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// tableRow renders one row from its run's parsed lines and raw output;
// skipped is the reason the run was skipped ("" if it ran).
func tableRow(rw row, lines []benchLine, raw, skipped string) string {
	op := rw.op(raw)
	if rw.NotRun != "" {
		return fmt.Sprintf("| %s | %s | | | %s | not measured |\n", op, rw.NotRun, rw.Goal)
	}
	if skipped != "" {
		met := ""
		if len(rw.Met) > 0 {
			met = "not measured"
		}
		return fmt.Sprintf("| %s | skipped: %s | | | %s | %s |\n", op, skipped, rw.Goal, met)
	}
	got := rw.measure(lines)
	// A figure missing from a failed run's output says the run failed: the
	// reader must not take it for a benchmark that does not report it.
	fail := runFailure(raw)
	notMeasured := "(not measured)"
	if fail != "" {
		notMeasured = "(not measured: " + fail + ")"
	}
	cell := func(name string, m metric) string {
		if m.Unit == "" && len(m.Best) == 0 {
			return "–"
		}
		f, ok := got[name]
		if !ok {
			return notMeasured
		}
		return fmtCmp(f.V, name, rw.Met) + " " + f.Label
	}
	ours := cell("ours", rw.Ours)
	if rw.Ours.Unit == "" && len(rw.Ours.Best) == 0 && !rw.anyLine(lines) {
		// a context row reads no figure: say when its benchmark left no line
		pat := rw.Line
		if pat == "" {
			pat = "."
		}
		ours = "(no benchmark line matching `" + strings.ReplaceAll(pat, "|", `\|`) + "` in the output"
		if fail != "" {
			ours += ": " + fail
		}
		ours += ")"
	}
	for _, m := range rw.Extra {
		if f, ok := got[m.Unit]; ok {
			v := fmtCmp(f.V, m.Unit, rw.Met)
			if f.V == math.Trunc(f.V) { // a count: 0 content reads, not 0.00
				v = strconv.FormatFloat(f.V, 'f', 0, 64)
			}
			ours += ", " + v + " " + f.Label
		} else if fail != "" {
			ours += ", (" + m.Label + " not measured: " + fail + ")"
		} else {
			ours += ", (" + m.Label + " not measured)"
		}
	}
	ratio := "–"
	if f, ok := got["ratio"]; ok {
		ratio = fmtCmp(f.V, "ratio", rw.Met)
	} else if rw.Ratio.Unit != "" || rw.RatioFn != nil {
		ratio = notMeasured
	}
	met := verdict(rw.Met, got)
	if met == "not measured" && fail != "" {
		met = "not measured (" + fail + ")"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", op, ours, cell("anchor", rw.Anchor), ratio, rw.Goal, met)
}

// anyLine reports whether a benchmark line of lines matches the row's line
// pattern (any line when it has none).
func (rw row) anyLine(lines []benchLine) bool {
	pat := rw.Line
	if pat == "" {
		pat = "."
	}
	re := regexp.MustCompile(pat)
	for _, l := range lines {
		if re.MatchString(l.Name) {
			return true
		}
	}
	return false
}

var (
	exitRe = regexp.MustCompile(`(?m)^\(exit: (.*)\)$`)
	failRe = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
)

// runFailure says how the run whose raw output is raw failed ("" if it did
// not): the failed benchmarks, and the exit status main appends to the
// output of a `go test` that exits non-zero.
func runFailure(raw string) string {
	var failed []string
	for _, m := range failRe.FindAllStringSubmatch(raw, -1) {
		failed = append(failed, m[1])
	}
	m := exitRe.FindStringSubmatch(raw)
	if m == nil && len(failed) == 0 {
		return ""
	}
	s := "the run failed"
	if len(failed) > 0 {
		s += " (" + strings.Join(failed, ", ") + ")"
	}
	if m != nil {
		s += ": " + m[1]
	}
	return s + ", see the raw output"
}

// fmtCmp prints v, the figure named of, as fmtNum does, but with more
// decimals when the rounded value would compare differently from v with a
// condition of the goal (59.96 printed "60.0" beside "no" for >= 60, or
// 2.996 printed "3.00" beside "yes" for < 3).
func fmtCmp(v float64, of string, conds []cond) string {
	dec := 0
	if i := strings.IndexByte(fmtNum(v), '.'); i >= 0 {
		dec = len(fmtNum(v)) - i - 1
	}
	for ; dec <= 12; dec++ {
		s := strconv.FormatFloat(v, 'f', dec, 64)
		shown, err := strconv.ParseFloat(s, 64)
		if err != nil {
			break
		}
		same := true
		for _, c := range conds {
			if c.Of == of && c.holds(shown) != c.holds(v) {
				same = false
			}
		}
		if same {
			return s
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// untabled lists the benchmark lines of run id's output that no row of the
// table reads (nor names by its Line): measured, but missing from the table.
func untabled(id string, lines []benchLine) []string {
	used := map[string]bool{}
	for _, rw := range rows {
		if rw.Run != id || rw.NotRun != "" {
			continue
		}
		for _, f := range rw.measure(lines) {
			used[f.From] = true
		}
		if rw.Line != "" {
			re := regexp.MustCompile(rw.Line)
			for _, l := range lines {
				if re.MatchString(l.Name) {
					used[l.Name] = true
				}
			}
		}
	}
	var out []string
	for _, l := range lines {
		if !used[l.Name] {
			out = append(out, l.Name)
		}
	}
	return out
}

func main() {
	out := flag.String("out", "docs/BENCHMARKS.md", "Markdown file to write")
	only := flag.String("only", "", "run only the runs whose id matches this regexp")
	flag.Parse()
	onlyRe := regexp.MustCompile(*only)

	results := map[string][]benchLine{}
	raw := map[string]string{}
	skipped := map[string]string{}
	var ids []string
	for _, r := range runs {
		if !onlyRe.MatchString(r.ID) {
			continue
		}
		ids = append(ids, r.ID)
		if r.Needs != nil {
			if why := r.Needs(); why != "" {
				skipped[r.ID] = why
				continue
			}
		}
		args := []string{"test", "-run", "^$", "-bench", r.Bench, "-benchtime", r.Time, "-count", "1"}
		if r.Tags != "" {
			args = append(args, "-tags", r.Tags)
		}
		to := r.Timeout
		if to == "" {
			to = "20m"
		}
		args = append(args, "-timeout", to, r.Pkg)
		if len(r.Args) > 0 {
			args = append(append(args, "-args"), r.Args...)
		}
		fmt.Fprintf(os.Stderr, "benchdoc: go %s\n", strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), r.Env...)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		start := time.Now()
		err := cmd.Run()
		text := buf.String()
		if err != nil {
			text += fmt.Sprintf("\n(exit: %v)\n", err)
		}
		raw[r.ID] = fmt.Sprintf("$ %sgo %s   # %s\n%s", envPrefix(r.Env), strings.Join(args, " "), time.Since(start).Round(time.Second), text)
		results[r.ID] = parse(text)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nRegenerated by `go tool task bench` (internal/tools/benchdoc) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %s, GOMAXPROCS %d. Each row's figure and anchor come from the same benchmark run, side by side; the ratio is computed from them. Timings on a shared 2-core VM are noisy: treat differences under about 15%% as noise, and see the per-area notes for CPU-time figures and profiles.\n\n",
		runtime.NumCPU(), hostinfo.CPUModel(), runtime.Version(), runtime.GOMAXPROCS(0))
	if blas := openblasBuild(raw["train-openblas"]); blas != "" {
		fmt.Fprintf(&b, "The OpenBLAS rows ran against %s, as the train benchmark logs it (which libopenblas.so.0 a binary loads is the system's choice: `update-alternatives`, or `LD_LIBRARY_PATH`; see the README).\n\n", blas)
	}
	b.WriteString("| operation | coderflow | anchor (same run) | ratio | goal | met |\n|---|---|---|---|---|---|\n")
	for _, rw := range rows {
		if !onlyRe.MatchString(rw.Run) {
			continue
		}
		b.WriteString(tableRow(rw, results[rw.Run], raw[rw.Run], skipped[rw.Run]))
	}
	if onlyRe.MatchString("cached") {
		b.WriteString(cachedRun())
	}
	var extra []string
	for _, id := range ids {
		for _, name := range untabled(id, results[id]) {
			extra = append(extra, fmt.Sprintf("`%s` (%s)", name, id))
		}
	}
	if len(extra) > 0 {
		fmt.Fprintf(os.Stderr, "benchdoc: benchmark lines in no table row: %s\n", strings.Join(extra, ", "))
		fmt.Fprintf(&b, "\nIn the raw output but in no row of the table: %s.\n", strings.Join(extra, ", "))
	}
	notes, _ := filepath.Glob("docs/bench/*.md")
	sort.Strings(notes)
	if len(notes) > 0 {
		b.WriteString("\n## Per-area notes\n\nAnalysis, profiles and earlier measurements by area: ")
		for i, n := range notes {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "[%s](%s)", strings.TrimSuffix(filepath.Base(n), ".md"), strings.TrimPrefix(n, "docs/"))
		}
		b.WriteString(".\n")
	}
	b.WriteString("\n## Raw output\n\n")
	for _, id := range ids {
		if why, ok := skipped[id]; ok {
			fmt.Fprintf(&b, "### %s\n\nskipped: %s\n\n", id, why)
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n```\n%s\n```\n\n", id, strings.TrimSpace(raw[id]))
	}
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "benchdoc: wrote %s\n", *out)
}

func envPrefix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return strings.Join(env, " ") + " "
}

func fmtNum(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// cachedRun times a fully cached `coderflow run workflows/demo.yaml` against
// `coderflow version`, interleaved, in the same run (goal: <= 2x). It runs
// the demo first if it is not cached yet in the default workdir.
func cachedRun() string {
	bin := filepath.Join(os.TempDir(), "coderflow-bench")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/coderflow").CombinedOutput(); err != nil {
		return fmt.Sprintf("\ncached run: build failed: %v\n%s\n", err, out)
	}
	wd := filepath.Join(".coderflow")
	if out, err := exec.Command(bin, "run", "workflows/demo.yaml", "--workdir", wd, "--no-progress", "-q").CombinedOutput(); err != nil {
		return fmt.Sprintf("\ncached run: the demo failed: %v\n%s\n", err, out)
	}
	const reps = 10
	var tRun, tVer time.Duration
	for range reps {
		t0 := time.Now()
		if out, err := exec.Command(bin, "run", "workflows/demo.yaml", "--workdir", wd, "--no-progress", "-q").CombinedOutput(); err != nil {
			return fmt.Sprintf("\ncached run failed: %v\n%s\n", err, out)
		}
		t1 := time.Now()
		if err := exec.Command(bin, "version").Run(); err != nil {
			return fmt.Sprintf("\nversion failed: %v\n", err)
		}
		tRun += t1.Sub(t0)
		tVer += time.Since(t1)
	}
	r := float64(tRun) / float64(tVer)
	goal := []cond{{"ratio", "<=", 2}}
	return fmt.Sprintf("| fully cached `coderflow run workflows/demo.yaml` (mean of %d, interleaved) | %s | %s (`coderflow version`) | %s | <= 2x | %s |\n",
		reps, (tRun / reps).Round(100*time.Microsecond), (tVer / reps).Round(100*time.Microsecond), fmtCmp(r, "ratio", goal), verdict(goal, map[string]figure{"ratio": {V: r}}))
}

// openblasBuild returns the OpenBLAS build the train benchmark logged in
// out ("OpenBLAS 0.3.21 ... (OpenMP, 2 threads)"), or "".
func openblasBuild(out string) string {
	_, after, ok := strings.Cut(out, "; BLAS: OpenBLAS ")
	if !ok {
		return ""
	}
	line, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(line)
}
