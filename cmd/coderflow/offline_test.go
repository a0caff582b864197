package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDownloadFailureSaysHowToRunOffline: a run whose download stages fail
// (no network) ends by naming the --set values that read a local copy
// instead, checked to leave the downloads out, and the catalog's notes on
// what the download held.
func TestDownloadFailureSaysHowToRunOffline(t *testing.T) {
	dir := t.TempDir()
	const refused = "http://127.0.0.1:1/" // nothing listens on port 1: refused at once
	cases := []struct {
		name, wf string
		want     []string
		notWant  []string
	}{
		{"readers with source and upstream", `name: dl
stages:
  fetch:
    uses: download
    with: {url: "` + refused + `Flickr8k_text.zip", retries: 1, backoff: 0}
  fetch_kg:
    uses: download
    with: {url: "` + refused + `conceptnet.csv.gz", retries: 1, backoff: 0}
  data:
    uses: dataset.flickr8k
    needs: [fetch]
  kg:
    uses: kg.conceptnet
    needs: [fetch_kg]
    with: {upstream: true}
`, []string{
			`connection refused`,
			"to run from a local copy instead (no network, a dead link), give it to the stages that read fetch, fetch_kg;",
			"--set data.source=dir:PATH",
			"for data (dataset.flickr8k)",
			"--set kg.upstream=false --set kg.source=PATH",
			"for kg (kg.conceptnet)",
		}, nil},
		{"catalog notes", `name: cat
stages:
  fetch:
    uses: download
    with: {catalog: [flickr8k-text], url: "` + refused + `x.zip", retries: 1, backoff: 0}
  data:
    uses: dataset.flickr8k
    needs: [fetch]
`, []string{"--set data.source=dir:PATH", "fetch: catalog entry flickr8k-text: Flickr8k captions"}, nil},
		{"no reader with a source", `name: plain
stages:
  fetch:
    uses: download
    with: {url: "` + refused + `x.zip", retries: 1, backoff: 0}
`, []string{"fetch the files of fetch by hand"}, []string{"--set"}},
		{"no download failed", `name: nodl
stages:
  data:
    uses: dataset.flickr8k
    with: {source: "dir:` + dir + `"}
`, []string{`stage "data"`}, []string{"local copy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wf := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(wf, []byte(tc.wf), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := cli(t, "run", wf, "--workdir="+filepath.Join(dir, "wd"), "--no-progress", "-q")
			if code == 0 {
				t.Fatalf("exit 0, want a failure:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}
