package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"coderflow/internal/atomicfile"
	"coderflow/pipeline"

	"golang.org/x/sync/errgroup"
)

// TestForceClearsTheWorkDirOfASameKeyTwin: --force S clears S's work
// directory (committed shards of an interrupted attempt are not reused),
// also when another stage with the same key comes first in the file and
// runs in S's place (one run per key).
func TestForceClearsTheWorkDirOfASameKeyTwin(t *testing.T) {
	const wf = "name: twin\nstages:\n  s1:\n    uses: toy.shards\n    with: {shards: 3}\n  s2:\n    uses: toy.shards\n    with: {shards: 3}\n"
	for _, force := range [][]string{{"s1"}, {"s2"}, {"s1", "s2"}} {
		t.Run(strings.Join(force, "+"), func(t *testing.T) {
			h := newHarness(t, wf)
			key := h.run(pipeline.RunOptions{}).Artifacts["s1"].Key()
			// an interrupted attempt with the same key left a committed shard
			wd := filepath.Join(h.workdir, "tmp", "toy.shards", key)
			if err := os.MkdirAll(filepath.Join(wd, ".done"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(wd, "part-000.txt"), []byte("stale\n"), 0o644)
			os.WriteFile(filepath.Join(wd, ".done", "part-000.txt"), []byte("part-000.txt"), 0o644)
			resetExec()
			res := h.run(pipeline.RunOptions{Force: force})
			if n := execCount("s1/part-000.txt") + execCount("s2/part-000.txt"); n != 1 {
				t.Errorf("--force %v: shard 0 written %d times, want once (the forced work dir is cleared)", force, n)
			}
			for _, id := range []string{"s1", "s2"} {
				b, err := os.ReadFile(res.Artifacts[id].Path("part-000.txt"))
				if err != nil || strings.HasPrefix(string(b), "stale") {
					t.Errorf("--force %v: %s part-000.txt %.12q %v: the interrupted attempt's shard was reused", force, id, b, err)
				}
			}
		})
	}
}

// reviewRegistry adds to the toy registry:
//
//	toy.panicshard  commits shards, then panics at shard `panic_at` unless it is -1
//	toy.parshards   commits `shards` shards from as many goroutines at once
//	toy.tagged      writes table `t` whose content is its stage id
//	toy.readt       copies the nearest upstream table `t`
func reviewRegistry() *pipeline.Registry {
	r := toyRegistry()
	r.MustRegister(pipeline.Spec{Kind: "toy.panicshard", Version: "1",
		Params: []pipeline.Param{{Name: "panic_at", Type: pipeline.Int, Default: -1, NoCache: true}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			return writeParts(env, env.Params.Int("panic_at"))
		})})
	r.MustRegister(pipeline.Spec{Kind: "toy.parshards", Version: "1",
		Params: []pipeline.Param{{Name: "shards", Type: pipeline.Int, Default: 32}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			g, _ := errgroup.WithContext(ctx)
			for i := range env.Params.Int("shards") {
				g.Go(func() error {
					name := fmt.Sprintf("d/part-%03d.txt", i)
					if env.ShardDone(name) {
						env.AddTable("parts", 1, name)
						return nil
					}
					if err := atomicfile.WriteFile(env.Path(name), []byte(name), 0o644); err != nil {
						return err
					}
					env.AddTable("parts", 1, name)
					return env.CommitShard(name, name)
				})
			}
			return g.Wait()
		})})
	r.MustRegister(pipeline.Spec{Kind: "toy.tagged", Version: "1", Produces: []string{"t"},
		Params: []pipeline.Param{{Name: "tag", Type: pipeline.String, Default: ""}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			if err := os.WriteFile(env.Path("t.txt"), []byte(env.StageID), 0o644); err != nil {
				return err
			}
			env.AddTable("t", 1, "t.txt")
			return nil
		})})
	r.MustRegister(pipeline.Spec{Kind: "toy.readt", Version: "1", Produces: []string{"copy"},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error { return copyTable(env, "t") })})
	return r
}

