package arrowfeat

import (
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// TokensView gives zero-copy, typed access to the rows of one batch of the
// tokens table (a [Reader] of layout [Tokens]). Its slices alias the batch's
// buffers: they are valid while the batch is retained and must not be
// modified.
type TokensView struct {
	CaptionIDs []int64 // caption_id per row
	ImageIDs   []int64 // image_id per row
	Lengths    []int32 // length per row (as written; may disagree with ids)
	split      *array.String
	ids        *array.List
	iv         []int32
}

// NewTokensView checks that rec has the tokens columns and wraps it.
func NewTokensView(rec arrow.Record) (*TokensView, error) {
	if n := Tokens.Schema.NumFields(); int(rec.NumCols()) != n {
		return nil, fmt.Errorf("arrowfeat: batch has %d columns, want %v", rec.NumCols(), Tokens.Columns())
	}
	cid, ok1 := rec.Column(0).(*array.Int64)
	iid, ok2 := rec.Column(1).(*array.Int64)
	sp, ok3 := rec.Column(2).(*array.String)
	ids, ok4 := rec.Column(3).(*array.List)
	ln, ok5 := rec.Column(4).(*array.Int32)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return nil, fmt.Errorf("arrowfeat: batch columns are not the tokens table's: %s", rec.Schema())
	}
	iv, ok := ids.ListValues().(*array.Int32)
	if !ok {
		return nil, fmt.Errorf("arrowfeat: ids column is not a list of int32: %s", rec.Schema())
	}
	return &TokensView{CaptionIDs: cid.Int64Values(), ImageIDs: iid.Int64Values(), Lengths: ln.Int32Values(),
		split: sp, ids: ids, iv: iv.Int32Values()}, nil
}

// Len is the number of rows.
func (v *TokensView) Len() int { return len(v.CaptionIDs) }

// Split returns row i's split. The string aliases the batch's buffer.
func (v *TokensView) Split(i int) string { return v.split.Value(i) }

// IDs returns row i's vocabulary ids.
func (v *TokensView) IDs(i int) []int32 {
	s, e := v.ids.ValueOffsets(i)
	return v.iv[s:e:e]
}
