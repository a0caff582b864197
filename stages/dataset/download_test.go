package dataset

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"coderflow/datasets"
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

// TestDownloadValidateChecksums: sha256/md5 (and size) describe one file,
// so they are refused with several catalog entries or a dir: url (where
// they would be ignored), and a malformed digest is refused before
// anything is fetched.
func TestDownloadValidateChecksums(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 32)
	md := strings.Repeat("cd", 16)
	two := []string{"flickr8k-images", "flickr8k-text"}
	checkValidateDownload(t, []validateCase{
		{"one catalog entry and sha256", map[string]any{"catalog": []string{"flickr8k-text"}, "sha256": sha}, nil},
		{"one catalog entry and md5", map[string]any{"catalog": []string{"flickr8k-text"}, "md5": strings.ToUpper(md)}, nil},
		{"md5 none with several entries", map[string]any{"catalog": two, "md5": "None"}, nil},
		{"url and catalog: the digest is the url's", map[string]any{"catalog": two, "url": "https://example.com/x.zip", "sha256": sha}, nil},
		{"several entries and sha256", map[string]any{"catalog": two, "sha256": sha}, []string{"with.sha256", "one file", "2 catalog entries"}},
		{"several entries and md5", map[string]any{"catalog": two, "md5": md}, []string{"with.md5", "one file"}},
		{"several entries and size", map[string]any{"catalog": two, "size": 10}, []string{"with.size", "one file"}},
		{"dir: url and sha256", map[string]any{"url": "dir:/data", "sha256": sha}, []string{"with.sha256", "dir:"}},
		{"short sha256", map[string]any{"url": "https://example.com/x.zip", "sha256": sha[:63]}, []string{"with.sha256", "64 hex"}},
		{"md5 given as sha256", map[string]any{"url": "https://example.com/x.zip", "sha256": md}, []string{"with.sha256", "64 hex"}},
		{"sha256 not hex", map[string]any{"url": "https://example.com/x.zip", "sha256": "z" + sha[1:]}, []string{"with.sha256"}},
		{"md5 not hex", map[string]any{"catalog": []string{"flickr8k-text"}, "md5": "g" + md[1:]}, []string{"with.md5", "32 hex", "none"}},
		{"both malformed: both reported", map[string]any{"url": "https://example.com/x.zip", "sha256": "x", "md5": "y"}, []string{"with.sha256", "with.md5"}},
	})
}

// TestDownloadCatalogChecksum: a sha256 or md5 given with one catalog entry
// verifies that entry's file (instead of being ignored). It is not
// parallel: it points two catalog entries at a test server by replacing
// the package-level datasets.Catalog, and restores it before any parallel
// test of the package resumes.
func TestDownloadCatalogChecksum(t *testing.T) {
	archive := zipDir(t, fakeFlickr8k(t, ""))
	sha := sha256.Sum256(archive)
	md := md5.Sum(archive)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f8k.zip", time.Unix(0, 0), bytes.NewReader(archive))
	}))
	defer srv.Close()
	saved := datasets.Catalog
	defer func() { datasets.Catalog = saved }()
	datasets.Catalog = append(slices.Clip(saved),
		datasets.Source{Name: "test-f8k", URLs: []string{srv.URL + "/f8k.zip"}, File: "f8k.zip", MD5: hex.EncodeToString(md[:]), Archive: true, Doc: "test"},
		datasets.Source{Name: "test-f8k-nomd5", URLs: []string{srv.URL + "/f8k.zip"}, File: "f8k.zip", Archive: true, Doc: "test"})

	run := func(raw map[string]any) (*pipeline.Artifact, error) {
		return pipeline.RunStandalone(t.Context(), &DownloadSpec, "dl", raw, nil, filepath.Join(t.TempDir(), "art"), nil)
	}
	wrongSHA, wrongMD5 := strings.Repeat("0", 64), strings.Repeat("0", 32)
	for _, c := range []struct {
		name    string
		raw     map[string]any
		wantErr string // "" = success
	}{
		{"right sha256", map[string]any{"catalog": []string{"test-f8k-nomd5"}, "sha256": hex.EncodeToString(sha[:])}, ""},
		{"wrong sha256", map[string]any{"catalog": []string{"test-f8k-nomd5"}, "sha256": wrongSHA}, "checksum mismatch: sha256"},
		{"wrong sha256, catalog md5 right", map[string]any{"catalog": []string{"test-f8k"}, "sha256": wrongSHA}, "checksum mismatch: sha256"},
		{"wrong md5 overrides the catalog's", map[string]any{"catalog": []string{"test-f8k"}, "md5": wrongMD5}, "checksum mismatch: md5"},
		{"wrong size", map[string]any{"catalog": []string{"test-f8k"}, "size": len(archive) + 1}, "checksum mismatch: size"},
		{"md5 none skips the catalog's", map[string]any{"catalog": []string{"test-f8k"}, "md5": "none", "sha256": hex.EncodeToString(sha[:])}, ""},
	} {
		a, err := run(c.raw)
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if _, err := os.Stat(a.Path("files/Flickr8k_text/Flickr8k.token.txt")); err != nil {
				t.Errorf("%s: not extracted: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.wantErr)
		}
	}
}
