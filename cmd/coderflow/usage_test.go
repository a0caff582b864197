package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUsageErrors: mistakes on the command line exit 2 with a message that
// says what is wrong.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	pq := writeOdd(t, 2)
	noExt := filepath.Join(dir, "data.bin") // Parquet content, no .parquet name
	b, err := os.ReadFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(noExt, b, 0o644)
	kgwf := filepath.Join(dir, "kgwf.yaml")
	os.WriteFile(kgwf, []byte("name: kgwf\nstages:\n  data:\n    uses: dataset.synth\n    with: {images: 8, min_size: 64, max_size: 64}\n  graph:\n    uses: kg.conceptnet\n"), 0o644)
	mini := filepath.Join(dir, "mini.yaml")
	os.WriteFile(mini, []byte(miniWF), 0o644)
	// with a local source, the download stage is left out of the workflow
	local := filepath.Join(dir, "local.yaml")
	os.WriteFile(local, []byte("name: local\nstages:\n  fetch:\n    uses: download\n    with: {catalog: [flickr8k-text]}\n  data:\n    uses: dataset.flickr8k\n    needs: [fetch]\n    with: {source: \"dir:"+dir+"\"}\n"), 0o644)
	wd := "--workdir=" + filepath.Join(dir, "wd")
	if code, out := cli(t, "run", kgwf, wd, "--no-progress"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCommand", nil, "Usage:"},
		{"QuietAndVerbose", []string{"status", mini, wd, "-q", "-v"}, "--quiet and --verbose exclude each other"},
		{"OnlyFlags", []string{"-v"}, "missing command"},
		{"MissingParquet", []string{"inspect", filepath.Join(dir, "nonexist.parquet")}, "no such file"},
		{"Directory", []string{"inspect", dir}, "is a directory: inspect takes one Parquet file"},
		{"ParquetWithStage", []string{"inspect", pq, "extra"}, "inspect FILE.parquet takes no STAGE argument"},
		{"ParquetMagicWithStage", []string{"inspect", noExt, "extra"}, "data.bin is a Parquet file"},
		{"KGOnDataStage", []string{"kg", kgwf, "data", "neighbors", "dog", wd}, "stage data (kind dataset.synth) has no concept graph; kg commands take a kg.conceptnet stage such as graph"},
		{"InspectDroppedStage", []string{"inspect", local, "fetch", wd}, "stage fetch is not needed with these params (every stage that needs it reads a local source), so it has no artifact here"},
		{"InspectMisspelledStage", []string{"inspect", mini, "tokns", wd}, `has no stage "tokns" (did you mean "tokens"?) (stages: data, tokens)`},
		{"SchemaAndMeta", []string{"inspect", pq, "--schema", "--meta"}, "--schema and --meta exclude each other"},
		{"RunNoWorkflow", []string{"run"}, "accepts 1 arg(s), received 0 (usage: coderflow run WORKFLOW.yaml)"},
		{"StatusTwoWorkflows", []string{"status", mini, mini}, "accepts 1 arg(s), received 2 (usage: coderflow status WORKFLOW.yaml)"},
		{"KGNoTerm", []string{"kg", kgwf, "graph", "neighbors"}, "(usage: coderflow kg WORKFLOW.yaml STAGE neighbors TERM)"},
		{"KGNoGraphStage", []string{"kg", mini, "tokens", "neighbors", "dog", wd}, "stage tokens (kind tokenize) has no concept graph; kg commands take a kg.conceptnet stage (this workflow has none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := cli(t, tc.args...)
			if code != exitUsage || !strings.Contains(out, tc.want) {
				t.Errorf("%v: exit %d (want 2), want %q in\n%s", tc.args, code, tc.want, out)
			}
		})
	}
	// --path --json: JSON, like every --json output
	if code, out := cli(t, "inspect", kgwf, "graph", wd, "--path", "--json"); code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"path":`) {
		t.Errorf("inspect --path --json: exit %d, want {\"path\": ...}:\n%s", code, out)
	}
	// The kg stage itself still answers.
	if code, out := cli(t, "kg", kgwf, "graph", "neighbors", "dog", wd); code != 0 {
		t.Errorf("kg graph: exit %d\n%s", code, out)
	}
}

// TestDagMermaidDistinctIDs: stage ids that differ only in '-' and '_' get
// distinct Mermaid node ids (a-b and a_b were both s_a_b), and the labels
// show the stage ids as written.
func TestDagMermaidDistinctIDs(t *testing.T) {
	const wf = `name: ids
stages:
  a-b:
    uses: dataset.synth
    with: {images: 8, min_size: 64, max_size: 64}
  a_b:
    uses: dataset.synth
    with: {images: 8, min_size: 64, max_size: 64}
  a_hb:
    uses: dataset.synth
    with: {images: 8, min_size: 64, max_size: 64}
  tok:
    uses: tokenize
    needs: [a-b]
`
	p := filepath.Join(t.TempDir(), "ids.yaml")
	os.WriteFile(p, []byte(wf), 0o644)
	code, out := cli(t, "dag", p, "--format", "mermaid")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	node := regexp.MustCompile(`(?m)^  (\S+)\["([^<"]+)<br/>`)
	ids := map[string]string{} // node id -> label
	for _, m := range node.FindAllStringSubmatch(out, -1) {
		if prev, dup := ids[m[1]]; dup {
			t.Errorf("node id %s for both %s and %s", m[1], prev, m[2])
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_]+$`).MatchString(m[1]) {
			t.Errorf("node id %q is not a plain Mermaid id", m[1])
		}
		ids[m[1]] = m[2]
	}
	if len(ids) != 4 {
		t.Fatalf("want 4 distinct nodes, got %v\n%s", ids, out)
	}
	var aMinusB string
	for id, label := range ids {
		if label == "a-b" {
			aMinusB = id
		}
	}
	if aMinusB == "" || !strings.Contains(out, "  "+aMinusB+" --> s_tok\n") {
		t.Errorf("no edge from a-b (%q) to tok:\n%s", aMinusB, out)
	}
}
