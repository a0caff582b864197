package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const miniWF = `name: mini
params:
  seed: 3
stages:
  data:
    uses: dataset.synth
    with: {images: 40, min_size: 64, max_size: 64, seed: ${params.seed}}
  tokens:
    uses: tokenize
    needs: [data]
    with: {min_count: 1}
`

func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := runCLI(t.Context(), args, &out, &out)
	return code, out.String()
}

func TestCLIEndToEnd(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "mini.yaml")
	os.WriteFile(wf, []byte(miniWF), 0o644)
	wd := "--workdir=" + filepath.Join(dir, "wd")

	code, out := cli(t, "run", wf, wd, "--no-progress")
	if code != 0 || !strings.Contains(out, "data") || strings.Count(out, " ran ") < 2 {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	code, out = cli(t, "run", wf, wd)
	if code != 0 || strings.Count(out, " cached ") < 2 {
		t.Fatalf("second run should be cached: exit %d\n%s", code, out)
	}
	code, out = cli(t, "status", wf, wd, "--set", "tokens.min_count=2")
	if code != 0 || !strings.Contains(out, "param min_count: 1 -> 2") {
		t.Fatalf("status with --set: exit %d\n%s", code, out)
	}
	code, out = cli(t, "dag", wf, wd, "--format", "mermaid")
	if code != 0 || !strings.Contains(out, "s_data --> s_tokens") {
		t.Fatalf("dag: %d\n%s", code, out)
	}
	code, out = cli(t, "dag", wf, wd, "--format", "DOT") // as Graphviz users write it
	if code != 0 || !strings.Contains(out, `"data" -> "tokens"`) {
		t.Fatalf("dag --format DOT: %d\n%s", code, out)
	}
	code, out = cli(t, "inspect", wf, "tokens", wd, "--path")
	if code != 0 || !strings.Contains(out, filepath.Join("cache", "tokenize")) {
		t.Fatalf("inspect --path: %d\n%s", code, out)
	}
	vocab := filepath.Join(strings.TrimSpace(out), "vocab.parquet")
	code, out = cli(t, "inspect", vocab, "--head", "2")
	if code != 0 || !strings.Contains(out, "coderflow.kind = tokenize") || !strings.Contains(out, `token="<pad>"`) {
		t.Fatalf("inspect parquet: %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		// flags of the other form of inspect were silently ignored
		{[]string{"inspect", wf, "tokens", "--head", "3"}, 2, "--head: only for inspect FILE.parquet; the Parquet files of stage tokens are " + filepath.Join(dir, "wd", "cache", "tokenize")},
		{[]string{"inspect", wf, "data", "--schema", "--meta"}, 2, "--schema, --meta: only for inspect FILE.parquet"},
		{[]string{"inspect", vocab, "--path"}, 2, "--path: only for inspect WORKFLOW.yaml STAGE"},
		{[]string{"inspect", vocab, "--set", "tokens.min_count=2"}, 2, "--set: only for inspect WORKFLOW.yaml STAGE"},
		{[]string{"inspect", vocab, "--head", "-1"}, 2, "--head -1: want a number of rows"},
	} {
		code, out := cli(t, append(tc.args, wd)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d (want %d), want %q in\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
	code, out = cli(t, "run", wf, wd, "--set", "tokens.min_count=2", "--only", "tokens")
	if code != 0 || !strings.Contains(out, "tokens") {
		t.Fatalf("--only: %d\n%s", code, out)
	}
	code, out = cli(t, "metrics", wf, wd, "--runs")
	if code != 0 || strings.Count(out, "ok") < 3 {
		t.Fatalf("metrics --runs: %d\n%s", code, out)
	}
	code, out = cli(t, "metrics", wf, wd, "--diff", "latest~1,latest")
	if code != 0 || !strings.Contains(out, "min_count") {
		t.Fatalf("metrics --diff: %d\n%s", code, out)
	}
	code, out = cli(t, "metrics", wf, wd, "--diff", "latest~1", "latest") // the form in DESIGN.md and --help
	if code != 0 || !strings.Contains(out, "min_count") {
		t.Fatalf("metrics --diff A B: %d\n%s", code, out)
	}
	code, out = cli(t, "metrics", wf, wd, "--set", "tokens.min_count=7")
	if code != 0 || !strings.Contains(out, "tokens  (stale)") {
		t.Fatalf("metrics --set: %d\n%s", code, out)
	}
	code, out = cli(t, "stages", "dataset.synth")
	if code != 0 || !strings.Contains(out, "images") {
		t.Fatalf("stages: %d\n%s", code, out)
	}
	// a list default as a workflow writes it (it was [train restval])
	code, out = cli(t, "stages", "tokenize")
	if code != 0 || !strings.Contains(out, "default [train, restval];") {
		t.Fatalf("stages tokenize: %d\n%s", code, out)
	}
}

func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("stages:\n  a:\n    uses: dataset.synht\n"), 0o644)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(miniWF), 0o644)
	wd := "--workdir=" + filepath.Join(dir, "wd")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", bad, wd}, 2, `bad.yaml:3:11: stage "a": uses: unknown stage kind "dataset.synht" (did you mean "dataset.synth"?)`},
		{[]string{"run", good, wd, "--only", "tokns"}, 2, `did you mean "tokens"`},
		{[]string{"run", good, wd, "--only", "tokens", "--from", "data"}, 2, "--only cannot be combined with --from"},
		{[]string{"run", good, wd, "--set", "data.images=many"}, 2, "want an integer"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, 2, "no such file"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"run"}, 2, "accepts 1 arg"},
		{[]string{"version"}, 0, "coderflow"},
		{[]string{"--version"}, 0, "coderflow "},
		{[]string{"run", good, wd, "-j", "-2"}, 2, "--jobs -2: want 1 or more"},
		{[]string{"kg", good, "tokens", "neighbors", "dog", wd, "--limit", "-1"}, 2, "--limit -1: want 0 (all) or more"},
		{[]string{"inspect", good, wd}, 2, "needs a STAGE: one of data, tokens"},
		{[]string{"gc", good, wd, "--keep-runs", "-1"}, 2, "--keep-runs -1: want 0 (all runs) or more"},
		{[]string{"gc", good, wd, "--keep-runs", "1", "--dry-run"}, 0, "would delete 0 artifacts"},
	} {
		code, out := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d (want %d)\n%s", tc.args, code, tc.code, out)
		}
	}
}

