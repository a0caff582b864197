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
	for _, w := range []string{"the", "a", "of", "<unk>", ",", "123", "'s", ""} {
		if !IsStopWord(w) {
			t.Errorf("%q should be a stop word", w)
		}
	}
	for _, w := range []string{"dog", "over", "above", "red", "t-shirt", "2nd"} {
		if IsStopWord(w) {
			t.Errorf("%q should not be a stop word", w)
		}
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
