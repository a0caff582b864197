package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompletion: the shell completion (coderflow completion SHELL; the
// shells call the hidden __complete command) offers what the workflow file
// declares: stage ids after --only/--from/--until/--force and as inspect's
// and kg's STAGE, STAGE.PARAM= after --set, kinds for stages.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "mini.yaml")
	os.WriteFile(wf, []byte(miniWF), 0o644)
	kgwf := filepath.Join(dir, "kgwf.yaml")
	os.WriteFile(kgwf, []byte("name: kgwf\nstages:\n  data:\n    uses: dataset.synth\n  graph:\n    uses: kg.conceptnet\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"Only", []string{"run", wf, "--only", ""}, []string{"data", "tokens"}},
		{"FromPrefix", []string{"run", wf, "--from", "to"}, []string{"tokens"}},
		{"Force", []string{"run", wf, "--force", "d"}, []string{"data"}},
		{"SetStage", []string{"run", wf, "--set", ""}, []string{"data.", "tokens.", "params."}},
		{"SetParam", []string{"status", wf, "--set", "tokens.min"}, []string{"tokens.min_count="}},
		{"SetWorkflowParam", []string{"run", wf, "--set", "params."}, []string{"params.seed="}},
		{"InspectStage", []string{"inspect", wf, ""}, []string{"data", "tokens"}},
		{"KGStage", []string{"kg", kgwf, ""}, []string{"graph"}},
		{"KGQuery", []string{"kg", kgwf, "graph", ""}, []string{"neighbors"}},
		{"StagesKind", []string{"stages", "tok"}, []string{"tokenize"}},
		{"DagFormat", []string{"dag", wf, "--format", ""}, []string{"text", "dot", "mermaid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := cli(t, append([]string{"__complete"}, tc.args...)...)
			var got []string
			for l := range strings.Lines(out) {
				l = strings.TrimSpace(l)
				if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
					got = append(got, strings.SplitN(l, "\t", 2)[0])
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("%v: exit %d, %q not offered (got %q)\n%s", tc.args, code, w, got, out)
				}
			}
			if tc.name == "KGStage" && slices.Contains(got, "data") {
				t.Errorf("kg offers data, which has no graph: %q", got)
			}
		})
	}
}
