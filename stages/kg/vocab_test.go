package kg

import (
	"context"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestLinkBadVocabID: a vocab table whose ids are not 0..n-1 is an error
// naming the table's file and the id, not a panic (a negative id indexed
// the id -> token slice) nor a huge allocation (the slice was sized by the
// largest id).
func TestLinkBadVocabID(t *testing.T) {
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
	for _, bad := range []int32{-1, 5} {
		spec := &pipeline.Spec{
			Kind: "test.badvocab", Version: "1", Produces: []string{table.Tokens, table.Vocab},
			Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
				vocab := []table.VocabRow{{ID: 0, Token: "<pad>"}, {ID: 1, Token: "<start>"}, {ID: 2, Token: "<end>"},
					{ID: 3, Token: "<unk>"}, {ID: bad, Token: "dog", Count: 1}}
				if err := table.WriteFile(env.Path("vocab.parquet"), env, table.Vocab, table.Options{}, vocab); err != nil {
					return err
				}
				env.AddTable(table.Vocab, int64(len(vocab)), "vocab.parquet")
				rows := []table.TokenRow{{CaptionID: 0, ImageID: 0, Split: table.SplitTrain, IDs: []int32{bad}, Length: 1}}
				if err := table.WriteFile(env.Path("tokens.parquet"), env, table.Tokens, table.Options{}, rows); err != nil {
					return err
				}
				env.AddTable(table.Tokens, 1, "tokens.parquet")
				return nil
			}),
		}
		tok := pipelinetest.RunStage(t, spec, nil)
		_, err := pipelinetest.RunStageErr(t, &LinkSpec, nil, tok, graph)
		if err == nil || strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "vocab.parquet") ||
			!strings.Contains(err.Error(), "id") {
			t.Errorf("vocab id %d: err = %v, want an error naming vocab.parquet and the id", bad, err)
		}
	}
}
