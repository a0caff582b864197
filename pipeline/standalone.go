package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// RunStandalone runs one stage outside a workflow: it resolves raw params
// against spec, runs the stage with dir as its work directory and seals dir
// into an artifact (manifest last). It is meant for tests and tools; the
// scheduler adds caching, locking and run records on top of the same steps.
func RunStandalone(ctx context.Context, spec *Spec, stageID string, raw map[string]any, inputs []*Artifact, dir string, log *slog.Logger) (*Artifact, error) {
	params, err := NewParams(spec.Params, raw)
	if err != nil {
		return nil, fmt.Errorf("stage %q: %w", stageID, err)
	}
	if spec.Validate != nil {
		if err := spec.Validate(params); err != nil {
			return nil, fmt.Errorf("stage %q: %w", stageID, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dg := NewDigester("")
	var inDirs []string
	for _, a := range inputs {
		inDirs = append(inDirs, a.Dir)
	}
	ext, refs, err := externalDigests(ctx, params, dg, inDirs, "")
	if err != nil {
		return nil, fmt.Errorf("stage %q: %w", stageID, err)
	}
	var inKeys []string
	var inRefs []InputRef
	for _, a := range inputs {
		inKeys = append(inKeys, a.Key())
		inRefs = append(inRefs, InputRef{Stage: a.Stage, Kind: a.Kind(), Key: a.Key()})
	}
	key := ComputeKey(KeyInput{Kind: spec.Kind, Version: spec.Version, Params: params, Inputs: inKeys, External: ext})
	env := NewEnv(stageID, spec.Kind, params, inputs, dir, log)
	env.Key = key
	start := time.Now()
	if err := runProtected(ctx, spec, env); err != nil {
		return nil, err
	}
	m, err := seal(ctx, env, Manifest{Engine: EngineSalt, Stage: stageID, Kind: spec.Kind, Version: spec.Version,
		Key: key, Params: params.Map(), Inputs: inRefs, External: refs}, start)
	if err != nil {
		return nil, err
	}
	return &Artifact{Stage: stageID, Dir: dir, Manifest: m, Inputs: inputs}, nil
}

// runProtected runs the stage and turns a panic into an error.
func runProtected(ctx context.Context, spec *Spec, env *Env) (err error) {
	defer memSettings.enter(env, spec.GCPercent)()
	defer env.finishProgress() // after the recover below
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stage %q panicked: %v (stack trace in the debug log, -v)", env.StageID, r)
			env.Log.Debug("panic", "stack", string(debug.Stack()))
		}
	}()
	if err := spec.Stage.Run(ctx, env); err != nil {
		if prefix := fmt.Sprintf("stage %q: ", env.StageID); strings.HasPrefix(err.Error(), prefix) {
			return err // already names the stage (Env.Input errors do)
		}
		return fmt.Errorf("stage %q: %w", env.StageID, err)
	}
	return ctx.Err()
}
