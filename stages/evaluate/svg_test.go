package evaluate

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"
)

func TestLineChart(t *testing.T) {
	for _, tc := range []struct {
		name string
		ss   []series
	}{
		{"two series", []series{{"a", []float64{1, 2, 3}, []float64{5, 4, 3}}, {"b <&>", []float64{1, 2, 3}, []float64{1, 1, 2}}}},
		{"constant", []series{{"lr", []float64{100, 200}, []float64{2e-4, 2e-4}}}},
		{"one point", []series{{"x", []float64{0}, []float64{0}}}},
	} {
		svg := lineChart("title", "x", "y", tc.ss)
		if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
			t.Errorf("%s: non-finite coordinates", tc.name)
		}
		// well-formed XML (names are escaped)
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: %v", tc.name, err)
				}
				break
			}
		}
	}
	if lineChart("t", "x", "y", nil) != "" {
		t.Error("no data: want no chart")
	}
}

func TestTicks(t *testing.T) {
	got := ticks(0, 10, 5)
	if len(got) < 3 || got[0] != 0 || got[len(got)-1] != 10 {
		t.Errorf("ticks(0, 10) = %v", got)
	}
	for v, want := range map[float64]string{2: "2", 0.25: "0.25", 2e-4: "0.0002", 1e10: "1e+10"} {
		if s := fmtTick(v); s != want {
			t.Errorf("fmtTick(%v) = %q, want %q", v, s, want)
		}
	}
}

// TestChartNearlyConstant: series whose values differ only in the last bits
// (dev rSums that are float sums of equal hit counts) and tiny or degenerate
// ranges give a finished chart; before, the tick loop never ended.
func TestChartNearlyConstant(t *testing.T) {
	for _, ys := range [][]float64{
		{41.86000000000001, 41.86}, {31.200000000000003, 31.2}, {38.76, 38.760000000000005}, {30, math.Nextafter(30, 31)},
		{0, 5e-324}, {1e300, math.Nextafter(1e300, 2e300)},
	} {
		done := make(chan string, 1)
		go func() {
			done <- lineChart("Dev rSum", "epoch", "rSum", []series{{Name: "dev", X: []float64{1, 2}, Y: ys}})
		}()
		select {
		case svg := <-done:
			if !strings.HasPrefix(svg, "<svg") {
				t.Errorf("%v: no chart", ys)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: lineChart did not return", ys)
		}
	}
	for _, c := range [][2]float64{{30, math.Nextafter(30, 31)}, {1, 1}, {2, 1}, {0, math.Inf(1)}} {
		if got := ticks(c[0], c[1], 5); len(got) > 2 {
			t.Errorf("ticks(%v, %v) = %v", c[0], c[1], got)
		}
	}
}
