package pipeline_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestWorkdirRef: ${workdir} is the absolute workdir (after --workdir, or
// the file's workdir: resolved against the launch directory), as a whole
// value, inside a string, in a Path param, in a workflow param (whole and
// interpolated) and in a --set value.
func TestWorkdirRef(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "wf.yaml")
	wf := `
name: wdref
workdir: state
params:
  cache: ${workdir}/cache
  n: 2
stages:
  a:
    uses: toy.source
    with: {n: ${params.n}}
  b:
    uses: toy.concat
    needs: [a]
    with: {suffix: "at ${workdir}/x and ${params.cache}/y", local: ${workdir}}
  c:
    uses: toy.rundir
    needs: [a]
    with: {runs: ${workdir}/cache/toy.source}
  d:
    uses: toy.concat
    needs: [a]
    with: {suffix: ${params.cache}}
`
	if err := os.WriteFile(f, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opt     pipeline.LoadOptions
		workdir string
	}{
		{"file workdir", pipeline.LoadOptions{BaseDir: dir}, filepath.Join(dir, "state")},
		{"--workdir", pipeline.LoadOptions{BaseDir: dir, Workdir: filepath.Join(dir, "other")}, filepath.Join(dir, "other")},
		{"relative --workdir", pipeline.LoadOptions{BaseDir: dir, Workdir: "rel"}, filepath.Join(dir, "rel")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Registry = toyRegistry()
			w, err := pipeline.Load(f, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			wd := tc.workdir
			if w.Workdir != wd {
				t.Fatalf("workdir %s, want %s", w.Workdir, wd)
			}
			b, _ := w.Stage("b")
			if got, want := b.Params.String("suffix"), "at "+wd+"/x and "+wd+"/cache/y"; got != want {
				t.Errorf("suffix %q, want %q", got, want)
			}
			if got := b.Params.String("local"); got != wd {
				t.Errorf("whole ${workdir}: %q, want %q", got, wd)
			}
			c, _ := w.Stage("c")
			if got, want := c.Params.Path("runs"), filepath.Join(wd, "cache", "toy.source"); got != want {
				t.Errorf("path param %q, want %q", got, want)
			}
			d, _ := w.Stage("d")
			if got, want := d.Params.String("suffix"), wd+"/cache"; got != want {
				t.Errorf("workflow param built from ${workdir}: %q, want %q", got, want)
			}
			if got, want := w.Params["cache"], wd+"/cache"; got != want {
				t.Errorf("params.cache = %v, want %q", got, want)
			}
		})
	}
	// in a --set value, for a stage param and a workflow param
	w, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir,
		Sets: []string{"b.suffix=${workdir}-s", "params.cache=${workdir}/elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(dir, "state")
	b, _ := w.Stage("b")
	d, _ := w.Stage("d")
	if got := b.Params.String("suffix"); got != wd+"-s" {
		t.Errorf("--set b.suffix=${workdir}-s: %q", got)
	}
	if got := d.Params.String("suffix"); got != wd+"/elsewhere" {
		t.Errorf("--set params.cache=${workdir}/elsewhere: d.suffix %q", got)
	}
}

// TestWorkdirRefErrors: unknown references are still errors at
// file:line:col, now naming both supported forms, with a hint for a
// misspelt ${workdir} and for ${params.workdir}.
func TestWorkdirRefErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "wf.yaml")
	wf := `name: bad
params:
  seed: 1
stages:
  a:
    uses: toy.source
    with: {n: 1}
  b:
    uses: toy.concat
    needs: [a]
    with: {suffix: "${workdr}/x"}
  c:
    uses: toy.concat
    needs: [a]
    with: {suffix: ${params.workdir}}
  d:
    uses: toy.concat
    needs: [a]
    with: {suffix: ${WORKDIR}}
  e:
    uses: toy.source
    with: {n: ${workdir}}
`
	if err := os.WriteFile(f, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), BaseDir: dir, Workdir: "/wd"})
	if !errors.Is(err, pipeline.ErrUnresolved) {
		t.Fatalf("want an unresolved-reference error, got %v", err)
	}
	for _, want := range []string{
		f + `:11:20: stage "b": with.suffix: unresolved reference ${workdr} (only ${params.NAME} and ${workdir} references are supported) (did you mean ${workdir}?)`,
		f + `:15:20: stage "c": with.suffix: unresolved reference ${params.workdir}: no workflow param "workdir" (the workdir is ${workdir})`,
		f + `:19:20: stage "d": with.suffix: unresolved reference ${WORKDIR} (only ${params.NAME} and ${workdir} references are supported) (did you mean ${workdir}?)`,
		f + `:22:15: stage "e": with.n: bad value: want an integer, got "/wd"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing\n  %s\nin\n%v", want, err)
		}
	}
}

// TestMissingIsEmptyDir: a MissingIsEmpty directory param (a report's
// runs_dir at ${workdir}/cache/evaluate) that does not exist yet digests
// like an empty directory: a fresh workdir runs, the next run is cached,
// and creating the empty directory keeps the key. A Path param without the
// flag that names a missing path is still an error.
func TestMissingIsEmptyDir(t *testing.T) {
	h := newHarness(t, runsWorkflow)
	// a dry run on an empty workdir computes every key
	res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run with runs missing: %v", err)
	}
	if res.Plan["r"] != pipeline.PlanRun {
		t.Errorf("plan %v", res.Plan)
	}
	// the key of a missing directory is the key of an empty one
	states, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	missingKey := states[1].Key
	empty := filepath.Join(h.workdir, "cache", "toy.source")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	states, err = h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if states[1].Key != missingKey {
		t.Error("a missing MissingIsEmpty directory and an empty one have different keys")
	}
	if err := os.Remove(empty); err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "ran", "r": "ran"})
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "cached"})
	// another source artifact lands there: r runs once, and its output
	// names it; after that everything is cached
	wantStatuses(t, h.run(pipeline.RunOptions{}, "a.n=2"), map[string]string{"a": "ran", "r": "ran"})
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "cached", "r": "ran"})
	out, err := os.ReadFile(res.Artifacts["r"].Path("out.txt"))
	if err != nil || strings.Count(string(out), "\n") != 1 {
		t.Errorf("r lists %q (%v), want the one other source artifact", out, err)
	}
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "r": "cached"})

	// without the flag, a missing path is an error that names the param
	h2 := newHarness(t, `
name: nofile
stages:
  a:
    uses: toy.source
    with: {file: "${workdir}/nonexistent.txt"}
`)
	if _, err := h2.load().States(pipeline.NewDigester("")); err == nil || !strings.Contains(err.Error(), `stage "a": with.file: `) {
		t.Errorf("missing file without MissingIsEmpty: %v", err)
	}
}
