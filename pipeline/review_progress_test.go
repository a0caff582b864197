package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"coderflow/pipeline"
)

type recProgress struct {
	mu   *sync.Mutex
	done *map[string]bool
	name string
}

func (p recProgress) Add(int64)      {}
func (p recProgress) SetTotal(int64) {}
func (p recProgress) Done() {
	p.mu.Lock()
	(*p.done)[p.name] = true
	p.mu.Unlock()
}

type recFactory struct {
	mu   sync.Mutex
	done map[string]bool
}

func (f *recFactory) Start(stage, label string, total int64) pipeline.Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done[stage+"/"+label] = false
	return recProgress{mu: &f.mu, done: &f.done, name: stage + "/" + label}
}

// TestProgressEndsWithTheStage: a stage that fails or panics before it
// calls Done on its progress reporter must not leave the reporter running
// (a log reporter goes on logging "progress" every few seconds for the
// rest of the run; a terminal bar stays drawn as if the stage still ran):
// the engine finishes a stage's reporters when the stage returns.
func TestProgressEndsWithTheStage(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(env *pipeline.Env) error
	}{
		{"error", func(env *pipeline.Env) error {
			env.Progress("items", 10).Add(3)
			return errors.New("bad input")
		}},
		{"panic", func(env *pipeline.Env) error {
			env.Progress("items", 10).Add(3)
			panic("a bug")
		}},
	} {
		h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.progress\n")
		h.reg.MustRegister(pipeline.Spec{Kind: "toy.progress", Version: "1",
			Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error { return tc.run(env) })})
		f := &recFactory{done: map[string]bool{}}
		if _, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Progress: f}); err == nil {
			t.Fatalf("%s: the run succeeded", tc.name)
		}
		f.mu.Lock()
		if done, ok := f.done["a/items"]; !ok || !done {
			t.Errorf("%s: progress reporter started %v, done %v; want it done once the stage returned", tc.name, ok, done)
		}
		f.mu.Unlock()
	}
}