// writeParts writes and commits the shards part-0.txt .. part-2.txt that
// are not done yet (counting each write; panicking at shard panicAt, if it
// is one of them) and declares them as the table "parts".
func writeParts(env *pipeline.Env, panicAt int) error {
	var files []string
	for i := range 3 {
		name := fmt.Sprintf("part-%d.txt", i)
		files = append(files, name)
		if env.ShardDone(name) {
			continue
		}
		if i == panicAt {
			panic("shard " + name)
		}
		countExec(env.StageID + "/" + name)
		if err := atomicfile.WriteFile(env.Path(name), []byte(name), 0o644); err != nil {
			return err
		}
		if err := env.CommitShard(name, name); err != nil {
			return err
		}
	}
	env.AddTable("parts", 3, files...)
	return nil
}

// copyTable copies the first file of the nearest upstream table to
// copy.txt and declares it as the table "copy" (toy reader stages).
func copyTable(env *pipeline.Env, table string) error {
	files, _, err := env.InputTable(table)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	if err := os.WriteFile(env.Path("copy.txt"), b, 0o644); err != nil {
		return err
	}
	env.AddTable("copy", 1, "copy.txt")
	return nil
}

// TestPanicKeepsCommittedShards: a stage that panics fails with an error
// naming it, the run record says failed, and the rerun resumes from the
// shards committed before the panic.
func TestPanicKeepsCommittedShards(t *testing.T) {
	h := newHarness(t, "name: p\nstages:\n  ps:\n    uses: toy.panicshard\n")
	h.reg = reviewRegistry()
	res, err := pipeline.Run(t.Context(), h.load("ps.panic_at=2"), pipeline.RunOptions{})
	if !errors.Is(err, pipeline.ErrStageFailed) || !strings.Contains(err.Error(), `stage "ps" panicked: shard part-2.txt`) {
		t.Fatalf("err %v, want a failure naming the stage and the panic", err)
	}
	if r, _ := res.Record.Stage("ps"); res.Record.Status != "failed" || r.Status != pipeline.RunFailed || !strings.Contains(r.Error, `"ps" panicked`) {
		t.Errorf("record %s, stage %+v", res.Record.Status, r)
	}
	resetExec()
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"ps": "ran"})
	for i, want := range []int{0, 0, 1} {
		if n := execCount(fmt.Sprintf("ps/part-%d.txt", i)); n != want {
			t.Errorf("after the panic, shard %d written %d times, want %d", i, n, want)
		}
	}
}

// TestConcurrentCommitShard: shards committed from many goroutines of one
// stage all count, on the first run and on a resumed one.
func TestConcurrentCommitShard(t *testing.T) {
	h := newHarness(t, "name: c\nstages:\n  c:\n    uses: toy.parshards\n")
	h.reg = reviewRegistry()
	res := h.run(pipeline.RunOptions{})
	a := res.Artifacts["c"]
	if files, _ := a.Table("parts"); len(files) != 32 || a.TableRows("parts") != 32 || len(a.Manifest.Files) != 32 {
		t.Fatalf("table files %d rows %d manifest files %d, want 32", len(files), a.TableRows("parts"), len(a.Manifest.Files))
	}
	if _, err := os.Stat(a.Path(".done")); !os.IsNotExist(err) {
		t.Errorf("shard markers left in the artifact: %v", err)
	}
}

