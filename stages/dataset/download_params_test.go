package dataset

import (
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestDownloadValidateURLOnlyParams: mirrors and name describe the url
// (docs/datasets.md: "more URLs for url", "file name under files/ for
// url"). Without a url, or with a dir: url (nothing is fetched), they would
// be ignored, so they are refused at plan time, as sha256, md5 and size
// are when they cannot apply.
func TestDownloadValidateURLOnlyParams(t *testing.T) {
	t.Parallel()
	checkValidateDownload(t, []validateCase{
		{"url with mirrors and name", map[string]any{"url": "https://example.com/x.zip", "mirrors": []string{"https://m.example.com/x.zip"}, "name": "y.zip"}, nil},
		{"catalog and url with mirrors", map[string]any{"catalog": []string{"flickr8k-text"}, "url": "https://example.com/x.zip", "mirrors": []string{"https://m.example.com/x.zip"}}, nil},
		{"catalog with mirrors", map[string]any{"catalog": []string{"flickr8k-text"}, "mirrors": []string{"https://m.example.com/x.zip"}}, []string{"with.mirrors", "url"}},
		{"catalog with name", map[string]any{"catalog": []string{"flickr8k-text"}, "name": "t.zip"}, []string{"with.name", "url"}},
		{"dir: url with mirrors", map[string]any{"url": "dir:/data", "mirrors": []string{"https://m.example.com/x.zip"}}, []string{"with.mirrors", "dir:"}},
		{"dir: url with name", map[string]any{"url": "dir:/data", "name": "x"}, []string{"with.name", "dir:"}},
	})
}

// validateCase is download params and what DownloadSpec.Validate says of
// them.
type validateCase struct {
	name string
	raw  map[string]any
	want []string // substrings of the error; nil = valid
}

// checkValidateDownload runs DownloadSpec.Validate on each case.
func checkValidateDownload(t *testing.T, cases []validateCase) {
	t.Helper()
	for _, c := range cases {
		p, err := pipeline.NewParams(DownloadSpec.Params, c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = DownloadSpec.Validate(p)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.want != nil && err == nil:
			t.Errorf("%s: no error, want one with %q", c.name, c.want)
		case err != nil:
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q lacks %q", c.name, err, w)
				}
			}
		}
	}
}
