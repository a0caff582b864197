package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"coderflow/internal/atomicfile"
	"coderflow/pipeline"
)

// executions counts how often each toy stage id did real work in this process.
var executions = struct {
	sync.Mutex
	m map[string]int
}{m: map[string]int{}}

func countExec(id string) {
	executions.Lock()
	executions.m[id]++
	executions.Unlock()
}

func execCount(id string) int {
	executions.Lock()
	defer executions.Unlock()
	return executions.m[id]
}

func resetExec() {
	executions.Lock()
	executions.m = map[string]int{}
	executions.Unlock()
}

// toyRegistry returns an isolated registry with the toy stage kinds:
//
//	toy.source  reads an optional external file and writes text
//	toy.concat  concatenates its inputs' text plus a suffix
//	toy.shards  writes `shards` shard files one at a time, resumably
//	toy.panic   panics
func toyRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	r.MustRegister(pipeline.Spec{
		Kind: "toy.source", Version: "1", Doc: "Writes text from params and an optional file.",
		Params: []pipeline.Param{
			{Name: "n", Type: pipeline.Int, Default: 1, Doc: "a number written to the output"},
			{Name: "file", Type: pipeline.Path, Optional: true, Doc: "an external file to copy"},
			{Name: "workers", Type: pipeline.Int, Default: 0, NoCache: true, Doc: "ignored"},
		},
		Produces: []string{"text"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			s := fmt.Sprintf("n=%d\n", env.Params.Int("n"))
			if f := env.Params.Path("file"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				s += string(b)
			}
			if err := os.WriteFile(env.Path("out.txt"), []byte(s), 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			env.Summarize("%d bytes", len(s))
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.concat", Version: "1", Doc: "Concatenates the text of its inputs.",
		Params: []pipeline.Param{{Name: "suffix", Type: pipeline.String, Default: "", Doc: "appended"},
			{Name: "local", Type: pipeline.String, Optional: true, Doc: "if set, use this text instead of the inputs"}},
		InputsUnused: func(p pipeline.Params) bool { return p.String("local") != "" },
		Produces:     []string{"text"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			var b strings.Builder
			b.WriteString(env.Params.String("local"))
			for _, in := range env.Inputs {
				files, ok := in.Table("text")
				if !ok {
					return fmt.Errorf("input %s has no text", in.Stage)
				}
				data, err := os.ReadFile(files[0])
				if err != nil {
					return err
				}
				b.Write(data)
			}
			b.WriteString(env.Params.String("suffix"))
			if err := os.WriteFile(env.Path("out.txt"), []byte(b.String()), 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			env.SetMetric("bytes", float64(b.Len()))
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.shards", Version: "1", Doc: "Writes shards slowly and resumably.",
		Params: []pipeline.Param{
			{Name: "shards", Type: pipeline.Int, Default: 5, Doc: "number of shards"},
			{Name: "sleep_ms", Type: pipeline.Int, Default: 0, NoCache: true, Doc: "pause per shard"},
		},
		Produces: []string{"shards"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			n := env.Params.Int("shards")
			var files []string
			for i := range n {
				name := fmt.Sprintf("part-%03d.txt", i)
				files = append(files, name)
				if env.ShardDone(name) {
					continue
				}
				countExec(env.StageID + "/" + name)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(env.Params.Int("sleep_ms")) * time.Millisecond):
				}
				data := strings.Repeat("shard "+strconv.Itoa(i)+"\n", 1000)
				if err := atomicfile.WriteFile(env.Path(name), []byte(data), 0o644); err != nil {
					return err
				}
				if err := env.CommitShard(name, name); err != nil {
					return err
				}
			}
			env.AddTable("shards", int64(n), files...)
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.panic", Version: "1", Doc: "Panics.",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			var m map[string]int
			m["boom"]++
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.dir", Version: "1", Doc: "Lists a directory read in place, with absolute paths.",
		Params: []pipeline.Param{
			{Name: "dir", Type: pipeline.Path, Located: true, Doc: "the directory"},
		},
		Produces: []string{"text"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			dir, _ := pipeline.IsLocalSource(env.Params.Path("dir"))
			ents, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			var b strings.Builder
			for _, e := range ents {
				b.WriteString(filepath.Join(dir, e.Name()) + "\n")
			}
			if err := os.WriteFile(env.Path("out.txt"), []byte(b.String()), 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.rundir", Version: "1",
		Doc: "Lists the artifacts in a directory that may not exist yet and may hold its inputs' artifacts.",
		Params: []pipeline.Param{
			{Name: "runs", Type: pipeline.Path, SkipInputs: true, MissingIsEmpty: true, Doc: "the directory"},
		},
		Produces: []string{"text"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			dir, _ := pipeline.IsLocalSource(env.Params.Path("runs"))
			ents, err := os.ReadDir(dir)
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			var b strings.Builder
			for _, e := range ents {
				own := false
				for _, in := range env.Inputs {
					own = own || filepath.Base(in.Dir) == e.Name()
				}
				if !own {
					b.WriteString(e.Name() + "\n")
				}
			}
			if err := os.WriteFile(env.Path("out.txt"), []byte(b.String()), 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			return nil
		}),
	})
	r.MustRegister(pipeline.Spec{
		Kind: "toy.runs", Version: "1", Doc: "Counts the files of a directory that may hold its inputs' artifacts.",
		Params: []pipeline.Param{
			{Name: "runs", Type: pipeline.Path, SkipInputs: true, Doc: "the directory"},
		},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			return os.WriteFile(env.Path("out.txt"), []byte("ok"), 0o644)
		}),
	})
	return r
}
