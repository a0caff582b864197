package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestCorruptedCache damages a cached artifact in several ways: status must
// report the stage stale or missing with the reason documented in
// docs/RELIABILITY.md (never cached, never a crash) and a run must
// recompute it to the same bytes.
func TestCorruptedCache(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string) // dir: the tokenize artifact
		status string                         // want: the status
		reason []string                       // and substrings of its reason
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
		}, pipeline.StatusStale, []string{"file vocab.parquet is corrupted (sha256 differs from the manifest)"}},
		{"FileDeleted", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "vocab.parquet")) },
			pipeline.StatusStale, []string{"file vocab.parquet is missing"}},
		{"FileTruncated", func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "vocab.parquet"), 10) },
			pipeline.StatusStale, []string{"file vocab.parquet is corrupted (size 10, manifest says "}},
		{"ManifestTruncated", func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "manifest.json"), 20) },
			pipeline.StatusStale, []string{"manifest unreadable: ", `manifest.json: json: missing '"' at the end of a string value`}},
		{"ManifestGarbage", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "manifest.json"), []byte("\x00\x01not json"))
		}, pipeline.StatusStale, []string{"manifest unreadable: ", "invalid character '\x00' looking for beginning of value"}}, // a NUL byte: the reason quotes the garbage
		{"ManifestDeleted", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "manifest.json")) },
			pipeline.StatusMissing, nil},
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
				if s.Stage != "tokens" {
					continue
				}
				t.Logf("status: %s (%q)", s.Status, s.Reason) // %q: the reason may quote binary garbage
				if s.Status != c.status {
					t.Errorf("damaged tokens artifact reported %s, want %s", s.Status, c.status)
				}
				for _, w := range c.reason {
					if !strings.Contains(s.Reason, w) {
						t.Errorf("status reason %q lacks %q", s.Reason, w)
					}
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
// work and find the artifacts cached. An unreadable run record must be
// named, not skipped silently (finding 10): `metrics --runs` warns with its
// path and `metrics` says it could not be read.
func TestCorruptedWorkdirFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, wd string) string // returns the damaged file
		check  func(t *testing.T, wf, wd, damaged string)
	}{
		{"StatcacheGarbage", func(t *testing.T, wd string) string {
			return write(t, pipeline.StatCachePath(wd), []byte("garbage{"))
		}, nil},
		{"RunRecordTruncated", func(t *testing.T, wd string) string {
			files, _ := filepath.Glob(filepath.Join(wd, "runs", "guard", "*.json"))
			if len(files) == 0 {
				t.Fatal("no run record")
			}
			if err := os.Truncate(files[0], 100); err != nil {
				t.Fatal(err)
			}
			return files[0]
		}, func(t *testing.T, wf, wd, damaged string) {
			want := "unreadable run records (ignored): " + damaged
			r := mustRun(t, "metrics", wf, "--workdir", wd, "--runs")
			if !strings.Contains(r.stderr, "warning: "+want) {
				t.Errorf("metrics --runs with a truncated run record: stderr lacks %q:\n%s", "warning: "+want, r.all())
			}
			// The only record is unreadable: metrics (latest) fails and says why.
			if r := cf(t, t.Context(), "", "metrics", wf, "--workdir", wd); r.code == 0 || !strings.Contains(r.all(), want) {
				t.Errorf("metrics with its only run record truncated: exit %d, want an error containing %q:\n%s", r.code, want, r.all())
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			wf := write(t, filepath.Join(dir, "guard.yaml"), []byte(guardWF))
			wd := filepath.Join(dir, "wd")
			mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
			damaged := c.damage(t, wd)
			if c.check != nil {
				c.check(t, wf, wd, damaged)
			}
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
