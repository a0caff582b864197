package tokenize

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"coderflow/datasets/table"
)

// Special tokens and their fixed ids, as in SCAN's vocabulary.
const (
	Pad   = "<pad>"
	Start = "<start>"
	End   = "<end>"
	Unk   = "<unk>"

	PadID   int32 = 0
	StartID int32 = 1
	EndID   int32 = 2
	UnkID   int32 = 3

	// NumSpecial is the number of special tokens; word ids start here.
	NumSpecial = 4
)

// Counter counts token occurrences, for building a [Vocab]. The zero value
// is ready to use. It is not safe for concurrent use; merge per-goroutine
// counters with [Counter.Merge].
type Counter struct {
	index  map[string]int32
	tokens []string
	counts []int64
}

// Add counts one occurrence of tok.
func (c *Counter) Add(tok string) { c.AddN(tok, 1) }

// AddN counts n occurrences of tok.
func (c *Counter) AddN(tok string, n int64) {
	if i, ok := c.index[tok]; ok {
		c.counts[i] += n
		return
	}
	c.insert(tok, n)
}

// AddBytes counts one occurrence of tok without allocating when tok was
// seen before.
func (c *Counter) AddBytes(tok []byte) {
	if i, ok := c.index[string(tok)]; ok {
		c.counts[i]++
		return
	}
	c.insert(string(tok), 1)
}

func (c *Counter) insert(tok string, n int64) {
	if c.index == nil {
		c.index = map[string]int32{}
	}
	c.index[tok] = int32(len(c.tokens))
	c.tokens = append(c.tokens, tok)
	c.counts = append(c.counts, n)
}

// Merge adds the counts of o.
func (c *Counter) Merge(o *Counter) {
	for i, tok := range o.tokens {
		c.AddN(tok, o.counts[i])
	}
}

// Len returns the number of distinct tokens counted.
func (c *Counter) Len() int { return len(c.tokens) }

// Count returns how often tok was counted.
func (c *Counter) Count(tok string) int64 {
	if i, ok := c.index[tok]; ok {
		return c.counts[i]
	}
	return 0
}

// Vocab returns the vocabulary of the tokens counted at least minCount
// times: the four specials first (ids 0-3, count 0), then the tokens by
// count descending, ties by token ascending (byte order), so the result
// does not depend on the order tokens were counted in. A counted token
// spelled like a special (impossible for tokenizer output, which splits
// "<" and ">") is left out.
func (c *Counter) Vocab(minCount int) *Vocab {
	var keep []int32
	for i, n := range c.counts {
		if n >= int64(minCount) && !isSpecial(c.tokens[i]) {
			keep = append(keep, int32(i))
		}
	}
	sort.Slice(keep, func(a, b int) bool {
		ia, ib := keep[a], keep[b]
		if c.counts[ia] != c.counts[ib] {
			return c.counts[ia] > c.counts[ib]
		}
		return c.tokens[ia] < c.tokens[ib]
	})
	v := newSpecialVocab(len(keep))
	for _, i := range keep {
		v.add(c.tokens[i], c.counts[i])
	}
	return v
}

func isSpecial(tok string) bool { return tok == Pad || tok == Start || tok == End || tok == Unk }

// Vocab maps tokens to ids. It is immutable once built, and safe for
// concurrent use.
type Vocab struct {
	tokens []string
	counts []int64
	index  map[string]int32
}

func newSpecialVocab(n int) *Vocab {
	v := &Vocab{
		tokens: make([]string, 0, NumSpecial+n),
		counts: make([]int64, 0, NumSpecial+n),
		index:  make(map[string]int32, NumSpecial+n),
	}
	for _, s := range [...]string{Pad, Start, End, Unk} {
		v.add(s, 0)
	}
	return v
}

func (v *Vocab) add(tok string, n int64) {
	v.index[tok] = int32(len(v.tokens))
	v.tokens = append(v.tokens, tok)
	v.counts = append(v.counts, n)
}

