package evaluate

import (
	"encoding/xml"
	"strings"
	"testing"
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
