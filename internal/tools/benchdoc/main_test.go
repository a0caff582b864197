package main

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

// rowsOf returns the rows of run id.
func rowsOf(t *testing.T, id string) []row {
	t.Helper()
	var out []row
	for _, rw := range rows {
		if rw.Run == id {
			out = append(out, rw)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no row for run %q", id)
	}
	return out
}

// metCell is the last cell (met) of a rendered table row.
func metCell(line string) string {
	cells := strings.Split(strings.TrimSpace(line), "|")
	return strings.TrimSpace(cells[len(cells)-2])
}

func TestVerdict(t *testing.T) {
	conds := []cond{{"ratio", "<=", 1.2}, {"peak_rss_MiB", "<=", 1024}}
	for _, tc := range []struct {
		got  map[string]figure
		want string
	}{
		{map[string]figure{"ratio": {V: 1.1}, "peak_rss_MiB": {V: 400}}, "yes"},
		{map[string]figure{"ratio": {V: 1.3}, "peak_rss_MiB": {V: 400}}, "**no**"},
		{map[string]figure{"ratio": {V: 1.1}, "peak_rss_MiB": {V: 2000}}, "**no**"},
		{map[string]figure{"peak_rss_MiB": {V: 400}}, "not measured"}, // the ratio is missing: never yes
		{map[string]figure{"ours": {V: 3}}, "not measured"},
		{map[string]figure{"ratio": {V: 1.5}}, "**no**"}, // a failing condition decides, even with one missing
		{map[string]figure{}, "not measured"},
	} {
		if got := verdict(conds, tc.got); got != tc.want {
			t.Errorf("verdict(%v) = %q, want %q", tc.got, got, tc.want)
		}
	}
	if got := verdict(nil, map[string]figure{"ratio": {V: 1}}); got != "" {
		t.Errorf("a row without a goal: %q, want empty", got)
	}
}

// TestMissingFiguresNeverMet renders every row with a goal on output that
// lacks its figures (a failed run, a renamed metric): none may say yes.
func TestMissingFiguresNeverMet(t *testing.T) {
	outputs := map[string]string{
		"empty":  "",
		"failed": "--- FAIL: BenchmarkX\n(exit: exit status 1)\n",
		// figures of ours present, every ratio and extra metric missing
		"ours only": "BenchmarkCacheCheckUnchanged/cache-check-2  10  39867599 ns/op\n" +
			"BenchmarkRecallK5K-2  1  21895063153 ns/op  11.67 eval_s\n" +
			"BenchmarkStep/small-mean/gonum-2  5  115390032 ns/op  20.80 GFLOP/s-best\n" +
			"BenchmarkLoad-2  1  12081768395 ns/op  208272 bulk_edges/s\n",
	}
	for name, out := range outputs {
		lines := parse(out)
		for _, rw := range rows {
			if len(rw.Met) == 0 {
				continue
			}
			line := tableRow(rw, lines, out, "")
			if m := metCell(line); m == "yes" {
				t.Errorf("%s output: row %q says met: %s", name, rw.Op, line)
			}
		}
	}
}

func TestCacheRow(t *testing.T) {
	rw := rowsOf(t, "cache")[0]
	anchor := "BenchmarkCacheCheckUnchanged/anchor=stat-10k-files-2  10  20565116 ns/op\n"
	for _, tc := range []struct {
		check, want string
	}{
		{"BenchmarkCacheCheckUnchanged/cache-check-2  10  39867599 ns/op  0 content_reads\n", "yes"},
		{"BenchmarkCacheCheckUnchanged/cache-check-2  10  39867599 ns/op  3 content_reads\n", "**no**"},
		{"BenchmarkCacheCheckUnchanged/cache-check-2  10  39867599 ns/op\n", "not measured"},
		{"BenchmarkCacheCheckUnchanged/cache-check-2  10  80000000 ns/op  0 content_reads\n", "**no**"}, // 3.9x stat
	} {
		out := anchor + tc.check
		line := tableRow(rw, parse(out), out, "")
		if got := metCell(line); got != tc.want {
			t.Errorf("%q: met %q, want %q\n%s", tc.check, got, tc.want, line)
		}
	}
	out := anchor + "BenchmarkCacheCheckUnchanged/cache-check-2  10  39867599 ns/op  0 content_reads\n"
	line := tableRow(rw, parse(out), out, "")
	for _, want := range []string{"| 39.9 ms, 0 content reads |", "| 20.6 ms (stat of the 10,000 files) |", "| 1.94 |"} {
		if !strings.Contains(line, want) {
			t.Errorf("cache row lacks %q:\n%s", want, line)
		}
	}
}

func TestRecallRowsPeakRSS(t *testing.T) {
	for _, id := range []string{"eval", "eval-openblas"} {
		rw := rowsOf(t, id)[0]
		for _, tc := range []struct {
			metrics, want string
		}{
			{"1.145 eval/gemm  11.67 eval_s  10.20 gemm_s  385.9 peak_rss_MiB", "yes"},
			{"1.145 eval/gemm  11.67 eval_s  10.20 gemm_s  1500 peak_rss_MiB", "**no**"},
			{"1.300 eval/gemm  11.67 eval_s  9.00 gemm_s  385.9 peak_rss_MiB", "**no**"},
			{"1.145 eval/gemm  11.67 eval_s  10.20 gemm_s", "not measured"},
			{"1.145 eval/gemm  11.67 eval_s  10.20 gemm_s  0 peak_rss_MiB", "not measured"}, // no /proc
			{"11.67 eval_s  10.20 gemm_s  385.9 peak_rss_MiB", "not measured"},
		} {
			out := "BenchmarkRecallK5K-2  1  21895063153 ns/op  " + tc.metrics + "\n"
			line := tableRow(rw, parse(out), out, "")
			if got := metCell(line); got != tc.want {
				t.Errorf("%s, %q: met %q, want %q\n%s", id, tc.metrics, got, tc.want, line)
			}
		}
		out := "BenchmarkRecallK5K-2  1  21895063153 ns/op  1.145 eval/gemm  11.67 eval_s  10.20 gemm_s  385.9 peak_rss_MiB\n"
		if line := tableRow(rw, parse(out), out, ""); !strings.Contains(line, "| 11.7 s, 385.9 MiB peak RSS |") {
			t.Errorf("%s: peak RSS not shown:\n%s", id, line)
		}
	}
}

// TestParquetAnchorIsTheRatiosDivisor: the anchor shown is the DuckDB run
// the ratio divides by (the faster of 1 and 2 threads), and says which.
func TestParquetAnchorIsTheRatiosDivisor(t *testing.T) {
	for _, tc := range []struct {
		out     string
		threads map[string]string // row op prefix -> configuration of the anchor
	}{
		{"BenchmarkParquetVsDuckDB-2  10  975134733 ns/op  305.8 arrow_read_MB/s  170.6 duck1_read_MB/s  66.15 duck1_write_MB/s  161.0 duck2_read_MB/s  72.29 duck2_write_MB/s  255.5 go_write_MB/s  1.792 x_read_vs_best_duck  3.534 x_write_vs_best_duck\n",
			map[string]string{"feature shard write": "2 threads", "feature shard read": "1 thread"}},
		{"BenchmarkParquetVsDuckDB-2  10  975134733 ns/op  305.8 arrow_read_MB/s  150.0 duck1_read_MB/s  80.00 duck1_write_MB/s  160.0 duck2_read_MB/s  60.00 duck2_write_MB/s  255.5 go_write_MB/s  1.911 x_read_vs_best_duck  3.194 x_write_vs_best_duck\n",
			map[string]string{"feature shard write": "1 thread", "feature shard read": "2 threads"}},
	} {
		lines := parse(tc.out)
		for _, rw := range rowsOf(t, "features-parquet") {
			got := rw.measure(lines)
			o, a, r := got["ours"], got["anchor"], got["ratio"]
			if math.Abs(o.V/a.V-r.V) > 0.005*r.V {
				t.Errorf("%s: ratio %.3f is not ours/anchor = %.1f/%.1f = %.3f", rw.Op, r.V, o.V, a.V, o.V/a.V)
			}
			for prefix, threads := range tc.threads {
				if strings.HasPrefix(rw.Op, prefix) && !strings.Contains(a.Label, ", "+threads+":") {
					t.Errorf("%s: anchor %.1f labelled %q, want %s", rw.Op, a.V, a.Label, threads)
				}
			}
		}
	}
}

func TestKGLoadLabelStatesEdgeCount(t *testing.T) {
	rw := rowsOf(t, "kgload")[0]
	out := "BenchmarkLoad-2  1  12081768395 ns/op  208272 bulk_edges/s  18172 quadwriter_edges/s  11.46 speedup\n" +
		"--- BENCH: BenchmarkLoad-2\n" +
		"    bench_test.go:124: 200000 edges (199996 distinct quads, 68859 nodes): bulk 1.0s wall\n" +
		"BenchmarkLoadBulk-2  1  895691865 ns/op  223417 edges/s\n"
	line := tableRow(rw, parse(out), out, "")
	if !strings.Contains(line, "200,000 generated English edges") || strings.Contains(line, "{edges}") {
		t.Errorf("edge count not in the label:\n%s", line)
	}
	if metCell(line) != "yes" {
		t.Errorf("kg row not met:\n%s", line)
	}
	out = strings.ReplaceAll(out, "200000 edges", "3400000 edges")
	if line := tableRow(rw, parse(out), out, ""); !strings.Contains(line, "3,400,000 generated English edges") {
		t.Errorf("edge count not in the label:\n%s", line)
	}
	noLog := "BenchmarkLoad-2  1  12081768395 ns/op  208272 bulk_edges/s  18172 quadwriter_edges/s  11.46 speedup\n"
	if line := tableRow(rw, parse(noLog), noLog, ""); !strings.Contains(line, "(not in the output) generated") {
		t.Errorf("a missing edge count is not said so:\n%s", line)
	}
}

// goBenchSelects reports whether `go test -bench pattern` runs the
// (sub-)benchmark name, as the testing package matches: top-level '|'
// separates alternatives, '/' separates the levels of the name, each level
// matched unanchored (testing/match.go, splitRegexp).
func goBenchSelects(pattern, name string) bool {
	var alts [][]string
	var cur []string
	depth, class := 0, false
	start := 0
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\':
			i++
		case c == '[':
			class = true
		case c == ']':
			class = false
		case c == '(' && !class:
			depth++
		case c == ')' && !class:
			depth--
		case (c == '/' || c == '|') && !class && depth == 0:
			cur = append(cur, pattern[start:i])
			start = i + 1
			if c == '|' {
				alts, cur = append(alts, cur), nil
			}
		}
	}
	alts = append(alts, append(cur, pattern[start:]))
	elems := strings.Split(name, "/")
