package synth

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	for _, i := range []int{0, 1, 17, 1999} {
		a, err := Generate(c, i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Generate(c, i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.PNG, b.PNG) || strings.Join(a.Captions, "|") != strings.Join(b.Captions, "|") {
			t.Fatalf("image %d differs between two generations", i)
		}
	}
	c2 := c
	c2.Seed++
	a, _ := Generate(c, 3)
	b, _ := Generate(c2, 3)
	if bytes.Equal(a.PNG, b.PNG) {
		t.Fatal("different seeds gave the same image")
	}
}

func TestSceneInvariants(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	kinds := map[Kind]int{}
	colours := map[Colour]int{}
	nobj := map[int]int{}
	for i := 0; i < 400; i++ {
		it, err := Generate(c, i)
		if err != nil {
			t.Fatal(err)
		}
		s := it.Scene
		if s.Width < c.MinSize || s.Width > c.MaxSize || s.Height < c.MinSize || s.Height > c.MaxSize {
			t.Fatalf("image %d: size %dx%d outside [%d,%d]", i, s.Width, s.Height, c.MinSize, c.MaxSize)
		}
		img, err := png.Decode(bytes.NewReader(it.PNG))
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != s.Width || b.Dy() != s.Height {
			t.Fatalf("image %d: decoded %v, scene %dx%d", i, b, s.Width, s.Height)
		}
		nobj[len(s.Objects)]++
		for j, o := range s.Objects {
			kinds[o.Kind]++
			colours[o.Colour]++
			if clash(s.Background, o.Colour) {
				t.Errorf("image %d: %v object on %v", i, o.Colour, s.Background)
			}
			if o.X-o.R < 0 || o.Y-o.R < 0 || o.X+o.R > float64(s.Width) || o.Y+o.R > float64(s.Height) {
				t.Errorf("image %d: object %d %+v leaves the %dx%d image", i, j, o, s.Width, s.Height)
			}
			for k := j + 1; k < len(s.Objects); k++ {
				p := s.Objects[k]
				if math.Hypot(o.X-p.X, o.Y-p.Y) < o.R+p.R {
					t.Errorf("image %d: objects %d and %d overlap", i, j, k)
				}
				if o.Kind == p.Kind && o.Colour == p.Colour {
					t.Errorf("image %d: two %v %v objects", i, o.Colour, o.Kind)
				}
			}
		}
		for _, f := range s.Facts {
			a, b := s.Objects[f.A], s.Objects[f.B]
			ok := map[Relation]bool{LeftOf: a.X < b.X, RightOf: a.X > b.X, Above: a.Y < b.Y, Below: a.Y > b.Y}[f.Rel]
			if !ok {
				t.Errorf("image %d: fact %v does not hold for %+v, %+v", i, f, a, b)
			}
		}
		if len(it.Captions) != CaptionsPerImage {
			t.Fatalf("image %d: %d captions", i, len(it.Captions))
		}
		seen := map[string]bool{}
		for _, cp := range it.Captions {
			if seen[cp] {
				t.Errorf("image %d: duplicate caption %q", i, cp)
			}
			seen[cp] = true
			if strings.Contains(cp, "  ") || strings.TrimSpace(cp) != cp || cp == "" {
				t.Errorf("image %d: badly formed caption %q", i, cp)
			}
		}
	}
	if len(kinds) != int(numKinds) || len(colours) != int(numColours) {
		t.Errorf("not every kind/colour drawn: %v %v", kinds, colours)
	}
	for n := 1; n <= 3; n++ {
		if nobj[n] < 60 {
			t.Errorf("only %d images with %d objects", nobj[n], n)
		}
	}
}

func TestSplitCounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		images        int
		dev, test     float64
		wantTr, wantD int
		wantTe        int
	}{
		{2000, 0.1, 0.1, 1600, 200, 200},
		{10, 0.2, 0.1, 7, 2, 1},
		{5, 0, 0, 5, 0, 0},
	} {
		c := DefaultConfig()
		c.Images, c.DevFraction, c.TestFraction = tc.images, tc.dev, tc.test
		tr, d, te := c.SplitCounts()
		if tr != tc.wantTr || d != tc.wantD || te != tc.wantTe {
			t.Errorf("%+v: got %d/%d/%d", tc, tr, d, te)
		}
		got := map[string]int{}
		for i := 0; i < tc.images; i++ {
			got[c.Split(i)]++
		}
		if got["train"] != tr || got["dev"] != d || got["test"] != te {
			t.Errorf("%+v: Split gives %v", tc, got)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{Images: 0, MinSize: 128, MaxSize: 192},
		{Images: 10, MinSize: 200, MaxSize: 192},
		{Images: 10, MinSize: 128, MaxSize: 192, DevFraction: 0.6, TestFraction: 0.5},
		// NaN fails every comparison: it passed, and SplitCounts made
		// int(NaN) image counts of it.
		{Images: 10, MinSize: 128, MaxSize: 192, DevFraction: math.NaN(), TestFraction: 0.1},
		{Images: 10, MinSize: 128, MaxSize: 192, DevFraction: 0.1, TestFraction: math.NaN()},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func TestArticle(t *testing.T) {
	t.Parallel()
	for w, want := range map[string]string{"orange box": "an", "red box": "a", "ivory dot": "an", "big ring": "a"} {
		if got := article(w); got != want {
			t.Errorf("article(%q) = %q, want %q", w, got, want)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	c := DefaultConfig()
	for i := 0; b.Loop(); i++ {
		if _, err := Generate(c, i%c.Images); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunDefault generates the default 2,000-image data set (render,
// captions, PNG encoding; no disk writes) with GOMAXPROCS workers.
func BenchmarkRunDefault(b *testing.B) {
	c := DefaultConfig()
	var bytes int
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		bytes = 0
		if err := Run(b.Context(), c, func(it Item) error { bytes += len(it.PNG); return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.Images)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(bytes)/float64(c.Images), "png_bytes/image")
	// CPU seconds per data set: wall time on an idle machine is about this
	// divided by the number of cores.
	b.ReportMetric(cpu.Seconds(), "cpu_s/dataset")
}
