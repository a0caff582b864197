package synth

import (
	"math/rand/v2"
	"strings"
)

// Vocabulary of the caption grammar. The first word of each list is the
// common one and is picked half of the time; the others share the rest.
var (
	kindWords = [...][]string{
		Circle:   {"circle", "disk", "disc", "dot", "round shape"},
		Square:   {"square", "box", "block", "cube", "tile"},
		Triangle: {"triangle", "wedge", "pyramid"},
		Star:     {"star", "star shape", "five-pointed star"},
		Cross:    {"cross", "plus sign", "plus"},
		Ring:     {"ring", "donut", "hoop", "loop"},
		Diamond:  {"diamond", "rhombus", "lozenge"},
	}
	// hypernyms replace the shape noun now and then.
	hypernyms = []string{"shape", "object", "figure", "thing"}

	colourWords = [...][]string{
		Red:    {"red", "crimson", "scarlet"},
		Orange: {"orange", "tangerine", "amber"},
		Yellow: {"yellow", "golden", "lemon"},
		Green:  {"green", "emerald", "lime"},
		Blue:   {"blue", "azure", "cobalt"},
		Purple: {"purple", "violet", "lilac"},
		White:  {"white", "ivory", "pearly"},
		Black:  {"black", "inky", "jet-black"},
	}

	sizeWords = [...][]string{
		Small:  {"small", "little", "tiny"},
		Medium: {"medium", "medium-sized", "mid-sized"},
		Large:  {"large", "big", "huge"},
	}

	relationWords = [...][]string{
		LeftOf:  {"left of", "to the left of", "beside", "next to"},
		RightOf: {"right of", "to the right of", "beside", "next to"},
		Above:   {"above", "over", "on top of", "higher than"},
		Below:   {"below", "under", "beneath", "underneath"},
	}

	// backgroundWords are full phrases after the objects ("on grass").
	backgroundWords = [...][]string{
		Grass: {"on grass", "on a lawn", "on a grassy field", "on green grass", "on the meadow"},
		Sand:  {"on sand", "on a sandy beach", "in the desert", "on the sand"},
		Water: {"on water", "over the sea", "on a lake", "floating on water"},
		Brick: {"against a brick wall", "on bricks", "in front of a brick wall", "on a wall"},
		Snow:  {"on snow", "on a snowy field", "in the snow", "on white snow"},
		Wood:  {"on wood", "on a wooden table", "on a wooden floor", "on a plank floor"},
	}
	// backgroundNouns start captions ("a lawn with ...").
	backgroundNouns = [...][]string{
		Grass: {"grass", "a lawn", "a grassy field", "a meadow"},
		Sand:  {"sand", "a beach", "a sandy desert", "dunes"},
		Water: {"water", "the sea", "a lake", "a pond"},
		Brick: {"a brick wall", "bricks", "a red brick wall", "a wall"},
		Snow:  {"snow", "a snowy field", "a snowfield", "fresh snow"},
		Wood:  {"wood", "a wooden table", "a wooden floor", "a plank"},
	}
)

// pick returns the first word half of the time, otherwise one of the others.
func pick(rng *rand.Rand, words []string) string {
	if len(words) == 1 || rng.IntN(2) == 0 {
		return words[0]
	}
	return words[1+rng.IntN(len(words)-1)]
}

func anyOf(rng *rand.Rand, words []string) string { return words[rng.IntN(len(words))] }

// article returns "a" or "an" for the word w.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}

// nounPhrase describes o with an article: "a small crimson disk".
func nounPhrase(rng *rand.Rand, o Object) string {
	var words []string
	// Size: said for small and large objects most of the time, for medium
	// rarely.
	switch {
	case o.Size != Medium && rng.Float64() < 0.8:
		words = append(words, pick(rng, sizeWords[o.Size]))
	case o.Size == Medium && rng.Float64() < 0.12:
		words = append(words, pick(rng, sizeWords[o.Size]))
	}
	noColour := rng.Float64() < 0.06
	if !noColour {
		words = append(words, pick(rng, colourWords[o.Colour]))
	}
	if !noColour && rng.Float64() < 0.08 {
		words = append(words, anyOf(rng, hypernyms))
	} else {
		words = append(words, pick(rng, kindWords[o.Kind]))
	}
	s := strings.Join(words, " ")
	return article(s) + " " + s
}

