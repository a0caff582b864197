package kg

import (
	"context"
	"os"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/kg"
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

// TestLinkBadTokenIDs: a tokens table whose ids fall outside the vocab, and
// a vocab with a repeated id (so another id has no token), are errors
// naming the file and the id. kg.link read an unknown id as <unk> and the
// id of the missing token as "", linking the rest of the caption as if
// nothing were wrong (train.coder refuses such tokens).
func TestLinkBadTokenIDs(t *testing.T) {
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
	good := []table.VocabRow{{ID: 0, Token: "<pad>"}, {ID: 1, Token: "<start>"}, {ID: 2, Token: "<end>"},
		{ID: 3, Token: "<unk>"}, {ID: 4, Token: "circle", Count: 1}, {ID: 5, Token: "square", Count: 1}}
	dup := append([]table.VocabRow(nil), good...)
	dup[5].ID = 4 // ids 0..4, 4 twice, 5 missing
	for _, c := range []struct {
		name  string
		vocab []table.VocabRow
		ids   []int32
		want  string
	}{
		{"id past the vocab", good, []int32{4, 6}, "tokens.parquet"},
		{"negative id", good, []int32{-2, 4}, "tokens.parquet"},
		{"repeated vocab id", dup, []int32{4, 5}, "vocab.parquet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := &pipeline.Spec{
				Kind: "test.badtokens", Version: "1", Produces: []string{table.Tokens, table.Vocab},
				Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
					if err := table.WriteFile(env.Path("vocab.parquet"), env, table.Vocab, table.Options{}, c.vocab); err != nil {
						return err
					}
					env.AddTable(table.Vocab, int64(len(c.vocab)), "vocab.parquet")
					rows := []table.TokenRow{
						{CaptionID: 0, ImageID: 0, Split: table.SplitTrain, IDs: []int32{4}, Length: 1},
						{CaptionID: 7, ImageID: 1, Split: table.SplitTrain, IDs: c.ids, Length: int32(len(c.ids))},
					}
					if err := table.WriteFile(env.Path("tokens.parquet"), env, table.Tokens, table.Options{}, rows); err != nil {
						return err
					}
					env.AddTable(table.Tokens, int64(len(rows)), "tokens.parquet")
					return nil
				}),
			}
			tok := pipelinetest.RunStage(t, spec, nil)
			_, err := pipelinetest.RunStageErr(t, &LinkSpec, map[string]any{"cooccur_min": 1}, tok, graph)
			if err == nil || strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want an error naming %s", err, c.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

// TestLinkDamagedGraph: a kg.conceptnet artifact whose store file was
// damaged after the fact (cut short; a page zeroed) fails kg.link with an
// error naming the file. Cut short, bolt read past the file's end (SIGBUS:
// the process died); a zeroed page made it panic, and the store's deferred
// Close then waited forever for the read transaction the panic left open,
// so the stage hung instead of reporting the panic.
func TestLinkDamagedGraph(t *testing.T) {
	caps := []string{"train|1|a red circle on a blue square", "train|2|a red circle"}
	for _, damage := range []string{"cut short", "zeroed"} {
		t.Run(damage, func(t *testing.T) {
			tok := pipelinetest.RunStage(t, tokensSpec(caps), nil)
			graph := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
			file := graph.Path(kg.StoreDirName + "/" + kg.BoltFile)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if damage == "cut short" {
				b = b[:len(b)/2]
			} else {
				// every page but bolt's two meta pages: whichever the
				// queries reach is damaged
				clear(b[2*4096:])
			}
			os.Chmod(file, 0o644)
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = pipelinetest.RunStageErr(t, &LinkSpec, nil, tok, graph)
			if err == nil || !strings.Contains(err.Error(), kg.BoltFile) {
				t.Errorf("err = %v, want an error naming %s", err, kg.BoltFile)
			}
		})
	}
}

// TestReadAdjacencySize: a concept count that does not match the file is
// an error, also when 4*m*m overflows (m = 2^31 made it 0, so an empty file
// passed and the 2^62-element slice panicked) or m is negative (-1 read a
// 4-byte file as one value).
func TestReadAdjacencySize(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		bytes, m int
	}{{0, 1 << 31}, {4, -1}, {8, 1}, {0, 1 << 40}} {
		path := dir + "/adjacency.f32"
		if err := os.WriteFile(path, make([]byte, c.bytes), 0o644); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%d bytes, m %d: panic %v", c.bytes, c.m, r)
				}
			}()
			if a, err := ReadAdjacency(path, c.m); err == nil {
				t.Errorf("%d bytes, m %d: %d values, want an error", c.bytes, c.m, len(a))
			}
		}()
	}
	if err := os.WriteFile(dir+"/ok.f32", make([]byte, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := ReadAdjacency(dir+"/ok.f32", 2); err != nil || len(a) != 4 {
		t.Errorf("2 x 2: %v, %v", a, err)
	}
}