// NewVocab builds a Vocab from the rows of a vocab table. Rows may come in
// any order; ids must be exactly 0..len(rows)-1, tokens unique and not
// empty, counts not negative, and ids 0-3 the specials. An error names the
// first offending row (its index in rows).
func NewVocab(rows []table.VocabRow) (*Vocab, error) {
	v := &Vocab{tokens: make([]string, len(rows)), counts: make([]int64, len(rows)), index: make(map[string]int32, len(rows))}
	seen := make([]bool, len(rows))
	for i, r := range rows {
		switch {
		case r.ID < 0 || int(r.ID) >= len(rows):
			return nil, fmt.Errorf("tokenize: vocab: row %d: id %d (token %q) is outside 0..%d", i, r.ID, r.Token, len(rows)-1)
		case seen[r.ID]:
			return nil, fmt.Errorf("tokenize: vocab: row %d: id %d (token %q) is duplicated (also token %q)", i, r.ID, r.Token, v.tokens[r.ID])
		case r.Token == "":
			return nil, fmt.Errorf("tokenize: vocab: row %d: empty token (id %d)", i, r.ID)
		case r.Count < 0:
			return nil, fmt.Errorf("tokenize: vocab: row %d: token %q has count %d", i, r.Token, r.Count)
		}
		if prev, dup := v.index[r.Token]; dup {
			return nil, fmt.Errorf("tokenize: vocab: row %d: token %q (id %d) appears twice (also id %d)", i, r.Token, r.ID, prev)
		}
		seen[r.ID] = true
		v.tokens[r.ID], v.counts[r.ID], v.index[r.Token] = r.Token, r.Count, r.ID
	}
	for id, s := range [...]string{Pad, Start, End, Unk} {
		if id >= len(v.tokens) || v.tokens[id] != s {
			return nil, fmt.Errorf("tokenize: vocab: id %d must be %s", id, s)
		}
	}
	return v, nil
}

// LoadVocab reads a vocab table (the vocab.parquet of a tokenize artifact).
// Errors name the files.
func LoadVocab(ctx context.Context, files ...string) (*Vocab, error) {
	rows, err := table.ReadAll[table.VocabRow](ctx, files...)
	if err != nil {
		return nil, fmt.Errorf("tokenize: reading vocab: %w", err)
	}
	v, err := NewVocab(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(files, ", "), err)
	}
	return v, nil
}

// Len returns the number of ids, specials included.
func (v *Vocab) Len() int { return len(v.tokens) }

// Token returns the token of id, or "" if id is out of range.
func (v *Vocab) Token(id int32) string {
	if id < 0 || int(id) >= len(v.tokens) {
		return ""
	}
	return v.tokens[id]
}

// Count returns the training count of id (0 for the specials).
func (v *Vocab) Count(id int32) int64 {
	if id < 0 || int(id) >= len(v.counts) {
		return 0
	}
	return v.counts[id]
}

// ID returns the id of tok and whether tok is in the vocabulary.
func (v *Vocab) ID(tok string) (int32, bool) {
	id, ok := v.index[tok]
	return id, ok
}

// Lookup returns the id of tok, or [UnkID] if tok is not in the vocabulary.
func (v *Vocab) Lookup(tok string) int32 {
	if id, ok := v.index[tok]; ok {
		return id
	}
	return UnkID
}

// LookupBytes is [Vocab.Lookup] for a token held as bytes (no allocation).
func (v *Vocab) LookupBytes(tok []byte) int32 {
	if id, ok := v.index[string(tok)]; ok {
		return id
	}
	return UnkID
}

// Encode returns the ids of tokens (unknown tokens become [UnkID]); it adds
// no <start>/<end>.
func (v *Vocab) Encode(tokens []string) []int32 {
	return v.AppendEncode(make([]int32, 0, len(tokens)), tokens)
}

// AppendEncode appends the ids of tokens to dst.
func (v *Vocab) AppendEncode(dst []int32, tokens []string) []int32 {
	for _, t := range tokens {
		dst = append(dst, v.Lookup(t))
	}
	return dst
}

// EncodeText tokenizes s with t and returns its ids (t may be nil: a
// pooled Tokenizer is used).
func (v *Vocab) EncodeText(t *Tokenizer, s string) []int32 {
	if t == nil {
		t = pool.Get().(*Tokenizer)
		defer pool.Put(t)
	}
	toks := t.Split(s)
	ids := make([]int32, 0, len(toks))
	for _, tok := range toks {
		ids = append(ids, v.LookupBytes(tok))
	}
	return ids
}

// Decode returns the tokens of ids ("" for ids out of range).
func (v *Vocab) Decode(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = v.Token(id)
	}
	return out
}

// Rows returns the vocabulary as vocab table rows, in id order.
func (v *Vocab) Rows() []table.VocabRow {
	rows := make([]table.VocabRow, len(v.tokens))
	for i, tok := range v.tokens {
		rows[i] = table.VocabRow{ID: int32(i), Token: tok, Count: v.counts[i]}
	}
	return rows
}
