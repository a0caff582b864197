package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

func TestShardResumeStates(t *testing.T) {
	h := newHarness(t, "name: sh\nstages:\n  s:\n    uses: toy.shards\n    with: {shards: 4}\n")
	states, _ := h.load().States(pipeline.NewDigester(""))
	wd := filepath.Join(h.workdir, "tmp", "toy.shards", states[0].Key)
	os.MkdirAll(filepath.Join(wd, ".done"), 0o755)
	good := strings.Repeat("shard 0\n", 1000)
	// shard 0: committed twice (marker rewritten), file ok
	os.WriteFile(filepath.Join(wd, "part-000.txt"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(wd, ".done", "part-000.txt"), []byte("part-000.txt"), 0o644)
	os.WriteFile(filepath.Join(wd, ".done", "part-000.txt"), []byte("part-000.txt"), 0o644)
	// shard 1: marker without the file
	os.WriteFile(filepath.Join(wd, ".done", "part-001.txt"), []byte("part-001.txt"), 0o644)
	// shard 2: file (partial) without a marker
	os.WriteFile(filepath.Join(wd, "part-002.txt"), []byte("partial"), 0o644)
	st, _ := h.load().States(pipeline.NewDigester(""))
	t.Logf("status: %s resume=%d reason=%q", st[0].Status, st[0].Resume, st[0].Reason)
	res := h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"s": "ran"})
	for i, want := range []int{0, 1, 1, 1} {
		name := "s/part-00" + itoa(i) + ".txt"
		if execCount(name) != want {
			t.Errorf("%s executed %d, want %d", name, execCount(name), want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(res.Artifacts["s"].Dir, "part-002.txt"))
	if string(b) == "partial" {
		t.Error("partial shard kept")
	}
}
