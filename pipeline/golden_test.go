package pipeline_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.golden")

// TestBadWorkflowsGolden checks the complete validation report of each file
// in testdata/bad against its .golden file (regenerate with -update).
func TestBadWorkflowsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 8 {
		t.Fatalf("expected the bad-workflow corpus, found %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: t.TempDir(), Workdir: t.TempDir()})
			if err == nil {
				t.Fatal("want a validation error")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run with -update)", rerr)
			}
			if got != string(want) {
				t.Errorf("report differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			// every positioned problem is a *SpecError naming this file
			var se *pipeline.SpecError
			if !errors.As(err, &se) || se.Pos.File != f {
				t.Errorf("want *SpecError naming %s, got %T", f, err)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	h := newHarness(t, diamond)
	// a workflow param set to a reference to itself is an error, not an
	// endless substitution
	_, err := pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Workdir: h.workdir, Sets: []string{"params.base=${params.base}"}})
	if !errors.Is(err, pipeline.ErrUnresolved) {
		t.Fatalf("--set params.base=${params.base}: %v", err)
	}
	_, err = pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Workdir: h.workdir,
		Sets: []string{"bb.suffix=1", "b.sufix=2", "a.n=lots", "params.bse=1", "nodot"}})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`unknown stage "bb" (did you mean "b"?)`, `unknown parameter "sufix" for toy.concat (did you mean "suffix"?)`,
		`--set a.n: stage "a": with.n: bad value: want an integer, got "lots"`, `no workflow param "bse" (did you mean "base"?)`, "--set nodot: want STAGE.PARAM=VALUE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func FuzzParseWorkflow(f *testing.F) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(diamond))
	f.Add([]byte("stages: {a: {uses: toy.source, with: {n: ${params.x}}}}"))
	f.Add([]byte("stages: {a: {uses: toy.source, with: &w {n: 1}}, b: {uses: toy.source, with: {<<: *w, n: 2}}, c: {uses: toy.source, with: *w}}"))
	reg := toyRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := pipeline.LoadBytes("fuzz.yaml", data, pipeline.LoadOptions{Registry: reg, BaseDir: "/nonexistent", Workdir: "/nonexistent/wd"})
		if err == nil && (w == nil || len(w.Stages) == 0) {
			t.Fatalf("no error and no stages")
		}
	})
}
