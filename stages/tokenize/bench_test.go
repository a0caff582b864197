package tokenize

import (
	"strings"
	"testing"
	"time"

	"coderflow/datasets/table"
	"coderflow/internal/testenv"
	"coderflow/pipeline/pipelinetest"
)

// benchCaptions returns the Flickr8k caption texts and a vocabulary built
// from their training split (min_count 4).
func benchCaptions(b *testing.B) ([]string, *Vocab) {
	rows := flickr8kCaptions(b)
	texts := make([]string, len(rows))
	var c Counter
	tk := NewTokenizer()
	for i, r := range rows {
		texts[i] = r.Text
		if r.Split == table.SplitTrain {
			for _, tok := range tk.Split(r.Text) {
				c.AddBytes(tok)
			}
		}
	}
	return texts, c.Vocab(DefaultMinCount)
}

var sink int64

// BenchmarkTokenize times, in the same loop, this package's tokenizer and
// the anchor strings.Fields(strings.ToLower(s)) over the 35,455 Flickr8k
// captions, without and with vocabulary encoding, and reports captions/s of
// each and the ratio (ours / anchor; below 1 means slower than the anchor).
func BenchmarkTokenize(b *testing.B) {
	texts, vocab := benchCaptions(b)
	for _, encode := range []bool{false, true} {
		name := "tokenize"
		if encode {
			name = "tokenize+encode"
		}
		b.Run(name, func(b *testing.B) {
			tk := NewTokenizer()
			var ours, anchor, oursCPU, anchorCPU time.Duration
			loops := 0
			for b.Loop() {
				t0, c0 := time.Now(), testenv.CPUTime()
				for _, s := range texts {
					toks := tk.Split(s)
					if encode {
						for _, tok := range toks {
							sink += int64(vocab.LookupBytes(tok))
						}
					} else {
						sink += int64(len(toks))
					}
				}
				t1, c1 := time.Now(), testenv.CPUTime()
				for _, s := range texts {
					toks := strings.Fields(strings.ToLower(s))
					if encode {
						for _, tok := range toks {
							sink += int64(vocab.Lookup(tok))
						}
					} else {
						sink += int64(len(toks))
					}
				}
				anchor += time.Since(t1)
				anchorCPU += testenv.CPUTime() - c1
				ours += t1.Sub(t0)
				oursCPU += c1 - c0
				loops++
			}
			n := float64(loops * len(texts))
			b.ReportMetric(n/ours.Seconds(), "captions/s")
			b.ReportMetric(n/anchor.Seconds(), "anchor-captions/s")
			b.ReportMetric(anchor.Seconds()/ours.Seconds(), "ours/anchor")
			b.ReportMetric(n/oursCPU.Seconds(), "captions/cpu-s")
			b.ReportMetric(anchorCPU.Seconds()/oursCPU.Seconds(), "cpu-ours/anchor")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkStage runs the whole tokenize stage (read the captions Parquet
// twice, build the vocabulary, write vocab and tokens Parquet) on the
// 35,455 Flickr8k captions and reports captions/s.
func BenchmarkStage(b *testing.B) {
	rows := flickr8kCaptions(b)
	in := pipelinetest.RunStage(b, captionsSpec(rows, 10000), nil)
	var total, cpu time.Duration
	loops := 0
	for b.Loop() {
		t0, c0 := time.Now(), testenv.CPUTime()
		pipelinetest.RunStage(b, &Spec, nil, in)
		total += time.Since(t0)
		cpu += testenv.CPUTime() - c0
		loops++
	}
	n := float64(loops * len(rows))
	b.ReportMetric(n/total.Seconds(), "captions/s")
	b.ReportMetric(n/cpu.Seconds(), "captions/cpu-s")
}
