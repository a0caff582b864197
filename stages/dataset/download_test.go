package dataset

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// zipDir zips the tree under dir.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func TestDownloadThenFlickr8k(t *testing.T) {
	t.Parallel()
	src := fakeFlickr8k(t, "")
	archive := zipDir(t, src)
	sum := sha256.Sum256(archive)
	var fails atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(1) == 1 { // one transient failure
			http.Error(w, "busy", 503)
			return
		}
		http.ServeContent(w, r, "f8k.zip", time.Unix(0, 0), bytes.NewReader(archive))
	}))
	defer srv.Close()
	dl := pipelinetest.RunStage(t, &DownloadSpec, map[string]any{
		"url": srv.URL + "/Flickr8k.zip", "sha256": hex.EncodeToString(sum[:]), "backoff": 0.001})
	if _, err := os.Stat(dl.Path("files/Flickr8k_text/Flickr8k.token.txt")); err != nil {
		t.Fatalf("not extracted: %v", err)
	}
	if _, err := os.Stat(dl.Path("files/Flickr8k.zip")); !os.IsNotExist(err) {
		t.Fatalf("archive kept without keep_archives")
	}
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{}, dl)
	if got := a.TableRows(table.Images); got != 4 {
		t.Fatalf("images %d, want 4", got)
	}
	files, _ := a.Table(table.Images)
	imgs, _ := table.ReadAll[table.ImageRow](t.Context(), files...)
	if !strings.HasPrefix(imgs[0].Path, dl.Dir) {
		t.Fatalf("image path %q not inside the download artifact", imgs[0].Path)
	}

	// A wrong checksum fails the stage and leaves no file behind.
	dir := filepath.Join(t.TempDir(), "art")
	_, err := pipeline.RunStandalone(t.Context(), &DownloadSpec, "dl", map[string]any{
		"url": srv.URL + "/Flickr8k.zip", "sha256": strings.Repeat("0", 64)}, nil, dir, nil)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("err = %v, want a checksum mismatch", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); !os.IsNotExist(err) {
		t.Fatal("a manifest was written for a failed download")
	}
	left := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left++
		}
		return nil
	})
	if left != 0 {
		t.Fatalf("%d files left after a checksum mismatch", left)
	}
}

func TestDownloadDirInPlace(t *testing.T) {
	t.Parallel()
	src := fakeFlickr8k(t, "")
	dl := pipelinetest.RunStage(t, &DownloadSpec, map[string]any{"url": "dir:" + src})
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{}, dl)
	if got := a.TableRows(table.Captions); got != 19 {
		t.Fatalf("captions %d, want 19", got)
	}
}

func TestDownloadBadParams(t *testing.T) {
	t.Parallel()
	for _, raw := range []map[string]any{
		{},
		{"catalog": []string{"no-such-data"}},
		{"url": "ftp://example.com/x.zip"},
	} {
		if _, err := pipelinetest.RunStageErr(t, &DownloadSpec, raw); err == nil {
			t.Errorf("%v: want an error", raw)
		}
	}
}

func TestDownloadLocalFile(t *testing.T) {
	t.Parallel()
	src := fakeFlickr8k(t, "")
	zp := filepath.Join(t.TempDir(), "f8k.zip")
	os.WriteFile(zp, zipDir(t, src), 0o644)
	for _, u := range []string{zp, "file://" + zp} {
		dl := pipelinetest.RunStage(t, &DownloadSpec, map[string]any{"url": u, "keep_archives": true})
		if _, err := os.Stat(dl.Path("files/f8k.zip")); err != nil {
			t.Fatalf("%s: archive not kept: %v", u, err)
		}
		a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{}, dl)
		if a.TableRows(table.Images) != 4 {
			t.Fatalf("%s: %d images", u, a.TableRows(table.Images))
		}
		info := diskInfo(t, dl)["downloads"].([]any)[0].(map[string]any)
		if info["extracted_files"].(float64) < 8 {
			t.Fatalf("%s: download info %v", u, info)
		}
	}
}

// TestDownloadCorruptArchiveRefetched: an archive that no digest verified
// and that does not extract (here: cut short by the server) is deleted, so
// the rerun of the same work directory fetches it again instead of failing
// on the same bytes forever.
func TestDownloadCorruptArchiveRefetched(t *testing.T) {
	t.Parallel()
	archive := zipDir(t, fakeFlickr8k(t, ""))
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Write(archive[:len(archive)/2]) // a consistent but truncated file
			return
		}
		http.ServeContent(w, r, "f8k.zip", time.Unix(0, 0), bytes.NewReader(archive))
	}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "art")
	params := map[string]any{"url": srv.URL + "/f8k.zip"}
	if _, err := pipeline.RunStandalone(t.Context(), &DownloadSpec, "dl", params, nil, dir, nil); err == nil {
		t.Fatal("first attempt: want an extraction error")
	}
	dl, err := pipeline.RunStandalone(t.Context(), &DownloadSpec, "dl", params, nil, dir, nil)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if _, err := os.Stat(dl.Path("files/Flickr8k_text/Flickr8k.token.txt")); err != nil || n.Load() != 2 {
		t.Fatalf("rerun did not fetch and extract again (%d requests): %v", n.Load(), err)
	}
}
