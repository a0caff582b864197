package evaluate

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
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

// TestChartNonFinite: a diverged loss (NaN, ±Inf) or values whose span
// overflows float64 gave NaN coordinates (every point of the chart, since
// the axis range became NaN). Non-finite points are now left out, with a
// note, and every coordinate is a finite number.
func TestChartNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name    string
		ys      []float64
		skipped string
		xs      []float64
	}{
		{"NaN inside", []float64{1, nan, 2, 3}, "1 non-finite value not drawn", nil},
		{"+Inf", []float64{1, 2, inf, 3}, "1 non-finite value not drawn", nil},
		{"-Inf first", []float64{-inf, 2, 2.5, 3}, "1 non-finite value not drawn", nil},
		{"all NaN", []float64{nan, nan, nan, nan}, "4 non-finite values not drawn", nil},
		{"overflowing span", []float64{-1e308, 1e308, -math.MaxFloat64, math.MaxFloat64}, "", nil},
		{"single finite", []float64{nan, 5, nan, nan}, "3 non-finite values not drawn", nil},
		{"one huge x", []float64{1, 1, 1, 1}, "", []float64{1e300, 1e300, 1e300, 1e300}},
	} {
		xs := []float64{1, 2, 3, 4}
		if tc.xs != nil {
			xs = tc.xs
		}
		svg := lineChart("Training loss", "epoch", "loss", []series{{"total", xs, tc.ys}})
		if !strings.HasPrefix(svg, "<svg") {
			t.Errorf("%s: no chart", tc.name)
			continue
		}
		checkFiniteSVG(t, tc.name, svg)
		if tc.skipped != "" && !strings.Contains(svg, tc.skipped) {
			t.Errorf("%s: chart lacks the note %q", tc.name, tc.skipped)
		}
	}
}

// checkFiniteSVG fails unless svg is well-formed XML whose numeric
// attributes (coordinates, sizes, points) are all finite numbers.
func checkFiniteSVG(t *testing.T, name, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "points":
				for _, f := range strings.FieldsFunc(a.Value, func(r rune) bool { return r == ',' || r == ' ' }) {
					v, err := strconv.ParseFloat(f, 64)
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						t.Errorf("%s: <%s %s=%q>: not a finite number", name, se.Name.Local, a.Name.Local, a.Value)
					}
				}
			}
		}
	}
}