// TestInputTableNearest: with two upstream artifacts declaring the same
// table, Env.InputTable takes the nearest (direct inputs before their
// inputs; among equals, `needs` order).
func TestInputTableNearest(t *testing.T) {
	for _, tc := range []struct{ name, stages, want string }{
		{"needs order", "  x: {uses: toy.tagged}\n  y: {uses: toy.tagged, with: {tag: y}}\n  r: {uses: toy.readt, needs: [y, x]}\n", "y"},
		{"direct before deeper", "  x: {uses: toy.tagged}\n  mid: {uses: toy.readt, needs: [x]}\n  y: {uses: toy.tagged, with: {tag: y}}\n  r: {uses: toy.readt, needs: [mid, y]}\n", "y"},
		{"through an input", "  x: {uses: toy.tagged}\n  mid: {uses: toy.readt, needs: [x]}\n  r: {uses: toy.readt, needs: [mid]}\n", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "name: n\nstages:\n"+tc.stages)
			h.reg = reviewRegistry()
			res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(res.Artifacts["r"].Path("copy.txt"))
			if err != nil || string(b) != tc.want {
				t.Errorf("r read t from %q %v, want %q", b, err, tc.want)
			}
		})
	}
}

// TestManifestWriteFailureKeepsShards: a failure at the last step of
// sealing, writing the manifest (here a directory in its place; in life a
// full disk), keeps the committed shards: the rerun recomputes none.
func TestManifestWriteFailureKeepsShards(t *testing.T) {
	r := reviewRegistry()
	r.MustRegister(pipeline.Spec{Kind: "toy.nomanifest", Version: "1",
		Params: []pipeline.Param{{Name: "block", Type: pipeline.Bool, Default: false, NoCache: true}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			if err := writeParts(env, -1); err != nil {
				return err
			}
			block := filepath.Join(env.Dir, pipeline.ManifestName)
			if env.Params.Bool("block") {
				return os.Mkdir(block, 0o755)
			}
			return os.RemoveAll(block)
		})})
	h := newHarness(t, "name: m\nstages:\n  s:\n    uses: toy.nomanifest\n")
	h.reg = r
	if _, err := pipeline.Run(t.Context(), h.load("s.block=true"), pipeline.RunOptions{}); !errors.Is(err, pipeline.ErrStageFailed) {
		t.Fatalf("err %v, want the manifest write to fail the stage", err)
	}
	resetExec()
	res := h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"s": "ran"})
	for i := range 3 {
		if n := execCount(fmt.Sprintf("s/part-%d.txt", i)); n != 0 {
			t.Errorf("rerun after a failed manifest write recomputed shard %d", i)
		}
	}
}

