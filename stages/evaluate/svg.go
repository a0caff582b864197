package evaluate

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a chart.
type series struct {
	Name string
	X, Y []float64
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// lineChart renders series as a self-contained SVG line chart (no fonts or
// scripts beyond the page's CSS font stack).
func lineChart(title, xLabel, yLabel string, ss []series) string {
	const w, h = 520.0, 270.0
	const left, right, top, bottom = 62.0, 16.0, 30.0, 44.0
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	points, skipped := 0, 0
	for _, s := range ss {
		for i := range s.X {
			points++
			if !finite(s.X[i], s.Y[i]) {
				skipped++ // a diverged loss (NaN, ±Inf) is left out, not drawn at NaN
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	if points == 0 {
		return ""
	}
	if skipped == points {
		xmin, xmax, ymin, ymax = 0, 1, 0, 1 // an empty frame with the note below
	}
	// a span within rounding of zero (two epochs whose rSum differ in the
	// last bits) is a constant series: no ticks can be placed inside it
	if nearlyEqual(xmin, xmax) {
		d := 1.0
		if xmin-d == xmin || xmax+d == xmax {
			d = math.Abs(xmin) * 0.5 // ±1 does not move a value this large
		}
		xmin, xmax = xmin-d, xmax+d
	}
	if nearlyEqual(ymin, ymax) {
		d := math.Abs(ymin) * 0.5
		if d == 0 {
			d = 1
		}
		ymin, ymax = ymin-d, ymax+d
	}
	// halves: a span of finite values may itself overflow (-1e308..1e308)
	pad := (ymax/2 - ymin/2) * 0.1
	ymin, ymax = math.Max(ymin-pad, -math.MaxFloat64), math.Min(ymax+pad, math.MaxFloat64)
	px := func(x float64) float64 { return left + (x/2-xmin/2)/(xmax/2-xmin/2)*(w-left-right) }
	py := func(y float64) float64 { return h - bottom - (y/2-ymin/2)/(ymax/2-ymin/2)*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s">`,
		w, h, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%g" height="%g" fill="#fff"/>`, w, h)
	fmt.Fprintf(&b, `<text x="%g" y="18" text-anchor="middle" font-size="14" font-weight="600">%s</text>`, w/2, html.EscapeString(title))
	for _, t := range ticks(ymin, ymax, 5) {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e5e5e5"/>`, left, y, w-right, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" font-size="11" fill="#555">%s</text>`, left-6, y+4, fmtTick(t))
	}
	for _, t := range ticks(xmin, xmax, 6) {
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#999"/>`, x, h-bottom, x, h-bottom+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle" font-size="11" fill="#555">%s</text>`, x, h-bottom+16, fmtTick(t))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, left, top, w-left-right, h-top-bottom)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" font-size="12">%s</text>`, (left+w-right)/2, h-8, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%g" text-anchor="middle" font-size="12" transform="rotate(-90 14 %g)">%s</text>`,
		(top+h-bottom)/2, (top+h-bottom)/2, html.EscapeString(yLabel))
	for k, s := range ss {
		col := palette[k%len(palette)]
		// runs of consecutive finite points: a polyline each, a dot for a
		// lone point
		var pts []string
		flush := func() {
			switch len(pts) {
			case 0:
			case 1:
				xy := strings.SplitN(pts[0], ",", 2)
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], col)
			default:
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, col, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i := range s.X {
			if !finite(s.X[i], s.Y[i]) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[i]), py(s.Y[i])))
		}
		flush()
		// legend, top right inside the plot
		ly := top + 14 + float64(k)*15
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="3"/>`, w-right-130, ly-4, w-right-112, ly-4, col)
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="11">%s</text>`, w-right-106, ly, html.EscapeString(s.Name))
	}
	if skipped > 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="11" fill="#b00020">%d non-finite %s not drawn</text>`,
			left+6, top+14, skipped, plural(skipped, "value", "values"))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// finite reports whether every v is a finite number.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// nearlyEqual reports whether a and b are equal up to a relative 1e-9.
func nearlyEqual(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// ticks returns about n round values in [lo, hi] (at most 4n+1, and none
// when the span is too small for a step that moves a float64).
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !(span > 0) || math.IsInf(span, 0) || n < 1 {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	// the k-th tick is (k0+k)*step, not a sum of steps (which drifted: 0
	// came out as 2.8e-17); lo/step within rounding of an integer is that
	// integer (Ceil(-0.3/0.1) is -2), and zero is +0 (Ceil(-0.5) is -0,
	// labelled "-0")
	k0 := math.Ceil(lo/step - 1e-9)
	var out []float64
	for k := 0.0; len(out) <= 4*n; k++ {
		t := (k0 + k) * step
		if t > hi+step*1e-9 {
			break
		}
		if t == 0 {
			t = 0 // not -0
		}
		if len(out) > 0 && t == out[len(out)-1] {
			break // the step is below the values' precision
		}
		out = append(out, t)
	}
	return out
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e7 {
		return fmt.Sprintf("%.0f", v)
	}
	s := fmt.Sprintf("%.4g", v)
	if strings.Contains(s, ".") && !strings.Contains(s, "e") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
