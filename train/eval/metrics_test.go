package eval

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMetricsFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	res, err := Evaluate(t.Context(), simInputs(caseA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &MetricsFile{Protocol: Protocol, Split: "test", Images: 2, Captions: 10, Dim: 10, Folds: 1, FoldImages: 2,
		Alpha: 0.9, Mean: res.Mean, PerFold: res.Folds}
	p := filepath.Join(dir, MetricsFileName)
	if err := WriteMetricsFile(p, f); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, dir} {
		g, err := ReadMetricsFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f, g) {
			t.Errorf("read %+v, wrote %+v", g, f)
		}
	}
	rows := f.Rows()
	if len(rows) != 22 || rows[0] != (MetricsRow{"mean", "i2t_r1", 50}) || rows[21] != (MetricsRow{"0", "rsum", 500}) {
		t.Errorf("rows %v", rows)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMetricsFile(bad); err == nil {
		t.Error("wrong format: want an error")
	}
}
