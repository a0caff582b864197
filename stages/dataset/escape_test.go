package dataset

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/pipeline/pipelinetest"
)

// TestImageNamesStayInside: a split list or a Karpathy JSON whose image
// names leave the image directory ("../x.jpg", an absolute path) is an
// error naming the file and the name; nothing outside is read.
func TestImageNamesStayInside(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../outside.jpg", "/etc/outside.jpg"} {
		t.Run("flickr8k "+name, func(t *testing.T) {
			t.Parallel()
			root := fakeFlickr8k(t, "")
			writeJPEG(t, filepath.Join(filepath.Dir(root), "outside.jpg"), 8, 8)
			list := filepath.Join(root, "Flickr8k_text", datasets.Flickr8kDevList)
			b, _ := os.ReadFile(list)
			os.WriteFile(list, append(b, []byte(name+"\n")...), 0o644)
			_, err := pipelinetest.RunStageErr(t, &Flickr8kSpec, map[string]any{"source": root})
			if err == nil || !strings.Contains(err.Error(), datasets.Flickr8kDevList) || !strings.Contains(err.Error(), name) ||
				!strings.Contains(err.Error(), "not a file name inside the image directory") {
				t.Fatalf("err = %v, want it to name %s and %q", err, datasets.Flickr8kDevList, name)
			}
		})
		t.Run("karpathy "+name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "val2014"), 0o755)
			im := kImage{Filepath: "val2014", Filename: name, Split: "val", Sentences: sentences("x", 5)}
			b, _ := json.Marshal(map[string]any{"images": []kImage{im}})
			os.WriteFile(filepath.Join(root, "dataset_coco.json"), b, 0o644)
			_, err := pipelinetest.RunStageErr(t, &COCOSpec, map[string]any{"source": root})
			if err == nil || !strings.Contains(err.Error(), "dataset_coco.json: image \""+name+"\"") ||
				!strings.Contains(err.Error(), "not a file name inside the image directory") {
				t.Fatalf("err = %v, want it to name dataset_coco.json and %q", err, name)
			}
		})
	}
	t.Run("karpathy filepath", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "data", "val2014"), 0o755)
		im := kImage{Filepath: "../val2014", Filename: "x.jpg", Split: "val", Sentences: sentences("x", 5)}
		b, _ := json.Marshal(map[string]any{"images": []kImage{im}})
		os.WriteFile(filepath.Join(root, "data", "dataset_coco.json"), b, 0o644)
		_, err := pipelinetest.RunStageErr(t, &COCOSpec, map[string]any{"source": filepath.Join(root, "data")})
		if err == nil || !strings.Contains(err.Error(), `filepath "../val2014": not a directory name inside the data set`) {
			t.Fatalf("err = %v, want the filepath refused", err)
		}
	})
}
