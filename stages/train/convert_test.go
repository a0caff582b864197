package train

import (
	"slices"
	"testing"
)

// TestConvertPadsWithCount pins featShape.convert: with Regions > 1 an
// image's first Regions regions, zero padding after an image's last region
// when it has fewer (not its regions repeated: the model leaves the padding
// out by the returned count), the count of real regions, and the padded or
// truncated image counted; with Mean the mean of all regions and
// count 1.
func TestConvertPadsWithCount(t *testing.T) {
	row := func(n int) featRow {
		r := featRow{id: 7, n: n, dim: 2}
		for k := range 2 * n {
			r.feats = append(r.feats, float32(k+1))
		}
		return r
	}
	for _, c := range []struct {
		name      string
		shape     featShape
		row       featRow
		want      []float32
		n         int32
		pad, trun int64
	}{
		{"fewer", featShape{Regions: 4, Dim: 2}, row(2), []float32{1, 2, 3, 4, 0, 0, 0, 0}, 2, 1, 0},
		{"exact", featShape{Regions: 2, Dim: 2}, row(2), []float32{1, 2, 3, 4}, 2, 0, 0},
		{"more", featShape{Regions: 2, Dim: 2}, row(3), []float32{1, 2, 3, 4}, 2, 0, 1},
		{"mean", featShape{Regions: 1, Dim: 2, Mean: true}, row(3), []float32{3, 4}, 1, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cnt featCounts
			dst := make([]float32, c.shape.floats())
			for i := range dst {
				dst[i] = -1 // stale values of a reused buffer
			}
			f, err := c.shape.convert(c.row, dst, &cnt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.x, c.want) || f.n != c.n {
				t.Errorf("convert = %v with %d real regions, want %v with %d", f.x, f.n, c.want, c.n)
			}
			if cnt.RegionsPadded != c.pad || cnt.RegionsTruncated != c.trun {
				t.Errorf("counts %+v, want %d padded, %d truncated", cnt, c.pad, c.trun)
			}
		})
	}
}
