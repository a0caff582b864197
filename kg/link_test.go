package kg

import (
	"reflect"
	"strings"
	"testing"
)

func setOf(words ...string) func(string) bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return func(s string) bool { return m[s] }
}

func TestLemma(t *testing.T) {
	has := setOf("dog", "dogs", "man", "box", "glass", "glasses", "child", "run", "running", "woman", "big", "mouse", "ride", "fly", "wear")
	l := &Lemmatizer{Exc: EmbeddedExceptions(), Has: has}
	for _, c := range []struct{ in, want string }{
		{"dogs", "dog"}, {"men", "man"}, {"boxes", "box"}, {"glasses", "glass"}, {"children", "child"},
		{"women", "woman"}, {"mice", "mouse"}, {"rides", "ride"}, {"flies", "fly"}, {"running", "running"},
		{"ran", "run"}, {"bigger", "big"}, {"wore", "wear"}, {"dog", "dog"},
	} {
		if got, ok := l.Lemma(c.in); !ok || got != c.want {
			t.Errorf("Lemma(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if got, ok := l.Lemma("zebras"); ok {
		t.Errorf("Lemma(zebras) = %q, want none", got)
	}
}

// TestLemmaPOSCrossings: a noun rule's output that is a WordNet lemma of
// another part of speech only is not a noun lemma (morphy, NLTK): with
// the graph holding both forms, as ConceptNet and WordNet do, "clothes"
// stays clothes (not the verb clothe), "news" news (not the adjective
// new), "diagnoses" diagnosis (the exception base, not the verb
// diagnose); true noun plurals still lose their "s". Also through the linker,
// single words and an n-gram's last word.
func TestLemmaPOSCrossings(t *testing.T) {
	t.Parallel()
	words := []string{"clothes", "clothe", "news", "new", "goggles", "goggle", "outdoors", "outdoor", "scissors",
		"scissor", "athletics", "athletic", "glasses", "glass", "dogs", "dog", "buses", "bus", "children", "child",
		"boxes", "box", "swimming_goggles", "swimming_goggle", "diagnosis", "diagnose", "calf", "calve"}
	has := setOf(words...)
	l := &Lemmatizer{Exc: EmbeddedExceptions(), Cross: EmbeddedCrossings(), Has: has}
	cases := []struct{ in, want string }{
		{"clothes", "clothes"}, {"news", "news"}, {"goggles", "goggles"}, {"outdoors", "outdoors"},
		{"scissors", "scissors"}, {"athletics", "athletics"},
		{"glasses", "glass"}, {"dogs", "dog"}, {"buses", "bus"}, {"children", "child"}, {"boxes", "box"},
		{"clothe", "clothe"}, {"new", "new"},
		// an exception-list noun: its base, not a verb of the same rule
		{"diagnoses", "diagnosis"}, {"calves", "calf"},
	}
	for _, c := range cases {
		if got, ok := l.Lemma(c.in); !ok || got != c.want {
			t.Errorf("Lemma(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
		if got, ok := pickLemma(l.posCandidates(c.in), has); !ok || got != c.want {
			t.Errorf("pickLemma(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, starts := range []bool{false, true} {
		ln := NewLinker(has, EmbeddedExceptions())
		if starts {
			ln.SetStarts(words)
		}
		var got []string
		ln.Link(strings.Fields("children in clothes and swimming goggles read the news outdoors"), func(c string, _, _ int) { got = append(got, c) })
		if want := []string{"child", "clothes", "swimming_goggles", "news", "outdoors"}; !reflect.DeepEqual(got, want) {
			t.Errorf("starts %v: Link = %v, want %v", starts, got, want)
		}
	}
}

func TestLink(t *testing.T) {
	has := setOf("hot_dog", "dog", "hot", "fire_hydrant", "fire", "hydrant", "man", "eat", "the", "in", "red", "over", "in_front")
	l := NewLinker(has, EmbeddedExceptions())
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a man eats two hot dogs", []string{"man", "eat", "hot_dog"}},
		{"the dog by the fire hydrant", []string{"dog", "fire_hydrant"}},
		{"the dog in front of the fire", []string{"dog", "fire"}}, // "in_front" starts with a stop word
		{"a red ball over the dogs", []string{"red", "over", "dog"}},
		{"<unk> the of", nil},
	} {
		var got []string
		l.Link(strings.Fields(c.in), func(concept string, start, n int) { got = append(got, concept) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Link(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	l.SetStarts([]string{"hot_dog"}) // fire_hydrant no longer reachable as a bigram
	var got []string
	l.Link(strings.Fields("hot dogs near a fire hydrant"), func(c string, _, _ int) { got = append(got, c) })
	if want := []string{"hot_dog", "fire", "hydrant"}; !reflect.DeepEqual(got, want) {
		t.Errorf("with starts: %v, want %v", got, want)
	}
}

func TestStopWords(t *testing.T) {
	for _, w := range []string{"the", "a", "of", "<unk>", ",", "123", "'s", "", "—", "“", "…", "３", "½", "°",
		"'m", "'ll", "'ve", "'d", "ca", "wo", "sha", "gon", "na", "'t"} {
		if !IsStopWord(w) {
			t.Errorf("%q should be a stop word", w)
		}
	}
	for _, w := range []string{"dog", "over", "above", "red", "t-shirt", "2nd", "café", "naïve", "日本"} {
		if IsStopWord(w) {
			t.Errorf("%q should not be a stop word", w)
		}
	}
	// contraction pieces never link, although WordNet has ca (calcium),
	// na (sodium), ta (tantalum)
	l := NewLinker(setOf("ca", "na", "ta", "man", "—"), EmbeddedExceptions())
	var got []string
	l.Link(strings.Fields("a man ca n't go — gon na got ta go"), func(c string, _, _ int) { got = append(got, c) })
	if want := []string{"man"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Link = %v, want %v", got, want)
	}
}

func TestReadExceptionsMatchesEmbedded(t *testing.T) {
	ex, err := ReadExceptions("embedded/wordnet")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex, EmbeddedExceptions()) || len(ex['n']) < 2000 || ex['n']["mice"][0] != "mouse" {
		t.Error("exception lists read from disk differ from the embedded ones")
	}
	if _, err := ReadExceptions(t.TempDir()); err == nil {
		t.Error("a directory without exception lists must fail")
	}
}

// TestLinkMultiWordLemma: the last word of an n-gram is lemmatised against
// the multi-word concept, so "hot dogs" links to hot_dog even when dog
// alone is not a concept of the graph (docs/kg.md: "with its last word
// lemmatised").
func TestLinkMultiWordLemma(t *testing.T) {
	t.Parallel()
	has := setOf("hot_dog", "man", "eat", "wine_glass", "cup_of_tea", "bird_of_prey", "man_of_war", "of")
	l := NewLinker(has, EmbeddedExceptions())
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a man eats two hot dogs", []string{"man", "eat", "hot_dog"}},
		{"two wine glasses", []string{"wine_glass"}},
		// an inner stop word is allowed; the longest n-gram wins over its words
		{"a man holds a cup of tea", []string{"man", "cup_of_tea"}},
		{"three birds of prey", nil}, // only the last word is lemmatised
		{"a bird of prey over a man of war", []string{"bird_of_prey", "man_of_war"}},
		{"a cup of", nil}, // ends with a stop word
	} {
		var got []string
		l.Link(strings.Fields(c.in), func(concept string, start, n int) { got = append(got, concept) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Link(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestLinkPunctuation: punctuation tokens are stop words, so no n-gram
// starts or ends at one, and an n-gram never spans a comma or a sentence
// end between its words ("hot , dog" is not hot_dog).
func TestLinkPunctuation(t *testing.T) {
	t.Parallel()
	l := NewLinker(setOf("hot_dog", "hot", "dog", "hot_dog_stand", "stand"), EmbeddedExceptions())
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a hot , dog", []string{"hot", "dog"}},
		{"a hot dog .", []string{"hot_dog"}},
		{"it was hot . dog stands", []string{"hot", "dog", "stand"}},
		{"hot dog stands , hot dogs", []string{"hot_dog_stand", "hot_dog"}},
	} {
		var got []string
		l.Link(strings.Fields(c.in), func(concept string, _, _ int) { got = append(got, concept) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Link(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestLinkHyphenated: a hyphenated word links to the concept ConceptNet
// writes with an underscore ("t-shirt" -> t_shirt), plurals too, while a
// graph that keeps the hyphen (WordNet's "t-shirt") links it as written.
func TestLinkHyphenated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		has  []string
		in   string
		want []string
	}{
		{[]string{"t_shirt", "man"}, "a man in a t-shirt", []string{"man", "t_shirt"}},
		{[]string{"t_shirt", "x_ray"}, "two t-shirts and an x-ray", []string{"t_shirt", "x_ray"}},
		{[]string{"t-shirt", "t_shirt"}, "a t-shirt", []string{"t-shirt"}},
		{[]string{"shirt"}, "a t-shirt", nil},
		// inside n-grams too, the last word lemmatised or not
		{[]string{"x_ray_machine", "x_ray"}, "an x-ray machine", []string{"x_ray_machine"}},
		{[]string{"x_ray_machine", "x_ray"}, "two x-ray machines", []string{"x_ray_machine"}},
		{[]string{"man_in_t_shirt"}, "a man in t-shirt", []string{"man_in_t_shirt"}},
		{[]string{"x-ray_machine", "x_ray_machine"}, "an x-ray machine", []string{"x-ray_machine"}},
		// a hyphenated last word lemmatised: its candidate "ice_cream"
		// ends the concept with "cream"
		{[]string{"chocolate_ice_cream", "ice_cream"}, "two chocolate ice-creams", []string{"chocolate_ice_cream"}},
		{[]string{"chocolate_ice_cream_cone"}, "chocolate ice-cream cones", []string{"chocolate_ice_cream_cone"}},
	} {
		for _, starts := range []bool{false, true} {
			l := NewLinker(setOf(c.has...), EmbeddedExceptions())
			if starts { // as kg.link runs it: n-grams only from first words of concepts
				l.SetStarts(c.has)
			}
			var got []string
			l.Link(strings.Fields(c.in), func(concept string, start, n int) { got = append(got, concept) })
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("graph %v (starts %v): Link(%q) = %v, want %v", c.has, starts, c.in, got, c.want)
			}
		}
	}
}

// TestPickLemmaMatchesLemma: the grouped candidates the linker uses for an
// n-gram's last word choose as Lemma does.
func TestPickLemmaMatchesLemma(t *testing.T) {
	t.Parallel()
	has := setOf("dog", "dogs", "man", "box", "glass", "glasses", "child", "run", "running", "woman", "big", "mouse", "ride", "fly", "wear",
		"clothes", "clothe", "news", "new")
	l := &Lemmatizer{Exc: EmbeddedExceptions(), Cross: EmbeddedCrossings(), Has: has}
	for _, w := range []string{"dogs", "men", "boxes", "glasses", "children", "women", "mice", "rides", "flies",
		"running", "ran", "bigger", "wore", "dog", "zebras", "the", "clothes", "news"} {
		want, wok := l.Lemma(w)
		if got, ok := pickLemma(l.posCandidates(w), has); got != want || ok != wok {
			t.Errorf("%q: pickLemma = %q, %v; Lemma = %q, %v", w, got, ok, want, wok)
		}
	}
}

// TestLemmaExceptionWords: morphy applies no detachment rule to a word of
// a part of speech's exception list (WordNet's `wn gas -over` gives the noun
// gas only; NLTK's _morphy returns the exception bases and the word). The
// lemmatiser used to try the rules too and take the shortest known form,
// so with the graph holding the other forms (as ConceptNet does: "ga" is
// gallium, "genu" the knee) "gas" became ga, "genus" genu, "oases" oas,
// "ellipses" ellipse, "synapses" synapse.
func TestLemmaExceptionWords(t *testing.T) {
	t.Parallel()
	words := []string{"gas", "ga", "genus", "genu", "oasis", "oas", "ellipsis", "ellipse", "synapsis", "synapse",
		"station", "mouse", "dog", "tooth", "teeth"}
	has := setOf(words...)
	cases := []struct{ in, want string }{
		{"gas", "gas"}, {"genus", "genus"}, {"oases", "oasis"}, {"ellipses", "ellipsis"}, {"synapses", "synapsis"},
		// still: exception bases, and the rules for other words
		{"mice", "mouse"}, {"dogs", "dog"}, {"teeth", "tooth"},
	}
	for _, cross := range []Crossings{nil, EmbeddedCrossings()} {
		l := &Lemmatizer{Exc: EmbeddedExceptions(), Cross: cross, Has: has}
		for _, c := range cases {
			if got, ok := l.Lemma(c.in); !ok || got != c.want {
				t.Errorf("Lemma(%q) = %q, %v; want %q", c.in, got, ok, c.want)
			}
			if got, ok := pickLemma(l.posCandidates(c.in), has); !ok || got != c.want {
				t.Errorf("pickLemma(%q) = %q, %v; want %q", c.in, got, ok, c.want)
			}
		}
	}
	var got []string
	NewLinker(has, EmbeddedExceptions()).Link(strings.Fields("a gas station"), func(c string, _, _ int) { got = append(got, c) })
	if want := []string{"gas", "station"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Link = %v, want %v", got, want)
	}
}
