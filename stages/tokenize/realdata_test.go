package tokenize

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

// flickr8kCaptions reads the shared Flickr8k captions (35,455) as caption
// rows: split from the train and dev image lists, "test" for the rest.
// Image ids follow the order of first appearance; caption ids the line order.
func flickr8kCaptions(t testing.TB) []table.CaptionRow {
	t.Helper()
	dir := sharedData(t, "flickr8k-captions")
	readList := func(name string) map[string]bool {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m := map[string]bool{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if s := strings.TrimSpace(sc.Text()); s != "" {
				m[s] = true
			}
		}
		return m
	}
	train, dev := readList("Flickr_8k.trainImages.txt"), readList("Flickr_8k.devImages.txt")
	f, err := os.Open(filepath.Join(dir, "Flickr8k.token.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	images := map[string]int64{}
	var rows []table.CaptionRow
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		key, text, ok := strings.Cut(sc.Text(), "\t")
		name, _, ok2 := strings.Cut(key, "#")
		if !ok || !ok2 {
			t.Fatalf("Flickr8k.token.txt:%d: want NAME.jpg#K<TAB>caption", line)
		}
		id, seen := images[name]
		if !seen {
			id = int64(len(images))
			images[name] = id
		}
		split := table.SplitTest
		switch {
		case train[name]:
			split = table.SplitTrain
		case dev[name]:
			split = table.SplitDev
		}
		rows = append(rows, table.CaptionRow{CaptionID: int64(len(rows)), ImageID: id, Split: split, Text: text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestFlickr8k(t *testing.T) {
	rows := flickr8kCaptions(t)
	if len(rows) != 35455 {
		t.Fatalf("%d Flickr8k captions, want 35455", len(rows))
	}
	in := pipelinetest.RunStage(t, captionsSpec(rows, 10000), nil)
	a := pipelinetest.RunStage(t, &Spec, nil, in)
	v := readVocab(t, a)
	t.Logf("vocab %d, unk rate %.4f, by split %v, summary: %s", v.Len(), info(t, a, "unk_rate"),
		a.Manifest.Info["unk_rate_by_split"], a.Manifest.Summary)

	// SCAN-like size: a few thousand words with min_count 4.
	if v.Len() < 2000 || v.Len() > 5000 {
		t.Errorf("vocab size %d is not plausible for Flickr8k train with min_count 4", v.Len())
	}
	top := v.Decode(seq(min(v.Len(), NumSpecial+20)))[NumSpecial:]
	for _, w := range []string{"a", "dog", "man", "."} {
		if !slices.Contains(top, w) {
			t.Errorf("%q not among the 20 most frequent tokens %q", w, top)
		}
	}
	if top[0] != "a" {
		t.Errorf("most frequent token %q, want \"a\"", top[0])
	}

	// No word seen only outside train may enter the vocabulary.
	trainWords, otherWords := map[string]bool{}, map[string]bool{}
	tk := NewTokenizer()
	for _, r := range rows {
		for _, tok := range tk.Tokens(r.Text) {
			if r.Split == table.SplitTrain {
				trainWords[tok] = true
			} else {
				otherWords[tok] = true
			}
		}
	}
	leaked, devOnly := 0, 0
	for w := range otherWords {
		if trainWords[w] {
			continue
		}
		devOnly++
		if _, ok := v.ID(w); ok {
			leaked++
			t.Errorf("dev/test-only word %q is in the vocabulary", w)
		}
	}
	if devOnly == 0 {
		t.Error("no dev/test-only word found: the leak check checks nothing")
	}
	// Every vocabulary word occurs at least min_count times in train.
	var c Counter
	for _, r := range rows {
		if r.Split == table.SplitTrain {
			for _, tok := range tk.Split(r.Text) {
				c.AddBytes(tok)
			}
		}
	}
	for id := int32(NumSpecial); id < int32(v.Len()); id++ {
		if n := c.Count(v.Token(id)); n < DefaultMinCount || n != v.Count(id) {
			t.Fatalf("vocab token %q: count %d in the table, %d in train", v.Token(id), v.Count(id), n)
		}
	}
	var ub map[string]float64
	b, _ := json.Marshal(a.Manifest.Info["unk_rate_by_split"])
	if err := json.Unmarshal(b, &ub); err != nil {
		t.Fatal(err)
	}
	if ub["train"] >= ub["dev"] {
		t.Errorf("unk rate train %v >= dev %v", ub["train"], ub["dev"])
	}
	if got := info(t, a, "captions"); got != 35455 {
		t.Errorf("info.captions = %v", got)
	}
}
