package synth

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// mentioned is what a caption says, read back with the grammar's own
// vocabulary (a perfect "reader" of the words, ignoring relations).
type mentioned struct {
	bg                    int
	colours, kinds, sizes map[int]bool
}

func readBack(c string) mentioned {
	m := mentioned{bg: -1, colours: map[int]bool{}, kinds: map[int]bool{}, sizes: map[int]bool{}}
	s := " " + strings.NewReplacer(",", " ", ":", " ").Replace(c) + " "
	has := func(w string) bool { return strings.Contains(s, " "+w+" ") }
	for b := range backgroundWords {
		for _, w := range append(append([]string{}, backgroundWords[b]...), backgroundNouns[b]...) {
			if has(w) {
				m.bg = b
			}
		}
	}
	for k, ws := range kindWords {
		for _, w := range ws {
			if has(w) {
				m.kinds[k] = true
			}
		}
	}
	for k, ws := range colourWords {
		for _, w := range ws {
			if has(w) {
				m.colours[k] = true
			}
		}
	}
	for k, ws := range sizeWords {
		for _, w := range ws {
			if has(w) {
				m.sizes[k] = true
			}
		}
	}
	return m
}

// match scores a scene against what a caption mentions: +1 per attribute
// present, -3 per attribute absent.
func match(m mentioned, sc Scene) float64 {
	any := func(f func(o Object) bool) bool {
		for _, o := range sc.Objects {
			if f(o) {
				return true
			}
		}
		return false
	}
	v := 0.0
	add := func(ok bool) {
		if ok {
			v++
		} else {
			v -= 3
		}
	}
	if m.bg >= 0 {
		add(int(sc.Background) == m.bg)
	}
	for c := range m.colours {
		add(any(func(o Object) bool { return int(o.Colour) == c }))
	}
	for k := range m.kinds {
		add(any(func(o Object) bool { return int(o.Kind) == k }))
	}
	for z := range m.sizes {
		add(any(func(o Object) bool { return int(o.Size) == z }))
	}
	return v
}

// TestAttributeOracle checks that the captions of the default test split
// identify their images when the attributes are perfectly recognised: a
// retrieval "oracle" that matches the attributes a caption mentions against
// each scene's true attributes (ignoring spatial relations) must reach a
// high rSum. This is the data-side ceiling a model with good region
// descriptors approaches; chance rSum on 200 images is about 2 x (0.5+2.5+5).
func TestAttributeOracle(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	tr, dv, _ := c.SplitCounts()
	var scenes []Scene
	var caps []string
	for i := tr + dv; i < c.Images; i++ {
		it, err := Generate(c, i)
		if err != nil {
			t.Fatal(err)
		}
		scenes = append(scenes, it.Scene)
		caps = append(caps, it.Captions...)
	}
	n := len(scenes)
	rng := rand.New(rand.NewPCG(1, 1)) // random tie-breaking
	sim := make([][]float64, len(caps))
	for ci, cp := range caps {
		m := readBack(cp)
		sim[ci] = make([]float64, n)
		for j := range scenes {
			sim[ci][j] = match(m, scenes[j]) + rng.Float64()*1e-3
		}
	}
	recall := func(ranks []int) [3]float64 {
		var r [3]float64
		for _, rk := range ranks {
			for k, K := range []int{1, 5, 10} {
				if rk < K {
					r[k] += 100 / float64(len(ranks))
				}
			}
		}
		return r
	}
	var t2iRanks []int
	for ci := range sim {
		rank := 0
		for j := range scenes {
			if sim[ci][j] > sim[ci][ci/5] {
				rank++
			}
		}
		t2iRanks = append(t2iRanks, rank)
	}
	var i2tRanks []int
	for j := range scenes {
		order := make([]int, len(caps))
		for ci := range order {
			order[ci] = ci
		}
		sort.Slice(order, func(a, b int) bool { return sim[order[a]][j] > sim[order[b]][j] })
		for r, ci := range order {
			if ci/5 == j {
				i2tRanks = append(i2tRanks, r)
				break
			}
		}
	}
	i2t, t2i := recall(i2tRanks), recall(t2iRanks)
	rsum := i2t[0] + i2t[1] + i2t[2] + t2i[0] + t2i[1] + t2i[2]
	t.Logf("attribute oracle on %d test images: i2t R@1/5/10 %.1f/%.1f/%.1f, t2i %.1f/%.1f/%.1f, rSum %.1f",
		n, i2t[0], i2t[1], i2t[2], t2i[0], t2i[1], t2i[2], rsum)
	if rsum < 500 {
		t.Errorf("attribute oracle rSum %.1f < 500: captions no longer identify their images well", rsum)
	}
	if t2i[0] > 99 {
		t.Errorf("attribute oracle t2i R@1 %.1f: captions are too easy (every caption unique)", t2i[0])
	}
}
