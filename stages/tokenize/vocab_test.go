package tokenize

import (
	"slices"
	"testing"

	"coderflow/datasets/table"
)

func TestCounterVocab(t *testing.T) {
	t.Parallel()
	var c Counter
	for _, tok := range []string{"b", "a", "c", "a", "b", "d", "a", "b", "c", "e"} {
		c.Add(tok)
	}
	c.AddBytes([]byte("e"))
	v := c.Vocab(2)
	got := v.Decode([]int32{0, 1, 2, 3, 4, 5, 6, 7})
	// a=3 b=3 c=2 e=2; d=1 dropped; ties by token
	want := []string{Pad, Start, End, Unk, "a", "b", "c", "e"}
	if !slices.Equal(got, want) || v.Len() != 8 {
		t.Fatalf("vocab = %q (len %d), want %q", got, v.Len(), want)
	}
	if v.Lookup("d") != UnkID || v.Lookup("c") != 6 || v.Count(4) != 3 || v.Count(UnkID) != 0 {
		t.Errorf("lookup/count wrong: d=%d c=%d count(a)=%d", v.Lookup("d"), v.Lookup("c"), v.Count(4))
	}
	if ids := v.Encode([]string{"a", "zzz", "e"}); !slices.Equal(ids, []int32{4, UnkID, 7}) {
		t.Errorf("Encode = %v", ids)
	}
	// Merge order must not matter.
	var c1, c2 Counter
	c1.Add("x")
	c1.Add("y")
	c2.Add("y")
	c2.Add("x")
	c2.Add("z")
	var m1, m2 Counter
	m1.Merge(&c1)
	m1.Merge(&c2)
	m2.Merge(&c2)
	m2.Merge(&c1)
	if !slices.Equal(m1.Vocab(1).Rows(), m2.Vocab(1).Rows()) {
		t.Errorf("vocab depends on merge order: %v vs %v", m1.Vocab(1).Rows(), m2.Vocab(1).Rows())
	}
}

func TestNewVocabRoundTrip(t *testing.T) {
	t.Parallel()
	var c Counter
	for _, tok := range Tokenize("a dog and a cat and a dog") {
		c.Add(tok)
	}
	v := c.Vocab(1)
	rows := v.Rows()
	slices.Reverse(rows)
	back, err := NewVocab(rows)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Rows(), v.Rows()) {
		t.Errorf("round trip: %v vs %v", back.Rows(), v.Rows())
	}
	bad := []struct {
		name string
		rows []table.VocabRow
	}{
		{"missing specials", []table.VocabRow{{ID: 0, Token: "a"}}},
		{"gap", append(v.Rows()[:4:4], table.VocabRow{ID: 9, Token: "x"})},
		{"duplicate token", append(v.Rows()[:4:4], table.VocabRow{ID: 4, Token: Pad})},
	}
	for _, b := range bad {
		if _, err := NewVocab(b.rows); err == nil {
			t.Errorf("%s: NewVocab accepted %v", b.name, b.rows)
		}
	}
}

func TestEncodeText(t *testing.T) {
	t.Parallel()
	var c Counter
	for _, tok := range Tokenize("a dog runs. a dog sits.") {
		c.Add(tok)
	}
	v := c.Vocab(1)
	got := v.Decode(v.EncodeText(nil, "A dog flies."))
	if want := []string{"a", "dog", Unk, "."}; !slices.Equal(got, want) {
		t.Errorf("EncodeText = %q, want %q", got, want)
	}
}
