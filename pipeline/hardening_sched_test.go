package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

func schedRegistry() *pipeline.Registry {
	r := toyRegistry()
	r.MustRegister(pipeline.Spec{
		Kind: "toy.sleep", Version: "1",
		Params: []pipeline.Param{{Name: "ms", Type: pipeline.Int, Default: 0}, {Name: "id", Type: pipeline.String, Default: ""},
			{Name: "fail", Type: pipeline.Bool, Default: false}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			countExec(env.StageID)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(env.Params.Int("ms")) * time.Millisecond):
			}
			if env.Params.Bool("fail") {
				return errors.New("boom")
			}
			return os.WriteFile(env.Path("out.txt"), []byte(env.StageID), 0o644)
		}),
	})
	return r
}

func TestSchedulerFailureManyStages(t *testing.T) {
	for _, jobs := range []int{1, 2, 8, 64} {
		var b strings.Builder
		b.WriteString("name: s\nstages:\n  bad:\n    uses: toy.sleep\n    with: {ms: 30, fail: true}\n  after_bad:\n    uses: toy.sleep\n    needs: [bad]\n")
		for i := range 60 {
			fmt.Fprintf(&b, "  s%02d:\n    uses: toy.sleep\n    with: {ms: 20, id: s%02d}\n", i, i)
			if i > 0 {
				fmt.Fprintf(&b, "    needs: [s%02d]\n", i-1)
			}
			fmt.Fprintf(&b, "  p%02d:\n    uses: toy.sleep\n    with: {ms: 200, id: p%02d}\n", i, i)
		}
		h := newHarness(t, b.String())
		h.reg = schedRegistry()
		done := make(chan struct{})
		var res *pipeline.Result
		var err error
		go func() {
			res, err = pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: jobs})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("jobs=%d: deadlock", jobs)
		}
		if !errors.Is(err, pipeline.ErrStageFailed) {
			t.Errorf("jobs=%d: err %v", jobs, err)
		}
		st := statuses(res)
		count := map[string]int{}
		for id, s := range st {
			count[s]++
			r, _ := res.Record.Stage(id)
			if s == "canceled" && !strings.Contains(r.Error, "stage bad failed") {
				t.Errorf("jobs=%d: canceled %s error %q lacks the cause", jobs, id, r.Error)
			}
			if s == "ran" && execCount(id) != 1 {
				t.Errorf("exec %s", id)
			}
		}
		if st["bad"] != "failed" || st["after_bad"] != "skipped" {
			t.Errorf("jobs=%d: bad %s after_bad %s", jobs, st["bad"], st["after_bad"])
		}
		// record on disk equals the returned one
		disk, _ := os.ReadFile(res.RecordPath)
		var rr pipeline.RunRecord
		json.Unmarshal(disk, &rr)
		if rr.Status != "failed" || len(rr.Stages) != len(res.Record.Stages) {
			t.Errorf("jobs=%d: disk record %s %d stages", jobs, rr.Status, len(rr.Stages))
		}
		for id, s := range st {
			if s != "skipped" {
				t.Logf("jobs=%d %s %s exec=%d", jobs, id, s, execCount(id))
			}
		}
		t.Logf("jobs=%d: %v", jobs, count)
	}
}