// shortRef refers back to an object already introduced: "the disk".
func shortRef(rng *rand.Rand, o Object) string {
	if rng.IntN(3) == 0 {
		return "the " + pick(rng, colourWords[o.Colour]) + " one"
	}
	return "the " + pick(rng, kindWords[o.Kind])
}

func relPhrase(rng *rand.Rand, r Relation) string { return pick(rng, relationWords[r]) }

// caption writes one caption of scene s.
func caption(rng *rand.Rand, s Scene) string {
	bg := func() string { return pick(rng, backgroundWords[s.Background]) }
	bgNoun := func() string { return pick(rng, backgroundNouns[s.Background]) }
	obj := s.Objects
	switch len(obj) {
	case 1:
		a := nounPhrase(rng, obj[0])
		switch rng.IntN(6) {
		case 0:
			return a + " " + bg()
		case 1:
			return "a picture of " + a + " " + bg()
		case 2:
			return bgNoun() + " with " + a + " in the middle"
		case 3:
			return "there is " + a + " " + bg()
		case 4:
			return a + " in the centre of the image"
		default:
			return "a single " + strings.TrimPrefix(strings.TrimPrefix(a, "an "), "a ") + " " + bg()
		}
	case 2:
		f := s.Facts[0]
		a, b, rel := obj[f.A], obj[f.B], f.Rel
		if rng.IntN(2) == 0 { // say it the other way round
			a, b, rel = b, a, rel.inverse()
		}
		switch rng.IntN(6) {
		case 0:
			return nounPhrase(rng, a) + " " + relPhrase(rng, rel) + " " + nounPhrase(rng, b)
		case 1, 2:
			return nounPhrase(rng, a) + " " + relPhrase(rng, rel) + " " + nounPhrase(rng, b) + " " + bg()
		case 3:
			return nounPhrase(rng, a) + " and " + nounPhrase(rng, b) + " " + bg()
		case 4:
			return "two " + anyOf(rng, []string{"shapes", "objects", "things", "figures"}) + " " + bg() + ": " +
				nounPhrase(rng, a) + " and " + nounPhrase(rng, b)
		default:
			return bgNoun() + " with " + nounPhrase(rng, a) + " " + relPhrase(rng, rel) + " " + nounPhrase(rng, b)
		}
	default:
		h, v := s.Facts[0], s.Facts[1] // corner h.Rel row-mate; corner v.Rel column-mate
		c, r, m := obj[h.A], obj[h.B], obj[v.B]
		switch rng.IntN(6) {
		case 0:
			return nounPhrase(rng, c) + " " + relPhrase(rng, h.Rel) + " " + nounPhrase(rng, r) + ", and " +
				nounPhrase(rng, m) + " " + relPhrase(rng, v.Rel.inverse()) + " " + shortRef(rng, c)
		case 1:
			return nounPhrase(rng, c) + " " + relPhrase(rng, v.Rel) + " " + nounPhrase(rng, m) + " and " +
				relPhrase(rng, h.Rel) + " " + nounPhrase(rng, r) + " " + bg()
		case 2:
			o := []Object{c, r, m}
			rng.Shuffle(3, func(i, j int) { o[i], o[j] = o[j], o[i] })
			return nounPhrase(rng, o[0]) + ", " + nounPhrase(rng, o[1]) + " and " + nounPhrase(rng, o[2]) + " " + bg()
		case 3:
			return "three " + anyOf(rng, []string{"shapes", "objects", "things", "figures"}) + " " + bg() + ": " +
				nounPhrase(rng, c) + ", " + nounPhrase(rng, r) + " and " + nounPhrase(rng, m)
		case 4:
			return nounPhrase(rng, r) + " " + relPhrase(rng, h.Rel.inverse()) + " " + nounPhrase(rng, c) + " " + bg()
		default:
			return nounPhrase(rng, m) + " " + relPhrase(rng, v.Rel.inverse()) + " " + nounPhrase(rng, c) + " " + bg()
		}
	}
}

// captions writes n different captions of s (n=5 in the data set). After a
// bounded number of attempts a duplicate is accepted rather than looping.
func captions(rng *rand.Rand, s Scene, n int) []string {
	out := make([]string, 0, n)
	for tries := 0; len(out) < n; tries++ {
		c := caption(rng, s)
		dup := false
		for _, x := range out {
			dup = dup || x == c
		}
		if !dup || tries > 200 {
			out = append(out, c)
		}
	}
	return out
}
