package reliability

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// slowWriter delays every chunk written to a response, so that a download
// takes long enough to be killed in the middle.
type slowWriter struct {
	http.ResponseWriter
	delay time.Duration
}

func (w slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 32<<10)
		m, err := w.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(w.delay)
		p = p[c:]
	}
	return n, nil
}

// TestKillDownload SIGKILLs the download stage in the middle of an HTTP
// transfer (a local server that honours Range): the rerun must finish the
// file, verify its sha256 and leave nothing half-written in the cache.
func TestKillDownload(t *testing.T) {
	body := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	sum := sha256.Sum256(body)
	var ranged atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		http.ServeContent(slowWriter{w, 10 * time.Millisecond}, r, "data.bin", time.Unix(1_700_000_000, 0), bytes.NewReader(body))
	}))
	defer srv.Close()

	dir := t.TempDir()
	wf := write(t, filepath.Join(dir, "dl.yaml"), fmt.Appendf(nil, `name: dl
stages:
  get:
    uses: download
    with: {url: %q, sha256: %q, retries: 2, backoff: 0}
`, srv.URL+"/data.bin", hex.EncodeToString(sum[:])))
	wd := filepath.Join(dir, "wd")
	args := []string{"run", wf, "--workdir", wd, "--no-progress"}
	k := runAndKill(t, args, "get", 300*time.Millisecond)
	if !k.killed {
		t.Fatalf("the download finished before the kill:\n%s", k.log.String())
	}
	verifyCache(t, wd)
	r := mustRun(t, args...)
	if !strings.Contains(r.stderr, "msg=resuming stage=get") {
		t.Errorf("the rerun did not resume the work dir:\n%s", r.stderr)
	}
	t.Logf("range requests: %d", ranged.Load())
	if ranged.Load() == 0 {
		t.Errorf("the rerun fetched the whole file again instead of resuming with a Range request")
	}
	for _, s := range states(t, wf, wd) {
		m, err := readManifest(s.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m.Files {
			if f.Path == "files/data.bin" && f.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("files/data.bin: sha256 %s, want the served file's", f.SHA256)
			}
		}
	}
	verifyCache(t, wd)
}
