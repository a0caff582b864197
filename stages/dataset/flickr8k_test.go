package dataset

import (
	"coderflow/internal/testenv"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

func sharedData(t *testing.T) string { return testenv.SharedData(t) }

func TestFlickr8kRealSubset(t *testing.T) {
	t.Parallel()
	root := filepath.Join(sharedData(t), "flickr8k-1k")
	if !datasets.IsDir(root) {
		t.Skip(root + " not found: real-data test skipped")
	}
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{"source": "dir:" + root})
	if got := a.TableRows(table.Images); got != 875 {
		t.Errorf("images = %d, want 875", got)
	}
	if got := a.TableRows(table.Captions); got != 4375 {
		t.Errorf("captions = %d, want 4375", got)
	}
	files, _ := a.Table(table.Images)
	imgs, err := table.ReadAll[table.ImageRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	split := map[string]int{}
	for _, r := range imgs {
		split[r.Split]++
		if !filepath.IsAbs(r.Path) || r.Width <= 0 || r.Height <= 0 {
			t.Fatalf("bad row %+v", r)
		}
	}
	if split["train"] != 762 || split["dev"] != 56 || split["test"] != 57 {
		t.Errorf("splits %v, want 762/56/57", split)
	}
	if imgs[0].Key != "1000268201_693b08cb0e.jpg" {
		t.Errorf("first image %q", imgs[0].Key)
	}
	if iss, _ := diskInfo(t, a)["issues"].(map[string]any); len(iss) != 0 {
		t.Errorf("issues on the clean subset: %v", iss)
	}
	if sk, ok := diskInfo(t, a)["images_skipped_per_split"].(map[string]any); !ok || len(sk) != 0 {
		t.Errorf("images_skipped_per_split on the clean subset: %v, want {}", diskInfo(t, a)["images_skipped_per_split"])
	}
}

// writeJPEG writes a small JPEG of w x h.
func writeJPEG(t *testing.T, p string, w, h int) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
}

// fakeFlickr8k builds a Flickr8k-shaped directory. images maps name to
// (split, number of captions, present on disk).
func fakeFlickr8k(t *testing.T, tokenExtra string) string {
	t.Helper()
	root := t.TempDir()
	imgDir := filepath.Join(root, "Flicker8k_Dataset")
	txt := filepath.Join(root, "Flickr8k_text")
	os.MkdirAll(imgDir, 0o755)
	os.MkdirAll(txt, 0o755)
	type img struct {
		name, split string
		ncap        int
		present     bool
	}
	imgs := []img{
		{"a.jpg", "train", 5, true},
		{"b.jpg", "train", 4, true}, // kept, counted
		{"c.jpg", "dev", 5, true},   //
		{"d.jpg", "dev", 4, true},   // skipped, counted
		{"e.jpg", "test", 5, false}, // missing on disk
		{"f.jpg", "test", 5, true},  //
		{"g.jpg", "", 5, true},      // unlisted
		{"h.jpg", "test", 0, true},  // no captions
	}
	lists := map[string]*strings.Builder{"train": {}, "dev": {}, "test": {}}
	var tok strings.Builder
	for i, m := range imgs {
		if m.present {
			writeJPEG(t, filepath.Join(imgDir, m.name), 10+i, 20)
		}
		if m.split != "" {
			fmt.Fprintln(lists[m.split], m.name)
		}
		for k := 0; k < m.ncap; k++ {
			fmt.Fprintf(&tok, "%s#%d\tcaption %d of %s .\n", m.name, k, k, m.name)
		}
	}
	tok.WriteString(tokenExtra)
	os.WriteFile(filepath.Join(txt, datasets.Flickr8kTokenFile), []byte(tok.String()), 0o644)
	os.WriteFile(filepath.Join(txt, datasets.Flickr8kTrainList), []byte(lists["train"].String()), 0o644)
	os.WriteFile(filepath.Join(txt, datasets.Flickr8kDevList), []byte(lists["dev"].String()), 0o644)
	os.WriteFile(filepath.Join(txt, datasets.Flickr8kTestList), []byte(lists["test"].String()+"a.jpg\n"), 0o644) // a.jpg listed twice
	return root
}

