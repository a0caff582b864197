package pipeline_test

import (
	"testing"

	"coderflow/pipeline"
)

// TestStagesWithTheSameKeyRunOnce has two stages with the same kind, params
// and inputs, hence the same key and work directory (as an ablation
// workflow may have): they must not run at the same time in that directory.
// One runs, the other takes its artifact, and so do their consumers.
func TestStagesWithTheSameKeyRunOnce(t *testing.T) {
	h := newHarness(t, `
name: same
stages:
  s1:
    uses: toy.shards
    with: {shards: 4, sleep_ms: 30}
  s2:
    uses: toy.shards
    with: {shards: 4, sleep_ms: 30}
  a1:
    uses: toy.source
    with: {n: 2}
  a2:
    uses: toy.source
    with: {n: 2}
  c1:
    uses: toy.concat
    needs: [a1]
  c2:
    uses: toy.concat
    needs: [a2]
`)
	res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 4})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := statuses(res)
	for _, pair := range [][2]string{{"s1", "s2"}, {"a1", "a2"}, {"c1", "c2"}} {
		a, b := got[pair[0]], got[pair[1]]
		if !(a == "ran" && b == "cached" || a == "cached" && b == "ran") {
			t.Errorf("%s %s, %s %s: want one ran and one cached", pair[0], a, pair[1], b)
		}
		if res.Artifacts[pair[0]] == nil || res.Artifacts[pair[1]] == nil || res.Artifacts[pair[0]].Dir != res.Artifacts[pair[1]].Dir {
			t.Errorf("%s and %s should share one artifact", pair[0], pair[1])
		}
	}
	for i := range 4 {
		for _, s := range []string{"s1", "s2"} {
			if n := execCount(s + "/part-" + pad3(i) + ".txt"); n > 1 {
				t.Errorf("%s shard %d written %d times", s, i, n)
			}
		}
		if n := execCount("s1/part-"+pad3(i)+".txt") + execCount("s2/part-"+pad3(i)+".txt"); n != 1 {
			t.Errorf("shard %d written %d times in all, want once", i, n)
		}
	}
	if n := execCount("a1") + execCount("a2"); n != 1 {
		t.Errorf("a1 and a2 ran %d times in all, want once", n)
	}
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"s1": "cached", "s2": "cached", "a1": "cached", "a2": "cached", "c1": "cached", "c2": "cached"})
}
