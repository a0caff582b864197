package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestStatusShowsResume: a stage whose earlier attempt was interrupted
// after committing shards says so in its status reason.
func TestStatusShowsResume(t *testing.T) {
	h := newHarness(t, diamond)
	states, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	st := states[0]
	if st.Status != pipeline.StatusMissing || st.Resume != 0 {
		t.Fatalf("fresh workdir: %+v", st)
	}
	done := filepath.Join(h.workdir, "tmp", st.Kind, st.Key, ".done")
	for _, shard := range []string{"part-0", "part-1"} {
		if err := os.MkdirAll(done, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(done, shard), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	states, err = h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if st := states[0]; st.Resume != 2 || !strings.Contains(st.Reason, "resumes from 2 finished shards") {
		t.Fatalf("after an interrupted attempt: resume %d, reason %q", st.Resume, st.Reason)
	}
}
