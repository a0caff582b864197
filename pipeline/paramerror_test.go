package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestValidateParamErrorPosition: an error a Spec's Validate wraps in
// pipeline.ParamError is reported at that param's value (in the file, or
// its --set) and named with.NAME; one it does not wrap stays at the stage;
// a missing required param is named with.NAME too (it read
// `with: params.NAME: required parameter is missing`).
func TestValidateParamErrorPosition(t *testing.T) {
	reg := pipeline.NewRegistry()
	reg.MustRegister(pipeline.Spec{Kind: "toy.checked", Version: "1", Doc: "a stage whose Validate objects to its params",
		Params: []pipeline.Param{
			{Name: "n", Type: pipeline.Int, Default: 0, Doc: "must be even"},
			{Name: "m", Type: pipeline.Int, Default: 0, Doc: "must not exceed n"},
			{Name: "tag", Type: pipeline.String, Doc: "required"},
		},
		Validate: func(p pipeline.Params) error {
			var errs []error
			if p.Int("n")%2 != 0 {
				errs = append(errs, pipeline.ParamError("n", errors.New("must be even")))
			}
			if p.Int("m") > p.Int("n") {
				errs = append(errs, errors.New("m exceeds n"))
			}
			return errors.Join(errs...)
		},
		Stage: pipeline.StageFunc(func(context.Context, *pipeline.Env) error { return nil })})
	for _, tc := range []struct {
		name string
		wf   string
		sets []string
		want []string
	}{
		{"in the file", "name: v\nstages:\n  s:\n    uses: toy.checked\n    with: {tag: x,\n      n: 3}\n", nil,
			[]string{`wf.yaml:6:10: stage "s": with.n: bad value: must be even`}},
		{"by --set", "name: v\nstages:\n  s:\n    uses: toy.checked\n    with: {tag: x}\n", []string{"s.n=5"},
			[]string{`--set s.n: stage "s": with.n: bad value: must be even`}},
		{"not about one param", "name: v\nstages:\n  s:\n    uses: toy.checked\n    with: {tag: x, m: 1}\n", nil,
			[]string{`wf.yaml:3:3: stage "s": with: bad value: m exceeds n`}},
		{"required", "name: v\nstages:\n  s:\n    uses: toy.checked\n", nil,
			[]string{`wf.yaml:3:3: stage "s": with.tag: required parameter is missing`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "wf.yaml")
			if err := os.WriteFile(file, []byte(tc.wf), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := pipeline.Load(file, pipeline.LoadOptions{Registry: reg, Sets: tc.sets})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "params.") {
				t.Errorf("error names a stage param params.X:\n%v", err)
			}
		})
	}
}
