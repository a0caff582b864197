package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"coderflow/pipeline"
)

const bigWF = "name: big\nstages:\n  s:\n    uses: toy.big\n"

func bigRegistry() *pipeline.Registry {
	r := toyRegistry()
	r.MustRegister(pipeline.Spec{
		Kind: "toy.big", Version: "1",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			var files []string
			for i := range 4 {
				name := fmt.Sprintf("part-%d.bin", i)
				files = append(files, name)
				if env.ShardDone(name) {
					continue
				}
				countExec("shard")
				fmt.Println("computed", name)
				tmp := env.Path(name + ".partial")
				f, err := os.Create(tmp)
				if err != nil {
					return err
				}
				f.Truncate(1 << 20) // sparse
				f.Close()
				if err := os.Rename(tmp, env.Path(name)); err != nil {
					return err
				}
				if err := env.CommitShard(name, name); err != nil {
					return err
				}
			}
			env.AddTable("big", 4, files...)
			return nil
		}),
	})
	return r
}

func init() {
	if os.Getenv("HARDENING_HELPER") == "big" {
		w, err := pipeline.Load(os.Getenv("COFLOW_FILE"), pipeline.LoadOptions{Registry: bigRegistry(), Workdir: os.Getenv("COFLOW_WORKDIR")})
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		// stop in the middle of sealing: the parent kills the process there
		pipeline.SetSealHook(func(string) {
			fmt.Println("sealing")
			time.Sleep(time.Minute)
		})
		_, err = pipeline.Run(context.Background(), w, pipeline.RunOptions{})
		fmt.Println("run:", err)
		os.Exit(0)
	}
}

// TestKillDuringSealKeepsShards: a kill while the engine seals a finished
// sharded stage (a hook stops the helper process as sealing starts) keeps
// every committed shard for the rerun: seal removes the .done markers only
// just before the manifest.
func TestKillDuringSealKeepsShards(t *testing.T) {
	h := newHarness(t, bigWF)
	h.reg = bigRegistry()
	cmd := helperCmd(t, "none", h.file, h.workdir)
	cmd.Env = append(cmd.Env, "HARDENING_HELPER=big")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sealing := false
	for sc.Scan() {
		t.Log("helper:", sc.Text())
		if sc.Text() == "sealing" {
			sealing = true
			break
		}
	}
	if !sealing {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the helper never reached sealing")
	}
	m, _ := filepath.Glob(filepath.Join(h.workdir, "tmp", "toy.big", "*"))
	if len(m) != 1 {
		t.Fatalf("work dirs %v", m)
	}
	done := filepath.Join(m[0], ".done")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wdir := filepath.Dir(done)
	parts, _ := filepath.Glob(filepath.Join(wdir, "part-*.bin"))
	_, merr := os.Stat(filepath.Join(wdir, "manifest.json"))
	t.Logf("after kill during seal: %d shard files in the work dir, manifest: %v", len(parts), merr)
	states, _ := h.load().States(pipeline.NewDigester(""))
	if states[0].Status == pipeline.StatusCached || states[0].Resume != 4 {
		t.Errorf("status after a kill during sealing: %s resume=%d %q, want not cached, resuming from 4 shards", states[0].Status, states[0].Resume, states[0].Reason)
	}
	resetExec()
	h.reg = bigRegistry()
	h.run(pipeline.RunOptions{})
	if n := execCount("shard"); n != 0 {
		t.Errorf("rerun after a kill during sealing recomputed %d of 4 committed shards (all 4 files were complete)", n)
	}
}
