package dataset

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline/pipelinetest"
)

// TestCOCOCaptionsJSONBadSplit: a captions_json split that is not train,
// val, test or restval is refused, naming the param, instead of every
// image of that file being skipped as unknown_split_skipped (a typo
// dropped a whole split while the run succeeded with the others).
func TestCOCOCaptionsJSONBadSplit(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "val2014"), 0o755)
	name := "COCO_val2014_000000000042.jpg"
	writeJPEG(t, filepath.Join(root, "val2014", name), 5, 6)
	var anns []map[string]any
	for k := 0; k < 5; k++ {
		anns = append(anns, map[string]any{"id": k, "image_id": 42, "caption": "a cat"})
	}
	b, _ := json.Marshal(map[string]any{"images": []map[string]any{{"id": 42, "file_name": name}}, "annotations": anns})
	os.WriteFile(filepath.Join(root, "captions_val2014.json"), b, 0o644)
	os.WriteFile(filepath.Join(root, "captions_test2014.json"), b, 0o644)
	for _, tc := range []struct {
		caps []string
		ok   bool
	}{
		{[]string{"captions_val2014.json=test"}, true},
		{[]string{"captions_val2014.json= val "}, true},
		{[]string{"captions_val2014.json"}, true},
		{[]string{"captions_val2014.json=test", "captions_test2014.json=tset"}, false},
		{[]string{"captions_val2014.json=Test"}, false},
		{[]string{"=val"}, false},
	} {
		t.Run(strings.Join(tc.caps, ","), func(t *testing.T) {
			t.Parallel()
			_, err := pipelinetest.RunStageErr(t, &COCOSpec, map[string]any{"source": root, "captions_json": tc.caps})
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "captions_json") {
				t.Fatalf("error %q does not name captions_json", err)
			}
		})
	}
}
