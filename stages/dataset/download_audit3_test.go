package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline/pipelinetest"
)

// TestDownloadDuplicateName: two files of one download stage with the
// same name under files/ (a url whose base name is a catalog entry's
// file, e.g. a local copy of a catalog archive listed next to the
// catalog entry) share one shard: the second was silently skipped, or the
// catalog's copy fetched from the internet although the user gave a
// local one. The stage now refuses before fetching anything.
func TestDownloadDuplicateName(t *testing.T) {
	t.Parallel()
	local := filepath.Join(t.TempDir(), "Flickr8k_text.zip")
	if err := os.WriteFile(local, []byte("not fetched"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pipelinetest.RunStageErr(t, &DownloadSpec, map[string]any{
		"catalog": []string{"flickr8k-text"}, "url": local,
		"retries": 1, "header_timeout": 1.0, "idle_timeout": 1.0})
	if err == nil || !strings.Contains(err.Error(), "Flickr8k_text.zip") || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err = %v, want a refusal naming Flickr8k_text.zip twice", err)
	}
}
