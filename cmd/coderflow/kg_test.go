package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/kg"
)

// TestKGNeighborsJSON: `kg ... neighbors TERM --json` prints a JSON array,
// [] for a term that is not in the graph (not null).
func TestKGNeighborsJSON(t *testing.T) {
	wf, wd := runKG(t)
	code, out := cli(t, "kg", wf, "graph", "neighbors", "no_such_concept_xyz", wd, "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("unknown term --json: exit %d, output %q, want []", code, out)
	}
	code, out = cli(t, "kg", wf, "graph", "neighbors", "crimson", wd, "--json", "--rel", "IsA")
	var ns []kg.Neighbor
	if err := json.Unmarshal([]byte(out), &ns); code != 0 || err != nil || len(ns) == 0 {
		t.Fatalf("crimson --json: exit %d, %v\n%s", code, err, out)
	}
	for _, n := range ns {
		if n.Rel != "/r/IsA" || n.Concept == "" || n.Weight <= 0 {
			t.Errorf("crimson --json --rel IsA: %+v", n)
		}
	}
	code, out = cli(t, "kg", wf, "graph", "neighbors", "no_such_concept_xyz", wd)
	if code != 0 || !strings.Contains(out, `"no_such_concept_xyz" is not a concept of this graph`) {
		t.Errorf("unknown term, table: exit %d\n%s", code, out)
	}
}

// TestKGNeighborsNoneSaysWhy: an empty answer says whether the term is not
// in the graph or the relation filter left none of its edges.
func TestKGNeighborsNoneSaysWhy(t *testing.T) {
	wf, wd := runKG(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"No Such Concept"}, `"No Such Concept" is not a concept of this graph (looked up as /c/en/no_such_concept)`},
		{[]string{"Crimson", "--rel", "NoSuchRelation"}, "no /r/NoSuchRelation edges at /c/en/crimson"},
	} {
		args := append([]string{"kg", wf, "graph", "neighbors"}, tc.args...)
		code, out := cli(t, append(args, wd)...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d\n%s\nwant %q", tc.args, code, out, tc.want)
		}
	}
}

// TestKGMultiWordTerm: `neighbors body part` unquoted asks for the term
// "body part" (it was a usage error: accepts 4 args, received 5).
func TestKGMultiWordTerm(t *testing.T) {
	wf, wd := runKG(t)
	code, quoted := cli(t, "kg", wf, "graph", "neighbors", "body part", wd, "--json")
	var ns []kg.Neighbor
	if err := json.Unmarshal([]byte(quoted), &ns); code != 0 || err != nil || len(ns) == 0 {
		t.Fatalf(`"body part": exit %d, %v\n%s`, code, err, quoted)
	}
	code, unquoted := cli(t, "kg", wf, "graph", "neighbors", "body", "part", wd, "--json")
	if code != 0 || unquoted != quoted {
		t.Errorf("body part unquoted: exit %d\n%s\nwant\n%s", code, unquoted, quoted)
	}
	if code, out := cli(t, "kg", wf, "graph", "neighbors", wd); code != exitUsage {
		t.Errorf("no term: exit %d, want 2\n%s", code, out)
	}
}

// runKG runs a workflow with one kg.conceptnet stage (graph, the embedded
// graph) into a fresh workdir and returns the workflow file and the
// --workdir flag.
func runKG(t *testing.T) (wf, wdFlag string) {
	t.Helper()
	dir := t.TempDir()
	wf = filepath.Join(dir, "kgwf.yaml")
	os.WriteFile(wf, []byte("name: kgwf\nstages:\n  graph:\n    uses: kg.conceptnet\n"), 0o644)
	wdFlag = "--workdir=" + filepath.Join(dir, "wd")
	if code, out := cli(t, "run", wf, wdFlag, "--no-progress"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	return wf, wdFlag
}
