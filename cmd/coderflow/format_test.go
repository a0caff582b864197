package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// valueColumns returns, for each line of out that matches line, the byte
// offset where its value column (submatch 1) starts.
func valueColumns(out string, line *regexp.Regexp) []int {
	var cols []int
	for _, l := range strings.Split(out, "\n") {
		if m := line.FindStringSubmatchIndex(l); m != nil {
			cols = append(cols, m[2])
		}
	}
	return cols
}

func sameColumn(t *testing.T, what, out string, cols []int) {
	t.Helper()
	if len(cols) < 2 {
		t.Fatalf("%s: %d rows found in\n%s", what, len(cols), out)
	}
	for _, c := range cols[1:] {
		if c != cols[0] {
			t.Errorf("%s: the values do not start in one column (%v):\n%s", what, cols, out)
			return
		}
	}
}

// TestStagesColumnsAligned: `coderflow stages KIND` lines its params up
// even when a name (max_missing_fraction) or a type (list of strings) is
// longer than the usual column.
func TestStagesColumnsAligned(t *testing.T) {
	code, out := cli(t, "stages", "dataset.coco")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "max_missing_fraction") || !strings.Contains(out, "list of strings") {
		t.Fatalf("dataset.coco has no long param name or type any more; pick another kind:\n%s", out)
	}
	sameColumn(t, "stages dataset.coco", out, valueColumns(out, regexp.MustCompile(`^    \S+ +\S.*? +((?:default|optional|required)\b.*)$`)))
}

// TestInspectManifestColumnsAligned: inspect WF STAGE lines up the params
// and info values whatever the length of their names.
func TestInspectManifestColumnsAligned(t *testing.T) {
	a := &pipeline.Artifact{Stage: "features", Dir: "/cache/features.regions/k", Manifest: &pipeline.Manifest{
		Stage: "features", Kind: "features.regions", Version: "3", Key: "k",
		Params: map[string]any{"regions": 36, "max_fail_fraction": 0.01, "a_much_longer_param_name": "x"},
		Info:   map[string]any{"images": 2000, "extension_mismatch": 0, "failed_by_reason_and_more": map[string]int{}},
	}}
	var out bytes.Buffer
	printManifest(&out, a)
	section := func(name string) string {
		s := out.String()
		i := strings.Index(s, name+":\n")
		if i < 0 {
			t.Fatalf("no %s section in\n%s", name, s)
		}
		s = s[i+len(name)+2:]
		if j := regexp.MustCompile(`(?m)^\S`).FindStringIndex(s); j != nil {
			s = s[:j[0]]
		}
		return s
	}
	row := regexp.MustCompile(`^  \S+ +(\S.*)$`)
	for _, name := range []string{"params", "info"} {
		s := section(name)
		sameColumn(t, name, s, valueColumns(s, row))
	}
}

// TestManifestMetricsLikeMetricsCommand: inspect WF STAGE (and the end of
// run) print metrics as `coderflow metrics` does: a count as a whole
// number (it was images_failed 0.00), other values to 4 digits.
func TestManifestMetricsLikeMetricsCommand(t *testing.T) {
	a := &pipeline.Artifact{Stage: "evaluate", Dir: "/cache/evaluate/k", Manifest: &pipeline.Manifest{
		Stage: "evaluate", Kind: "evaluate", Version: "1", Key: "k",
		Metrics: map[string]float64{"images_failed": 0, "rsum": 537.5, "i2t_meanr": 1.555},
	}}
	var out bytes.Buffer
	printManifest(&out, a)
	for _, want := range []string{"images_failed  0\n", "rsum           537.5\n", "i2t_meanr      1.555\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

// TestFmtDuration: durations in tables; a positive one under a millisecond
// is "<1ms", not "0s".
func TestFmtDuration(t *testing.T) {
	for _, tc := range []struct {
		sec  float64
		want string
	}{
		{0, "0s"},
		{0.000055, "<1ms"}, // was 0s, as if nothing was measured
		{0.0114, "11ms"},
		{4.26, "4.3s"},
		{67.2, "1m7s"},
	} {
		if got := fmtDuration(tc.sec); got != tc.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tc.sec, got, tc.want)
		}
	}
}

// TestStatusHelpExplainsStatuses: status --help says what cached, stale and
// missing mean (it had only its one-line summary).
func TestStatusHelpExplainsStatuses(t *testing.T) {
	code, out := cli(t, "status", "--help")
	for _, want := range []string{"cached   its artifact is in the cache", "stale    it is not, and the stage's latest run had another key", "missing  it has not run with this key"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status --help: exit %d, no %q in\n%s", code, want, out)
		}
	}
}

// TestTableScreenColumns: table lines its columns up on the screen, not in
// bytes, whatever the names hold (accents, CJK, combining marks), and shows
// a control character or a byte that is not UTF-8 escaped, so a metric or
// concept name cannot move the cursor or redraw the line.
func TestTableScreenColumns(t *testing.T) {
	var out bytes.Buffer
	table(&out, []string{"NAME", "VALUE", "NOTE"}, [][]string{
		{"plain", "1", "a"},
		{"café", "2", "b"},
		{"cafe\u0301", "3", "c"}, // e + combining acute
		{"狗", "4", "d"},
		{"esc\x1b[2Jx", "5", "e"},
		{"cr\rx", "6", "f"},
		{"bad\xffbyte", "7", "g"},
	})
	want := "NAME         VALUE  NOTE\n" +
		"plain        1      a\n" +
		"café         2      b\n" +
		"cafe\u0301         3      c\n" +
		"狗           4      d\n" +
		`esc\x1b[2Jx  5      e` + "\n" +
		`cr\rx        6      f` + "\n" +
		`bad\xffbyte  7      g` + "\n"
	if got := out.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s\n(got %q)", got, want, got)
	}
}
