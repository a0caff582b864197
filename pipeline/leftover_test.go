package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestKilledWriteLeftoversAreNotSealed simulates a process killed in the
// middle of an atomic write (its temporary file stays in the work
// directory): the resumed run must not carry that partial file into the
// cached artifact, where nothing would ever delete it.
func TestKilledWriteLeftoversAreNotSealed(t *testing.T) {
	h := newHarness(t, `
name: leftovers
stages:
  s:
    uses: toy.shards
    with: {shards: 3}
`)
	states, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(h.workdir, "tmp", "toy.shards", states[0].Key)
	if err := os.MkdirAll(filepath.Join(wd, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".part-001.txt.tmp-123456", "sub/.x.parquet.tmp-42"} {
		if err := os.WriteFile(filepath.Join(wd, filepath.FromSlash(p)), []byte("half a shard"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := h.run(pipeline.RunOptions{})
	err = filepath.WalkDir(res.Artifacts["s"].Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("the artifact keeps a partial file of a killed write: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
