package reliability

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestCorruptedCache damages a cached artifact in several ways: status must
// report the stage stale (never cached, never a crash) and a run must
// recompute it to the same bytes.
func TestCorruptedCache(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string) // dir: the tokenize artifact
	}{
		{"FlippedByteSameSize", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "vocab.parquet")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			write(t, p, b)
			later := time.Now().Add(time.Minute)
			os.Chtimes(p, later, later)
		}},
		{"FileDeleted", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "vocab.parquet")) }},
		{"FileTruncated", func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "vocab.parquet"), 10) }},
		{"ManifestTruncated", func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "manifest.json"), 20) }},
		{"ManifestGarbage", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "manifest.json"), []byte("\x00\x01not json"))
		}},
		{"ManifestDeleted", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "manifest.json")) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			wf := write(t, filepath.Join(dir, "guard.yaml"), []byte(guardWF))
			wd := filepath.Join(dir, "wd")
			mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
			want := digestsByStage(t, wd)
			var tokDir string
			for _, s := range states(t, wf, wd) {
				if s.Stage == "tokens" {
					tokDir = s.Dir
				}
			}
			c.damage(t, tokDir)
			for _, s := range states(t, wf, wd) {
				if s.Stage == "tokens" && s.Status == pipeline.StatusCached {
					t.Errorf("damaged tokens artifact reported cached")
				}
				if s.Stage == "tokens" {
					t.Logf("status: %s (%s)", s.Status, s.Reason)
				}
			}
			mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
			got := digestsByStage(t, wd)
			for stage, files := range want {
				for p, sum := range files {
					if got[stage][p] != sum {
						t.Errorf("stage %s: %s not restored", stage, p)
					}
				}
			}
		})
	}
}

// TestCorruptedWorkdirFiles damages the workdir's own bookkeeping (the stat
// cache of external digests, a run record): status, run and gc must still
// work and find the artifacts cached.
func TestCorruptedWorkdirFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, wd string)
	}{
		{"StatcacheGarbage", func(t *testing.T, wd string) { write(t, pipeline.StatCachePath(wd), []byte("garbage{")) }},
		{"RunRecordTruncated", func(t *testing.T, wd string) {
			files, _ := filepath.Glob(filepath.Join(wd, "runs", "guard", "*.json"))
			if len(files) == 0 {
				t.Fatal("no run record")
			}
			os.Truncate(files[0], 100)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			wf := write(t, filepath.Join(dir, "guard.yaml"), []byte(guardWF))
			wd := filepath.Join(dir, "wd")
			mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
			c.damage(t, wd)
			for _, s := range states(t, wf, wd) {
				if s.Status != pipeline.StatusCached {
					t.Errorf("stage %s is %s (%s)", s.Stage, s.Status, s.Reason)
				}
			}
			mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
			mustRun(t, "gc", wf, "--workdir", wd)
			for _, s := range states(t, wf, wd) {
				if s.Status != pipeline.StatusCached {
					t.Errorf("after run and gc, stage %s is %s", s.Stage, s.Status)
				}
			}
			verifyCache(t, wd)
		})
	}
}
