package pipeline_test

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"coderflow/pipeline"
)

func TestSchedulerRecordOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: s\nstages:\n  bad:\n    uses: toy.sleep\n    with: {ms: 30, fail: true}\n  after_bad:\n    uses: toy.sleep\n    needs: [bad]\n")
	for i := range 3 {
		fmt.Fprintf(&b, "  s%02d:\n    uses: toy.sleep\n    with: {ms: 20, id: s%02d}\n", i, i)
		if i > 0 {
			fmt.Fprintf(&b, "    needs: [s%02d]\n", i-1)
		}
		fmt.Fprintf(&b, "  p%02d:\n    uses: toy.sleep\n    with: {ms: 200, id: p%02d}\n", i, i)
	}
	h := newHarness(t, b.String())
	h.reg = schedRegistry()
	w := h.load()
	t.Log(w.StageIDs())
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	res, err := pipeline.Run(t.Context(), w, pipeline.RunOptions{Jobs: 2, Log: log})
	t.Log(err, statuses(res))
}