alt:
	for _, a := range alts {
		for i, p := range a {
			if i < len(elems) && !regexp.MustCompile(p).MatchString(elems[i]) {
				continue alt
			}
		}
		return true
	}
	return false
}

func TestGoBenchSelects(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"BenchmarkStep/(small|full-mean)", "BenchmarkStep/small-bigru/gonum", true},
		{"BenchmarkStep/(small|full-mean)", "BenchmarkStep/full-bigru/gonum", false},
		{"BenchmarkStep|BenchmarkProductsOfStep/small-mean", "BenchmarkStep/full-bigru/openblas", true},
		{"BenchmarkStep|BenchmarkProductsOfStep/small-mean", "BenchmarkProductsOfStep/full-mean/openblas", false},
		{"BenchmarkStep|BenchmarkProductsOfStep/small-mean", "BenchmarkProductsOfStep/small-mean/openblas", true},
	} {
		if got := goBenchSelects(tc.pat, tc.name); got != tc.want {
			t.Errorf("goBenchSelects(%q, %q) = %v", tc.pat, tc.name, got)
		}
	}
}

// TestTrainRowSelection: every BenchmarkStep sub-benchmark that task bench
// runs has exactly one row that reads its own line, and every one it does
// not run has a row saying so; no line of the training runs' output is left
// out of the table.
func TestTrainRowSelection(t *testing.T) {
	configs := []string{"small-mean", "small-bigru", "full-mean", "full-bigru"}
	for _, blas := range []string{"gonum", "openblas"} {
		var trainRuns []run
		for _, r := range runs {
			if r.Pkg == "./train" && strings.Contains(r.Tags, "openblas") == (blas == "openblas") {
				trainRuns = append(trainRuns, r)
			}
		}
		if len(trainRuns) == 0 {
			t.Fatalf("no ./train run for %s", blas)
		}
		for _, r := range trainRuns {
			// the run's output: one line per selected sub-benchmark, each
			// with its own figures
			var out strings.Builder
			want := map[string]float64{}
			for i, c := range configs {
				for _, top := range []string{"BenchmarkStep", "BenchmarkProductsOfStep"} {
					name := top + "/" + c + "/" + blas
					if !goBenchSelects(r.Bench, name) {
						continue
					}
					v := float64(10 + i)
					if top == "BenchmarkProductsOfStep" {
						v += 100
					}
					want[name] = v
					fmt.Fprintf(&out, "%s-2  5  115390032 ns/op  %g %%-of-sgemm  %g GFLOP/s-best  %g ms-products-best  30 sgemm-GFLOP/s-best\n", name, 60+v, v, v)
				}
			}
			lines := parse(out.String())
			if len(lines) == 0 {
				t.Fatalf("run %s (%q) selects nothing", r.ID, r.Bench)
			}
			if u := untabled(r.ID, lines); len(u) > 0 {
				t.Errorf("run %s: lines in no row: %v", r.ID, u)
			}
			for _, c := range configs {
				name := "BenchmarkStep/" + c + "/" + blas
				var own []row
				for _, rw := range rows {
					if rw.Run == r.ID && rw.Line != "" && regexp.MustCompile(rw.Line).MatchString(name+"-2") {
						own = append(own, rw)
					}
				}
				if _, ran := want[name]; !ran {
					continue
				}
				if len(own) != 1 || own[0].NotRun != "" {
					t.Errorf("run %s runs %s: %d rows for it, want 1 measured row", r.ID, name, len(own))
					continue
				}
				got := own[0].measure(lines)
				if got["ours"].V != want[name] || got["ours"].From != name+"-2" {
					t.Errorf("row %q reads %v from %s, want %v from %s", own[0].Op, got["ours"].V, got["ours"].From, want[name], name)
				}
				if metCell(tableRow(own[0], lines, out.String(), "")) == "not measured" {
					t.Errorf("row %q not measured", own[0].Op)
				}
			}
		}
		// sub-benchmarks no run selects: a row that says it is not run
		for _, c := range configs {
			name := "BenchmarkStep/" + c + "/" + blas
			ran := false
			for _, r := range trainRuns {
				ran = ran || goBenchSelects(r.Bench, name)
			}
			if ran {
				continue
			}
			found := false
			for _, rw := range rows {
				if rw.NotRun != "" && rw.Line != "" && regexp.MustCompile(rw.Line).MatchString(name+"-2") {
					found = true
					if line := tableRow(rw, nil, "", ""); !strings.Contains(line, "not run by task bench") || metCell(line) == "yes" {
						t.Errorf("not-run row: %s", line)
					}
				}
			}
			if !found {
				t.Errorf("%s is not run by task bench and no row says so", name)
			}
		}
	}
}

