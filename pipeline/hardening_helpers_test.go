package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

func pipelineLoad(h *harness, sets ...string) (*pipeline.Workflow, error) {
	return pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Sets: sets, BaseDir: h.dir, Workdir: h.workdir})
}

// TestEnvPathsStayInside: Env.Path refuses a path that leaves the artifact
// (the stage fails with that message, nothing is created outside), and
// AddTable cleans "./x" and refuses "../x" with a clear error.
func TestEnvPathsStayInside(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(env *pipeline.Env) error
		want string
	}{
		{"Path ..", func(env *pipeline.Env) error { env.Path("../escape.txt"); return nil }, "leaves the artifact directory"},
		{"AddTable ..", func(env *pipeline.Env) error {
			env.AddTable("t", 1, "../../etc/passwd")
			return nil
		}, `table "t" file "../../etc/passwd" is outside the artifact directory`},
		{"AddTable ./", func(env *pipeline.Env) error {
			if err := os.WriteFile(env.Path("./sub/out.txt"), []byte("x"), 0o644); err != nil {
				return err
			}
			env.AddTable("t", 1, "./sub/out.txt")
			return nil
		}, ""},
	} {
		spec := pipeline.Spec{Kind: "toy.paths", Version: "1", Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error { return tc.run(env) })}
		root := t.TempDir()
		dir := filepath.Join(root, "work")
		a, err := pipeline.RunStandalone(t.Context(), &spec, "p", nil, nil, dir, nil)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if files, _ := a.Table("t"); len(files) != 1 || files[0] != filepath.Join(a.Dir, "sub", "out.txt") {
				t.Errorf("%s: table files %v", tc.name, files)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(root, "escape.txt")); err == nil {
			t.Errorf("%s: a file was created outside the artifact", tc.name)
		}
	}
}
