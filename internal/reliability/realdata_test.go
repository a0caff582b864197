package reliability

import (
	"coderflow/internal/testenv"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

func sharedData(t *testing.T, sub string) string { return testenv.SharedData(t, sub) }

// TestKillResumeRealPhotos SIGKILLs feature extraction of the 875 real
// Flickr8k photos in shared/data/flickr8k-1k three times at random moments;
// the rerun must resume from the committed shards and end byte-identical to
// an uninterrupted run.
func TestKillResumeRealPhotos(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: real-photo kill test skipped")
	}
	src := sharedData(t, "flickr8k-1k")
	wf := write(t, filepath.Join(t.TempDir(), "real.yaml"), fmt.Appendf(nil, `name: real
stages:
  data:
    uses: dataset.flickr8k
    with: {source: "dir:%s"}
  features:
    uses: features.regions
    needs: [data]
    with: {regions: 5, short_side: 128, shard_rows: 64}
  tokens:
    uses: tokenize
    needs: [data]
    with: {min_count: 2, shard_rows: 1000}
`, src))
	refDir := t.TempDir()
	mustRun(t, "run", wf, "--workdir", filepath.Join(refDir, "wd"), "--no-progress")
	rec := latestRecord(t, filepath.Join(refDir, "wd"), "real")
	ref := &reference{wf: wf, dir: refDir, keys: map[string]string{}, kinds: map[string]string{}, seconds: map[string]float64{},
		digests: digestsByStage(t, filepath.Join(refDir, "wd"))}
	for _, s := range rec.Stages {
		ref.keys[s.Stage], ref.kinds[s.Stage], ref.seconds[s.Stage] = s.Key, s.Kind, s.Seconds
	}

	seed := killSeed(t)
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x9e41))
	wd := filepath.Join(t.TempDir(), "wd")
	args := []string{"run", wf, "--workdir", wd, "--no-progress"}
	interrupted := 0
	for i := range 3 {
		delay := time.Duration(rng.Float64() * 0.9 * ref.seconds["features"] * float64(time.Second))
		k := runAndKill(t, args, "features", delay)
		t.Logf("kill %d: delay %s: killed=%v while running %v (resumed %v)", i+1, delay.Round(time.Millisecond), k.killed, k.atKill, k.resumed)
		for _, s := range k.atKill {
			if s == "features" {
				interrupted++
			}
		}
		verifyCache(t, wd)
		if t.Failed() {
			t.Fatalf("cache invariant broken after kill %d:\n%s", i+1, k.log.String())
		}
	}
	if interrupted == 0 {
		t.Logf("no kill landed during features.regions (it finished before the delays)")
	}
	r := cf(t, context.Background(), "", args...)
	if r.code != 0 {
		t.Fatalf("final run: exit %d\n%s", r.code, r.all())
	}
	for _, s := range latestRecord(t, wd, "real").Stages {
		if s.Key != ref.keys[s.Stage] {
			t.Errorf("stage %s: key %s, uninterrupted %s", s.Stage, s.Key[:12], ref.keys[s.Stage][:12])
		}
	}
	compareArtifacts(t, ref, wd)
}