// TestStepLabels: the small size is not workflows/demo.yaml's, and the
// labels give the benchmark's sizes.
func TestStepLabels(t *testing.T) {
	for _, rw := range rows {
		if strings.Contains(rw.Op, "demo default") {
			t.Errorf("row still labelled demo default: %q", rw.Op)
		}
		if strings.Contains(rw.Line, "small-") && strings.HasPrefix(rw.Op, "train step") && !strings.Contains(rw.Op, "36 x 256-d regions, D=256") {
			t.Errorf("small row without its sizes: %q", rw.Op)
		}
	}
}

// TestUntabledListsExtraLines: a benchmark line no row reads is reported.
func TestUntabledListsExtraLines(t *testing.T) {
	out := "BenchmarkLoad-2  1  12081768395 ns/op  208272 bulk_edges/s  18172 quadwriter_edges/s  11.46 speedup\n" +
		"BenchmarkLoadBulk-2  1  895691865 ns/op  223417 edges/s\n"
	if got := untabled("kgload", parse(out)); len(got) != 1 || got[0] != "BenchmarkLoadBulk-2" {
		t.Errorf("untabled = %v, want [BenchmarkLoadBulk-2]", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 200000: "200,000", 3400000: "3,400,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestOpenBLASBuild(t *testing.T) {
	out := "BenchmarkStep/small-mean/openblas-2 \t 8\t 31498312 ns/op\n--- BENCH: BenchmarkStep/small-mean/openblas-2\n" +
		"    bench_test.go:210: small-mean: dominant GEMM similarities vs keys (graph) 128x256x1152; BLAS: OpenBLAS OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH USE_OPENMP Cooperlake MAX_THREADS=64 (OpenMP, 2 threads)\n"
	if got, want := openblasBuild(out), "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH USE_OPENMP Cooperlake MAX_THREADS=64 (OpenMP, 2 threads)"; got != want {
		t.Errorf("openblasBuild = %q, want %q", got, want)
	}
	if got := openblasBuild("no log line"); got != "" {
		t.Errorf("openblasBuild without a log line = %q, want empty", got)
	}
}

// TestFailedRunSaysSo: a row whose figures are missing because its run
// failed says the run failed (in its cells and met column), and a context
// row without figures says when no line of its benchmark is in the output,
// instead of looking like a row that ran.
func TestFailedRunSaysSo(t *testing.T) {
	failed := "--- FAIL: BenchmarkRecallK5K-2\n    bench_test.go:40: out of memory\nFAIL\nexit status 1\nFAIL\tcoderflow/train/eval\t3.1s\nFAIL\n\n(exit: exit status 1)\n"
	rw := rowsOf(t, "eval")[0]
	line := tableRow(rw, parse(failed), failed, "")
	for _, want := range []string{"(not measured: the run failed (BenchmarkRecallK5K-2): exit status 1", "not measured (the run failed"} {
		if !strings.Contains(line, want) {
			t.Errorf("failed eval run: row lacks %q:\n%s", want, line)
		}
	}
	if m := metCell(line); !strings.HasPrefix(m, "not measured") {
		t.Errorf("failed eval run: met %q", m)
	}
	// the run ran fine but one figure is not reported: no failure claimed
	ok := "BenchmarkRecallK5K-2  1  21895063153 ns/op  1.145 eval/gemm  11.67 eval_s  10.20 gemm_s\nPASS\n"
	if line := tableRow(rw, parse(ok), ok, ""); strings.Contains(line, "failed") || metCell(line) != "not measured" {
		t.Errorf("passing run without peak RSS:\n%s", line)
	}

	tok := rowsOf(t, "tokenize")[0]
	for _, tc := range []struct {
		out, want string
	}{
		{"BenchmarkTokenize/tokenize-2  3  2471044 anchor-captions/s  1264337 captions/s\nPASS\n", "| – |"},
		{"--- FAIL: BenchmarkTokenize/tokenize-2\nFAIL\n\n(exit: exit status 1)\n", "no benchmark line matching `^BenchmarkTokenize/` in the output: the run failed"},
		{"PASS\n", "no benchmark line matching `^BenchmarkTokenize/` in the output)"},
	} {
		if line := tableRow(tok, parse(tc.out), tc.out, ""); !strings.Contains(line, tc.want) {
			t.Errorf("tokenize row on %q lacks %q:\n%s", tc.out, tc.want, line)
		}
	}
}

// TestShownRatioAgreesWithMet: the printed figure never rounds across the
// goal's threshold, so the table cannot show "60.0" beside "no" for >= 60
// or "3.00" beside "yes" for < 3.
func TestShownRatioAgreesWithMet(t *testing.T) {
	for _, tc := range []struct {
		v     float64
		conds []cond
		want  string
	}{
		{59.96, []cond{{"ratio", ">=", 60}}, "59.96"},
		{2.996, []cond{{"ratio", "<", 3}}, "2.996"},
		{1.2004, []cond{{"ratio", "<=", 1.2}}, "1.2004"},
		{43.18, []cond{{"ratio", ">=", 60}}, "43.2"},
		{2.44, []cond{{"ratio", "<", 3}}, "2.44"},
		{59.96, []cond{{"ours", ">=", 60}}, "60.0"}, // a condition on another figure
		{3, []cond{{"ratio", "<", 3}}, "3.00"},
	} {
		got := fmtCmp(tc.v, "ratio", tc.conds)
		if got != tc.want {
			t.Errorf("fmtCmp(%v, %v) = %q, want %q", tc.v, tc.conds, got, tc.want)
		}
	}
	// through a whole row: the train step goal is >= 60 % of SGEMM
	rw := rowsOf(t, "train")[0]
	out := "BenchmarkStep/small-mean/gonum-2  5  94405925 ns/op  59.96 %-of-sgemm  22.47 GFLOP/s-best  29.37 sgemm-GFLOP/s-best\n"
	line := tableRow(rw, parse(out), out, "")
	if metCell(line) != "**no**" || !strings.Contains(line, "| 59.96 |") {
		t.Errorf("59.96 %% of SGEMM:\n%s", line)
	}
}

// TestSkippedRowWithGoal: a skipped run's row with a goal says not measured
// in its met column, not an empty cell.
func TestSkippedRowWithGoal(t *testing.T) {
	rw := rowsOf(t, "eval-openblas")[0]
	line := tableRow(rw, nil, "", "OpenBLAS not installed")
	if !strings.Contains(line, "skipped: OpenBLAS not installed") || metCell(line) != "not measured" {
		t.Errorf("skipped row:\n%s", line)
	}
}

// TestGoalConditionsNameFigures: every condition of a goal names a figure
// its row reads; a typo would leave the row "not measured" forever.
func TestGoalConditionsNameFigures(t *testing.T) {
	for _, rw := range rows {
		for _, c := range rw.Met {
			ok := false
			switch c.Of {
			case "ours":
				ok = rw.Ours.Unit != "" || len(rw.Ours.Best) > 0
			case "anchor":
				ok = rw.Anchor.Unit != "" || len(rw.Anchor.Best) > 0
			case "ratio":
				ok = rw.Ratio.Unit != "" || rw.RatioFn != nil
			default:
				for _, m := range rw.Extra {
					ok = ok || m.Unit == c.Of
				}
			}
			if !ok && rw.NotRun == "" {
				t.Errorf("row %q: condition on %q, a figure the row does not read", rw.Op, c.Of)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("row %q: %v", rw.Op, r)
					}
				}()
				c.holds(0)
			}()
		}
	}
}