func TestFlickr8kAnomalies(t *testing.T) {
	t.Parallel()
	root := fakeFlickr8k(t, "a.jpg#0\tduplicate caption .\n")
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{"source": root})
	// kept: a(5) b(4) c(5) f(5)
	if got := a.TableRows(table.Images); got != 4 {
		t.Errorf("images = %d, want 4", got)
	}
	if got := a.TableRows(table.Captions); got != 19 {
		t.Errorf("captions = %d, want 19", got)
	}
	info := diskInfo(t, a)
	iss := info["issues"].(map[string]any)
	want := map[string]float64{
		"train_images_not_5_captions_kept":   1,
		"eval_images_not_5_captions_skipped": 1,
		"missing_images":                     1,
		"images_without_captions":            1,
		"duplicate_listed_images":            1,
		"duplicate_captions":                 1,
	}
	for k, n := range want {
		e, _ := iss[k].(map[string]any)
		if e == nil || e["count"].(float64) != n {
			t.Errorf("issue %s: got %v, want count %v", k, iss[k], n)
		}
	}
	if len(iss) != len(want) {
		t.Errorf("issues %v, want exactly %v", iss, want)
	}
	if info["unlisted_images_skipped"] != float64(1) {
		t.Errorf("unlisted: %v", info["unlisted_images_skipped"])
	}
	// strict: the first anomaly fails the stage.
	if _, err := pipelinetest.RunStageErr(t, &Flickr8kSpec, map[string]any{"source": root, "strict": true}); err == nil {
		t.Error("strict: want an error")
	}
}

func TestFlickr8kMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, line, want string }{
		{"no tab", "a.jpg#0 no tab here\n", "no tab"},
		{"no hash", "a.jpg\tcaption\n", "NAME#K"},
		{"bad k", "a.jpg#x\tcaption\n", "not a non-negative integer"},
		{"empty caption", "a.jpg#7\t  \n", "empty caption"},
		{"invalid utf-8", "a.jpg#7\tbad \xff caption\n", "invalid UTF-8 byte 0xff at column 13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := fakeFlickr8k(t, tc.line)
			_, err := pipelinetest.RunStageErr(t, &Flickr8kSpec, map[string]any{"source": root})
			var fe *datasets.FormatError
			if !errors.As(err, &fe) || fe.Line != 34 || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "Flickr8k.token.txt:34") {
				t.Fatalf("got %v, want a format error at Flickr8k.token.txt:34 mentioning %q", err, tc.want)
			}
		})
	}
}

func TestReaderSourceErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"https://example.com/x.zip", filepath.Join(t.TempDir(), "nope"), ""} {
		if _, err := pipelinetest.RunStageErr(t, &Flickr8kSpec, map[string]any{"source": src}); err == nil {
			t.Errorf("source %q: want an error", src)
		}
	}
}

// diskInfo returns the manifest info as written to disk (JSON-decoded).
func diskInfo(t *testing.T, a *pipeline.Artifact) map[string]any {
	t.Helper()
	m, err := pipeline.ReadManifest(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return m.Info
}

// TestFlickr8kMissingFraction: a run where most listed images are missing
// or unreadable (here: a wrong image directory) fails with an error naming
// the directory and some of the files, instead of writing nearly empty
// tables that only tokenize would trip over; max_missing_fraction lets it
// through, counted; no image left always fails.
func TestFlickr8kMissingFraction(t *testing.T) {
	t.Parallel()
	root := fakeFlickr8k(t, "")
	imgDir := filepath.Join(root, "Flicker8k_Dataset")
	// 7 listed images: e.jpg is absent already; remove three more and make
	// one unreadable, 5 of 7 bad.
	for _, n := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		if err := os.Remove(filepath.Join(imgDir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(imgDir, "d.jpg"), []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pipelinetest.RunStageErr(t, &Flickr8kSpec, map[string]any{"source": root})
	for _, want := range []string{"dataset.flickr8k: 5 of 7 listed images are missing or unreadable", "max_missing_fraction 0.25",
		"missing: 4, unreadable: 1", imgDir, "a.jpg (missing)", "d.jpg (unreadable: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{"source": root, "max_missing_fraction": 0.75})
	if got := a.TableRows(table.Images); got != 1 { // f.jpg; h.jpg has no captions
		t.Errorf("images = %d, want 1", got)
	}

	// Every image missing: an error even when any fraction is allowed.
	for _, n := range []string{"d.jpg", "f.jpg", "g.jpg", "h.jpg"} {
		os.Remove(filepath.Join(imgDir, n))
	}
	_, err = pipelinetest.RunStageErr(t, &Flickr8kSpec, map[string]any{"source": root, "max_missing_fraction": 1})
	for _, want := range []string{"no image left of 7 listed", "missing_images: 7", imgDir} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("max_missing_fraction 1, no image on disk: err = %v, want it to contain %q", err, want)
		}
	}
}
