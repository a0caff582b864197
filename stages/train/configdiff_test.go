package train

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"coderflow/datasets/table"
	coder "coderflow/train"
)

// TestConfigDiff pins the message with which a checkpoint of another model
// config is refused: it names every differing field with both values (the
// checkpoint's and this run's), so that a user sees what changed (dim,
// queue, a switch), not only that something did.
func TestConfigDiff(t *testing.T) {
	run := coder.DefaultConfig()
	run.ImageDim, run.Regions, run.VocabSize, run.MaxLen = 16, 1, 50, 8
	other := map[string]string{"bigru": "mean", "mean": "bigru"}[run.TextEncoder]
	for _, tc := range []struct {
		name string
		edit func(c *coder.Config)
		want string
	}{
		{"same", func(c *coder.Config) {}, ""},
		{"dim", func(c *coder.Config) { c.Dim = run.Dim / 2 }, fmt.Sprintf("Dim %d (this run %d)", run.Dim/2, run.Dim)},
		{"queue and switch", func(c *coder.Config) { c.Queue = run.Queue + 1; c.Clustering = !run.Clustering },
			fmt.Sprintf("Queue %d (this run %d), Clustering %v (this run %v)", run.Queue+1, run.Queue, !run.Clustering, run.Clustering)},
		{"encoder", func(c *coder.Config) { c.TextEncoder = other }, fmt.Sprintf("TextEncoder %q (this run %q)", other, run.TextEncoder)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := run
			tc.edit(&ck)
			if got := configDiff(ck, run); got != tc.want {
				t.Errorf("configDiff = %q, want %q", got, tc.want)
			}
		})
	}
	// the refusal names the file and the fields
	ck := run
	ck.Dim++
	if err := configMismatch("ckpt/epoch-0002.bin", ck, run); err == nil ||
		!strings.Contains(err.Error(), "ckpt/epoch-0002.bin: its model config differs from this run's: Dim") {
		t.Errorf("configMismatch = %v", err)
	}
	if err := configMismatch("x", run, run); err != nil {
		t.Errorf("configMismatch of equal configs = %v", err)
	}
}

// TestBestEpochNaNAndUnevaluated pins model selection around epochs that
// cannot be compared: a NaN dev rSum never becomes (nor displaces) the
// best, an epoch without a dev evaluation is never chosen over an
// evaluated one, ties go to the earlier epoch, and without any usable
// evaluation the last epoch is chosen with rSum 0.
func TestBestEpochNaNAndUnevaluated(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		rsums     []float64
		evaluated []bool
		want      int
		wantRSum  float64
	}{
		{[]float64{nan, 300}, []bool{true, true}, 2, 300},
		{[]float64{300, nan}, []bool{true, true}, 1, 300},
		{[]float64{300, nan, 300.5}, []bool{true, true, true}, 3, 300.5},
		{[]float64{nan, nan}, []bool{true, true}, 2, 0},
		{[]float64{0, 250, 0}, []bool{false, true, false}, 2, 250},
		{[]float64{500, 250}, []bool{false, true}, 2, 250},
		{[]float64{250, 250, 250}, []bool{true, true, true}, 1, 250},
		{[]float64{0, 0}, []bool{false, false}, 2, 0},
	} {
		var states []epochState
		for i, r := range tc.rsums {
			states = append(states, epochState{Row: table.CurveRow{Epoch: int32(i + 1), DevRSum: r}, Evaluated: tc.evaluated[i]})
		}
		best, rsum := bestEpoch(states)
		if best != tc.want || rsum != tc.wantRSum {
			t.Errorf("rSums %v evaluated %v: best epoch %d (rSum %v), want %d (%v)", tc.rsums, tc.evaluated, best, rsum, tc.want, tc.wantRSum)
		}
	}
}