// TestDagTextColumns: the text DAG keeps its columns aligned whatever the
// length of the stage ids (an id longer than 10 characters shifted its row).
func TestDagTextColumns(t *testing.T) {
	wf := filepath.Join(t.TempDir(), "wf.yaml")
	long := strings.Replace(miniWF, "  tokens:", "  tokens_with_a_long_id:", 1)
	os.WriteFile(wf, []byte(long), 0o644)
	code, out := cli(t, "dag", wf)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("dag: exit %d\n%s", code, out)
	}
	if a, b := strings.Index(lines[0], "dataset.synth"), strings.Index(lines[1], "tokenize"); a != b || a < len("tokens_with_a_long_id") {
		t.Fatalf("kind columns at %d and %d:\n%s", a, b, out)
	}
}

// TestDagSet: dag --set shows the graph those params give: a reader given a
// local source reads nothing from its download stage, which is left out.
func TestDagSet(t *testing.T) {
	code, out := cli(t, "dag", "../../workflows/flickr8k.yaml", "--set", "data.source=dir:"+t.TempDir())
	if code != 0 || !strings.Contains(out, "(not needed with these params: fetch)") || strings.Contains(out, "<- fetch") || strings.Contains(out, "fetch    download") {
		t.Fatalf("dag --set data.source: exit %d\n%s", code, out)
	}
	code, out = cli(t, "dag", "../../workflows/flickr8k.yaml", "--format", "dot")
	if code != 0 || !strings.Contains(out, `"fetch" -> "data"`) {
		t.Fatalf("dag without --set: exit %d\n%s", code, out)
	}
}

// TestStatusJSONNotNeeded: status --json lists a download stage that a local
// source leaves out, as the table does, marked not needed.
func TestStatusJSONNotNeeded(t *testing.T) {
	dir := t.TempDir()
	args := []string{"status", "../../workflows/flickr8k.yaml", "--json", "--workdir", filepath.Join(dir, "wd"), "--set", "data.source=dir:" + dir}
	if _, err := os.Stat("/usr/share/wordnet"); err != nil {
		// the shipped graph needs Debian's wordnet-base; status stats it
		args = append(args, "--set", "kg.source=embedded")
	}
	code, out := cli(t, args...)
	var states []struct {
		Stage     string   `json:"stage"`
		Status    string   `json:"status"`
		NotNeeded bool     `json:"not_needed"`
		Inputs    []string `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(out), &states); code != 0 || err != nil {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	var fetch bool
	for _, s := range states {
		if s.Stage == "fetch" {
			fetch = s.NotNeeded && s.Status == "not_needed"
		} else if s.NotNeeded {
			t.Errorf("stage %s marked not needed", s.Stage)
		}
	}
	if !fetch {
		t.Errorf("no not-needed fetch entry in\n%s", out)
	}
}