// TestUnmeasuredRSSNeverMet: the child's peak RSS reads 0 when it cannot be
// measured; the ratio over it (0, NaN or Inf) is no measurement either.
func TestUnmeasuredRSSNeverMet(t *testing.T) {
	rw := rowsOf(t, "features")[1]
	if rw.Line != "PeakRSS" {
		t.Fatalf("second features row is %q", rw.Op)
	}
	for _, tc := range []struct {
		metrics, want string
	}{
		{"577.8 img/s_8750  76.80 rss8750_MiB  73.24 rss875_MiB  1.049 rss_ratio", "yes"},
		{"577.8 img/s_8750  90.00 rss8750_MiB  73.24 rss875_MiB  1.229 rss_ratio", "**no**"},
		{"577.8 img/s_8750  0 rss8750_MiB  73.24 rss875_MiB  0 rss_ratio", "not measured"},
		{"577.8 img/s_8750  76.80 rss8750_MiB  0 rss875_MiB  +Inf rss_ratio", "not measured"},
		{"577.8 img/s_8750  0 rss8750_MiB  0 rss875_MiB  NaN rss_ratio", "not measured"},
	} {
		out := "BenchmarkPeakRSS-2  1  16771303445 ns/op  " + tc.metrics + "\n"
		line := tableRow(rw, parse(out), out, "")
		if got := metCell(line); got != tc.want {
			t.Errorf("%q: met %q, want %q\n%s", tc.metrics, got, tc.want, line)
		}
	}
}
