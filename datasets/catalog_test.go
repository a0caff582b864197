package datasets

import (
	"net/url"
	"path"
	"regexp"
	"testing"
)

func TestCatalog(t *testing.T) {
	t.Parallel()
	hex := regexp.MustCompile(`^[0-9a-f]*$`)
	seen := map[string]bool{}
	for _, s := range Catalog {
		if seen[s.Name] {
			t.Errorf("duplicate %s", s.Name)
		}
		seen[s.Name] = true
		if len(s.URLs) == 0 || s.File == "" || s.Doc == "" {
			t.Errorf("%s: incomplete %+v", s.Name, s)
		}
		for _, u := range s.URLs {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
				t.Errorf("%s: bad URL %q", s.Name, u)
			}
			if path.Ext(p.Path) != path.Ext(s.File) {
				t.Errorf("%s: URL %q and file %q disagree on the extension", s.Name, u, s.File)
			}
		}
		if (s.MD5 != "" && len(s.MD5) != 32) || (s.SHA256 != "" && len(s.SHA256) != 64) || !hex.MatchString(s.MD5+s.SHA256) {
			t.Errorf("%s: malformed digest", s.Name)
		}
	}
	for _, want := range []string{"coco2014-train-images", "coco2014-val-images", "coco2014-annotations", "karpathy-splits",
		"flickr8k-images", "flickr8k-text", "scan-precomp", "conceptnet-5.7"} {
		if _, err := Lookup(want); err != nil {
			t.Error(err)
		}
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("want an error for an unknown name")
	}
}
