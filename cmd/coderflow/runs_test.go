package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runMini runs miniWF once in a fresh directory (once more per extra set of
// --set flags) and returns the workflow file, the --workdir flag and the
// workdir.
func runMini(t *testing.T, sets ...[]string) (wf, wdFlag, wd string) {
	t.Helper()
	dir := t.TempDir()
	wf = filepath.Join(dir, "mini.yaml")
	if err := os.WriteFile(wf, []byte(miniWF), 0o644); err != nil {
		t.Fatal(err)
	}
	wd = filepath.Join(dir, "wd")
	wdFlag = "--workdir=" + wd
	for _, s := range append([][]string{nil}, sets...) {
		args := append([]string{"run", wf, wdFlag, "--no-progress"}, s...)
		if code, out := cli(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	return wf, wdFlag, wd
}

// runIDs returns the ids of the run records of workflow mini, oldest first.
func runIDs(t *testing.T, wd string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(wd, "runs", "mini", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no run records in %s: %v", wd, err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	return ids
}

// addUnfinishedRuns copies the latest run record of mini as the records of
// two newer runs with no end, one still running and one killed, as a
// SIGKILL leaves them, and returns their ids.
func addUnfinishedRuns(t *testing.T, wd string) []string {
	t.Helper()
	ids := runIDs(t, wd)
	dir := filepath.Join(wd, "runs", "mini")
	b, err := os.ReadFile(filepath.Join(dir, ids[len(ids)-1]+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for i, status := range []string{"killed", "running"} {
		var rec map[string]any
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		id := time.Now().UTC().Add(time.Duration(i+1)*time.Hour).Format("20060102T150405.000Z") + "-0000f" + string(rune('0'+i))
		rec["id"], rec["status"], rec["end"] = id, status, time.Time{}
		nb, _ := json.Marshal(rec)
		if err := os.WriteFile(filepath.Join(dir, id+".json"), nb, 0o644); err != nil {
			t.Fatal(err)
		}
		added = append(added, id)
	}
	return added
}

// TestMetricsRunsUnfinished: a run record with no end (running, or killed)
// shows "-" as its duration, not End-Start of a zero End (-2562047h47m…).
func TestMetricsRunsUnfinished(t *testing.T) {
	wf, wd, dir := runMini(t)
	unfinished := addUnfinishedRuns(t, dir)
	code, out := cli(t, "metrics", wf, wd, "--runs")
	if code != 0 || strings.Contains(out, "h47m") || strings.Contains(out, "-2562047") {
		t.Fatalf("metrics --runs: exit %d\n%s", code, out)
	}
	for _, id := range unfinished {
		var line string
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, id) {
				line = l
			}
		}
		if f := strings.Fields(line); len(f) == 0 || f[len(f)-1] != "-" {
			t.Errorf("run %s: want duration -, got line %q\n%s", id, line, out)
		}
	}
}

// TestMetricsRunsJSON: --runs --json prints the run list as JSON (it printed
// the table), with a null end and duration for runs that did not finish.
func TestMetricsRunsJSON(t *testing.T) {
	wf, wd, dir := runMini(t)
	unfinished := addUnfinishedRuns(t, dir)
	code, out := cli(t, "metrics", wf, wd, "--runs", "--json")
	var got struct {
		Runs []struct {
			ID      string
			Status  string
			Sets    []string
			Start   time.Time
			End     *time.Time
			Seconds *float64
		}
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got.Runs) != 3 {
		t.Fatalf("want 3 runs, got %+v", got.Runs)
	}
	ok := got.Runs[0]
	if ok.Status != "ok" || ok.Start.IsZero() || ok.End == nil || ok.Seconds == nil || *ok.Seconds < 0 || ok.Sets == nil {
		t.Errorf("finished run: %+v", ok)
	}
	for i, r := range got.Runs[1:] {
		if r.ID != unfinished[i] || r.End != nil || r.Seconds != nil {
			t.Errorf("unfinished run %s: %+v", unfinished[i], r)
		}
	}
}

// TestBadRunID: inspect and kg reject a --run id that names no run, or
// several, with exit 2 as metrics does; they answered from the current
// artifact with exit 0. A good --run selects that run's artifact.
func TestBadRunID(t *testing.T) {
	wf, wd, dir := runMini(t, []string{"--set", "tokens.min_count=2"})
	ids := runIDs(t, dir)
	if len(ids) != 2 {
		t.Fatalf("runs: %v", ids)
	}
	common := 0
	for common < len(ids[0]) && ids[0][common] == ids[1][common] {
		common++
	}
	ambiguous := ids[0][:common]

	kgwf := filepath.Join(filepath.Dir(wf), "kgwf.yaml")
	os.WriteFile(kgwf, []byte("name: kgwf\nstages:\n  graph:\n    uses: kg.conceptnet\n"), 0o644)
	if code, out := cli(t, "run", kgwf, wd, "--no-progress"); code != 0 {
		t.Fatalf("run kg: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", wf, "tokens", wd, "--run", "nope"}, `no run "nope" of workflow mini`},
		{[]string{"inspect", wf, "tokens", wd, "--run", "nope", "--path"}, `no run "nope"`},
		{[]string{"inspect", wf, "tokens", wd, "--run", "latest~2"}, `no run "latest~2"`},
		{[]string{"inspect", wf, "tokens", wd, "--run", ambiguous, "--path"}, "is ambiguous: it matches " + ids[0] + ", " + ids[1]},
		{[]string{"inspect", wf, "tokens", wd, "--run", ids[0], "--set", "tokens.min_count=2"}, "--run and --set cannot be combined"},
		{[]string{"kg", kgwf, "graph", "neighbors", "dog", wd, "--run", "nope"}, `no run "nope" of workflow kgwf`},
		{[]string{"metrics", wf, wd, "--run", "nope"}, `no run "nope"`},
		{[]string{"metrics", wf, wd, "--run", ambiguous}, "is ambiguous"},
		{[]string{"metrics", wf, wd, "--diff", "latest,nope"}, `no run "nope"`},
	} {
		code, out := cli(t, tc.args...)
		if code != exitUsage || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d (want 2), want %q in\n%s", tc.args[3:], code, tc.want, out)
		}
	}

	// A good id picks that run's artifact, not the current one.
	_, cur := cli(t, "inspect", wf, "tokens", wd, "--path")
	code, old := cli(t, "inspect", wf, "tokens", wd, "--path", "--run", ids[0][:common+1])
	if code != 0 || old == cur || !strings.Contains(old, filepath.Join("cache", "tokenize")) {
		t.Errorf("--run %s: exit %d: %q (latest: %q)", ids[0][:common+1], code, old, cur)
	}
	if code, out := cli(t, "inspect", wf, "tokens", wd, "--path", "--run", "latest~1"); code != 0 || out != old {
		t.Errorf("--run latest~1: exit %d: %q, want %q", code, out, old)
	}
}

// TestMetricsWholeNumbers: counts print in full in the metrics tables
// (%.4g printed 616435 as 6.164e+05, and a diff of two runs whose counts
// differ by one as 6.164e+05, 6.164e+05, +1).
func TestMetricsWholeNumbers(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "count.yaml")
	os.WriteFile(wf, []byte("name: count\nstages:\n  hold:\n    uses: clitest.wait\n    with: {nonce: 616435, ms: 0}\n"), 0o644)
	wd := "--workdir=" + filepath.Join(dir, "wd")
	for _, nonce := range []string{"616435", "616436"} {
		if code, out := cli(t, "run", wf, wd, "--no-progress", "--set", "hold.nonce="+nonce); code != 0 {
			t.Fatalf("run: exit %d\n%s", code, out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"metrics", wf, wd}, "hold   nonce   616436"},
		{[]string{"metrics", wf, wd, "--set", "hold.nonce=616435"}, "hold   nonce   616435"},
		{[]string{"metrics", wf, wd, "--diff", "latest~1", "latest"}, "hold   nonce   616435  616436  +1"},
	} {
		code, out := cli(t, tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %q in\n%s", tc.args[1:], code, tc.want, out)
		}
	}
}

// TestMetricsLatestNotFinished: when the latest run did not finish (Ctrl-C,
// a failure, a kill), metrics shows it, and says which run last finished
// and how to show it (the table of a canceled run holds little more than
// its cached stages, and the finished run's metrics seemed gone).
func TestMetricsLatestNotFinished(t *testing.T) {
	wf, wd, dir := runMini(t)
	okID := runIDs(t, dir)[0]
	addUnfinishedRuns(t, dir)
	code, out := cli(t, "metrics", wf, wd)
	if want := "the latest that finished is " + okID + ": coderflow metrics " + wf + " --run " + okID; code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want %q in\n%s", code, want, out)
	}
	// not when the run was chosen, nor when the latest run finished
	if code, out := cli(t, "metrics", wf, wd, "--run", "latest"); code != 0 || strings.Contains(out, "note:") {
		t.Errorf("--run latest: exit %d\n%s", code, out)
	}
	wf, wd, _ = runMini(t)
	if code, out := cli(t, "metrics", wf, wd); code != 0 || strings.Contains(out, "note:") {
		t.Errorf("finished latest run: exit %d\n%s", code, out)
	}
}

// TestMetricsRunsSelection: metrics --runs shows the stage selection a run
// was started with (a run of one stage looked like a run of all), in the
// table and in --json.
func TestMetricsRunsSelection(t *testing.T) {
	wf, wd, dir := runMini(t, []string{"--only", "tokens", "--force", "tokens"})
	ids := runIDs(t, dir)
	code, out := cli(t, "metrics", wf, wd, "--runs")
	lines := map[string]string{}
	for l := range strings.Lines(out) {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	if code != 0 || !strings.Contains(lines[ids[1]], "--only tokens --force tokens") || !strings.Contains(lines[ids[0]], " - ") {
		t.Errorf("metrics --runs: exit %d\n%s", code, out)
	}
	code, out = cli(t, "metrics", wf, wd, "--runs", "--json")
	var got struct {
		Runs []struct {
			Only, Force []string
		}
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got.Runs) != 2 ||
		len(got.Runs[0].Only) != 0 || !slices.Equal(got.Runs[1].Only, []string{"tokens"}) || !slices.Equal(got.Runs[1].Force, []string{"tokens"}) {
		t.Errorf("metrics --runs --json: exit %d, %v\n%s", code, err, out)
	}
}