// TestUndeclaredTableWarns: a stage that returns nil without declaring a
// table its Spec.Produces lists is logged as such (its downstream stages
// fail with ErrNoInput, which does not name it).
func TestUndeclaredTableWarns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		declare bool
	}{{"declared", true}, {"undeclared", false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := reviewRegistry()
			r.MustRegister(pipeline.Spec{Kind: "toy.forgets", Version: "1", Produces: []string{"t"},
				Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
					if err := os.WriteFile(env.Path("t.txt"), []byte("x"), 0o644); err != nil {
						return err
					}
					if tc.declare {
						env.AddTable("t", 1, "t.txt")
					}
					return nil
				})})
			h := newHarness(t, "name: u\nstages:\n  f:\n    uses: toy.forgets\n  r:\n    uses: toy.readt\n    needs: [f]\n")
			h.reg = r
			var log strings.Builder
			_, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Log: slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil))})
			warned := strings.Contains(log.String(), "level=WARN") && strings.Contains(log.String(), "without declaring tables") &&
				strings.Contains(log.String(), "stage=f") && strings.Contains(log.String(), "tables=[t]")
			if tc.declare && (err != nil || warned) {
				t.Errorf("err %v, warned %v:\n%s", err, warned, log.String())
			}
			if !tc.declare && (!errors.Is(err, pipeline.ErrNoInput) || !warned) {
				t.Errorf("err %v (want ErrNoInput), warned %v:\n%s", err, warned, log.String())
			}
		})
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestShardNames: every non-empty shard name is committed under its own
// marker: names that differ only in how the marker encodes "/" or a
// leading "." are distinct, and CommittedShards lists each committed name.
func TestShardNames(t *testing.T) {
	for _, tc := range []struct {
		name      string
		commit    []string
		notCommit []string
	}{
		{"slash and its escape", []string{"a/b"}, []string{"a%2Fb"}},
		{"escape and slash", []string{"a%2Fb"}, []string{"a/b"}},
		{"percent", []string{"50%", "100%25"}, []string{"100%"}},
		{"leading dot", []string{".hidden"}, []string{"%2Ehidden", "hidden"}},
		{"dots", []string{".", ".."}, []string{"..."}},
		{"many goroutines", []string{"g/00", "g/01", "g/02", "g/03", "g/04", "g/05", "g/06", "g/07"}, []string{"g/08"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := pipeline.NewEnv("s", "toy", pipeline.Params{}, nil, t.TempDir(), nil)
			var g errgroup.Group
			for _, n := range tc.commit {
				g.Go(func() error { return env.CommitShard(n, "") })
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			for _, n := range tc.commit {
				if !env.ShardDone(n) {
					t.Errorf("ShardDone(%q) false after CommitShard", n)
				}
			}
			for _, n := range tc.notCommit {
				if env.ShardDone(n) {
					t.Errorf("ShardDone(%q) true, but only %q were committed", n, tc.commit)
				}
			}
			want := slices.Sorted(slices.Values(tc.commit))
			if got := env.CommittedShards(); !slices.Equal(got, want) {
				t.Errorf("CommittedShards %q, want %q", got, want)
			}
		})
	}
	env := pipeline.NewEnv("s", "toy", pipeline.Params{}, nil, t.TempDir(), nil)
	if err := env.CommitShard("", ""); err == nil || env.ShardDone("") {
		t.Errorf("an empty shard name: CommitShard err %v, ShardDone %v", err, env.ShardDone(""))
	}
}

// TestCancelReachesEveryRunningStage: canceling the run's context stops
// every running stage (-j 3, three long stages), the record says canceled
// for the run and each of them, and a stage downstream of them is skipped.
func TestCancelReachesEveryRunningStage(t *testing.T) {
	h := newHarness(t, "name: c\nstages:\n  a: {uses: toy.sleep, with: {ms: 60000, id: a}}\n  b: {uses: toy.sleep, with: {ms: 60000, id: b}}\n  c: {uses: toy.sleep, with: {ms: 60000, id: c}}\n  d: {uses: toy.sleep, needs: [a, b, c]}\n")
	h.reg = schedRegistry()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for execCount("a")+execCount("b")+execCount("c") < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	res, err := pipeline.Run(ctx, h.load(), pipeline.RunOptions{Jobs: 3})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if res == nil || res.Record.Status != pipeline.RunCanceled {
		t.Fatalf("record %+v", res)
	}
	wantStatuses(t, res, map[string]string{"a": "canceled", "b": "canceled", "c": "canceled", "d": "skipped"})
}

// TestSelectionOnAFreshWorkdir: --from and --until on a workdir where
// nothing is cached: the upstream a selected stage reads is run too; what
// is downstream of --until, or beside --from, is skipped.
func TestSelectionOnAFreshWorkdir(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  pipeline.RunOptions
		want map[string]string
	}{
		{"from b", pipeline.RunOptions{From: "b"}, map[string]string{"a": "ran", "b": "ran", "c": "ran", "d": "skipped"}},
		{"from c", pipeline.RunOptions{From: "c"}, map[string]string{"a": "ran", "b": "ran", "c": "ran", "d": "skipped"}},
		{"until b", pipeline.RunOptions{Until: "b"}, map[string]string{"a": "ran", "b": "ran", "c": "skipped", "d": "skipped"}},
		{"from b until b", pipeline.RunOptions{From: "b", Until: "b"}, map[string]string{"a": "ran", "b": "ran", "c": "skipped", "d": "skipped"}},
		{"until b force d", pipeline.RunOptions{Until: "b", Force: []string{"d"}}, map[string]string{"a": "ran", "b": "ran", "c": "skipped", "d": "ran"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, diamond)
			tc.opt.Jobs = 2
			wantStatuses(t, h.run(tc.opt), tc.want)
		})
	}
}
