package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestLiteralDollarParen: text that looks like the parser's protected form
// of a reference ("$(x)") stays literal, in the file and in --set values,
// while ${params.NAME} references next to it still resolve.
func TestLiteralDollarParen(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "wf.yaml")
	wf := `
name: literal
params:
  n: 4
stages:
  a:
    uses: toy.concat
    with: {suffix: "price $(x) and $<y> for ${params.n}", local: ${params.n}}
`
	if err := os.WriteFile(f, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{nil, "price $(x) and $<y> for 4"},
		{[]string{"a.suffix=a $(b) c"}, "a $(b) c"},
	} {
		w, err := pipeline.Load(f, pipeline.LoadOptions{Registry: toyRegistry(), Sets: tc.sets, BaseDir: dir, Workdir: filepath.Join(dir, "wd")})
		if err != nil {
			t.Fatalf("sets %v: %v", tc.sets, err)
		}
		p := w.Stages[0].Params
		if got := p.String("suffix"); got != tc.want {
			t.Errorf("sets %v: suffix %q, want %q", tc.sets, got, tc.want)
		}
		if got := p.String("local"); got != "4" {
			t.Errorf("sets %v: local %q, want the param's value 4", tc.sets, got)
		}
	}
}

// TestDebugLog: at debug level a run logs the cache check, every stage's
// state and plan with its key inputs, each stage's params and the sealed
// artifact (what `coderflow -v` shows); at info level none of it.
func TestDebugLog(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		h := newHarness(t, diamond)
		var buf bytes.Buffer
		h.run(pipeline.RunOptions{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))})
		out := buf.String()
		for _, want := range []string{`msg="cache checked"`, `msg="stage state" stage=b kind=toy.concat`, "plan=run input.a=",
			`msg="stage params" stage=b kind=toy.concat`, `msg="artifact sealed" stage=b`} {
			if got := strings.Contains(out, want); got != (level == slog.LevelDebug) {
				t.Errorf("level %v: %q in the log: %v\n%s", level, want, got, out)
			}
		}
	}
}

// TestSetValues: a --set of a workflow param with a bad value names the
// --set at the place the param is used; a YAML flow list on --set is a list.
func TestSetValues(t *testing.T) {
	h := newHarness(t, diamond)
	_, err := pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Workdir: h.workdir, Sets: []string{"params.base=abc"}})
	if err == nil || !strings.Contains(err.Error(), `wf.yaml:8:`) || !strings.Contains(err.Error(), `bad value: want an integer, got "abc" (${params.base} is --set params.base=abc)`) {
		t.Errorf("--set params.base=abc: %v", err)
	}
	reg := pipeline.NewRegistry()
	reg.MustRegister(pipeline.Spec{Kind: "toy.list", Version: "1",
		Params: []pipeline.Param{{Name: "parts", Type: pipeline.StringList, Default: []string{"x"}}},
		Stage:  pipeline.StageFunc(func(context.Context, *pipeline.Env) error { return nil })})
	f := filepath.Join(h.dir, "list.yaml")
	if err := os.WriteFile(f, []byte("name: list\nstages:\n  a:\n    uses: toy.list\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string][]string{"a.parts=[color, hog]": {"color", "hog"}, "a.parts=[]": {}, "a.parts=[x": {"[x"}} {
		w, err := pipeline.Load(f, pipeline.LoadOptions{Registry: reg, Workdir: h.workdir, Sets: []string{set}})
		if err != nil {
			t.Fatalf("--set %s: %v", set, err)
		}
		if got := w.Stages[0].Params.Strings("parts"); !slices.Equal(got, want) {
			t.Errorf("--set %s: parts %q, want %q", set, got, want)
		}
	}
}

// TestSetParamKey: a Set list param's key ignores order and repeats; a
// plain list param's does not.
func TestSetParamKey(t *testing.T) {
	key := func(set bool, l []string) string {
		decl := []pipeline.Param{{Name: "parts", Type: pipeline.StringList, Default: []string{"a"}, Set: set}}
		p, err := pipeline.NewParams(decl, map[string]any{"parts": l})
		if err != nil {
			t.Fatal(err)
		}
		return pipeline.ComputeKey(pipeline.KeyInput{Kind: "k", Version: "1", Params: p})
	}
	if key(true, []string{"hog", "color"}) != key(true, []string{"color", "hog", "hog"}) {
		t.Error("Set list: [hog color] and [color hog hog] have different keys")
	}
	if key(true, []string{"hog"}) == key(true, []string{"color", "hog"}) {
		t.Error("Set list: different sets share a key")
	}
	if key(false, []string{"hog", "color"}) == key(false, []string{"color", "hog"}) {
		t.Error("plain list: order ignored")
	}
}
