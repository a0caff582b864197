package kg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// WordNetDataset is the dataset URI of edges read from WordNet 3.0.
const WordNetDataset = "/d/wordnet/3.0"

// WordNetWeight is the weight of WordNet edges (ConceptNet gives its WordNet
// edges weight 2).
const WordNetWeight = 2

// WordNetPOS lists the WordNet parts of speech with their file suffixes.
var WordNetPOS = []struct{ Code, File string }{{"n", "noun"}, {"v", "verb"}, {"a", "adj"}, {"r", "adv"}}

// synset is one parsed line of a WordNet data file.
type synset struct {
	words []string
	ptrs  []wnPointer
}

type wnPointer struct {
	sym    string
	offset string
	pos    byte // n v a r (s is mapped to a)
	src    int  // 1-based source word, 0 = the whole synset
	dst    int
}

// pointer symbols -> relation and whether the edge goes from this synset
// (true) or the edge is symmetric; see ReadWordNet.
var wnRelations = map[string]string{
	"@":  "/r/IsA",     // hypernym
	"@i": "/r/IsA",     // instance hypernym
	"#m": "/r/PartOf",  // member holonym: this is a member of the target
	"#s": "/r/PartOf",  // substance holonym
	"#p": "/r/PartOf",  // part holonym
	"%m": "/r/HasA",    // member meronym: the target is a member of this
	"%s": "/r/HasA",    // substance meronym
	"%p": "/r/HasA",    // part meronym
	"!":  "/r/Antonym", // antonym (lexical)
	"&":  "/r/SimilarTo",
}

// ReadWordNet reads a WordNet 3.0 dictionary directory (data.noun,
// data.verb, data.adj, data.adv) and calls fn with batches of ConceptNet-form
// edges, dataset [WordNetDataset], weight [WordNetWeight], the way
// ConceptNet imports WordNet: the words of a synset are /r/Synonym of each
// other (one edge per pair); hypernyms give /r/IsA, holonyms /r/PartOf,
// meronyms /r/HasA, antonyms /r/Antonym (word to word), similar-to
// /r/SimilarTo. Word forms are lower-cased, adjective markers such as "(a)"
// dropped and slashes written '_' (read/write_head -> read_write_head).
// Malformed lines are counted in the stats (with file and line); a
// missing data file is an error. Stats.Lines counts synset lines.
func ReadWordNet(ctx context.Context, dir string, opt ReadOptions, fn func([]Edge) error) (ReadStats, error) {
	var st ReadStats
	synsets := map[byte]map[string]*synset{}
	for _, p := range WordNetPOS {
		path := filepath.Join(dir, "data."+p.File)
		m, err := readWordNetData(ctx, path, &st)
		if err != nil {
			return st, err
		}
		synsets[p.Code[0]] = m
	}
	rels := opt.relSet()
	batch, size := opt.newBatch(), opt.batch()
	emit := func(rel, a, b string) error {
		if a == b || (rels != nil && !rels[rel]) {
			return nil
		}
		batch = append(batch, Edge{Rel: rel, Start: a, End: b, Weight: WordNetWeight, Dataset: WordNetDataset})
		st.Edges++
		if len(batch) >= size {
			err := fn(batch)
			batch = batch[:0]
			return err
		}
		return nil
	}
	for _, p := range WordNetPOS {
		// Synsets in offset order, which is file order (offsets are
		// zero-padded byte offsets): the edge order, and with it the
		// batches a loader sees, must not change from run to run.
		m := synsets[p.Code[0]]
		for _, off := range slices.Sorted(maps.Keys(m)) {
			ss := m[off]
			if err := ctx.Err(); err != nil {
				return st, err
			}
			for i, a := range ss.words {
				for _, b := range ss.words[i+1:] {
					if err := emit("/r/Synonym", a, b); err != nil {
						return st, err
					}
				}
			}
			for _, ptr := range ss.ptrs {
				rel, ok := wnRelations[ptr.sym]
				if !ok {
					continue
				}
				target := synsets[ptr.pos][ptr.offset]
				if target == nil {
					continue // dangling pointer: WordNet 3.0 has none
				}
				srcs, dsts := ss.words, target.words
				if ptr.src > 0 {
					if ptr.src > len(srcs) || ptr.dst < 1 || ptr.dst > len(dsts) {
						continue
					}
					srcs, dsts = srcs[ptr.src-1:ptr.src], dsts[ptr.dst-1:ptr.dst]
				}
				for _, a := range srcs {
					for _, b := range dsts {
						if err := emit(rel, a, b); err != nil {
							return st, err
						}
					}
				}
			}
		}
	}
	if len(batch) > 0 {
		if err := fn(batch); err != nil {
			return st, err
		}
	}
	return st, nil
}

// readWordNetData parses one data.POS file into synsets by offset.
func readWordNetData(ctx context.Context, path string, st *ReadStats) (map[string]*synset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kg: wordnet: %w", err)
	}
	defer f.Close()
	out := map[string]*synset{}
	br := bufio.NewReaderSize(f, 1<<20)
	var line int64
	for {
		s, err := br.ReadString('\n')
		if len(s) > 0 {
			line++
			if line&0xfff == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !strings.HasPrefix(s, "  ") && strings.TrimSpace(s) != "" { // licence header lines start with two spaces
				st.Lines++
				off, ss, perr := parseSynset(s)
				if perr != nil {
					st.bad(path, line, "%v", perr)
				} else {
					out[off] = ss
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("kg: wordnet: %s: after line %d: %w", path, line, err)
		}
	}
	return out, nil
}

// parseSynset parses "offset lex_filenum ss_type w_cnt word lex_id ... p_cnt
// ptr... [frames] | gloss".
func parseSynset(s string) (string, *synset, error) {
	if i := strings.Index(s, " | "); i >= 0 {
		s = s[:i]
	}
	f := strings.Fields(s)
	if len(f) < 6 {
		return "", nil, fmt.Errorf("synset line has %d fields", len(f))
	}
	off := f[0]
	if _, err := strconv.ParseUint(off, 10, 64); err != nil || len(off) != 8 {
		return "", nil, fmt.Errorf("bad synset offset %q", off)
	}
	wcnt, err := strconv.ParseUint(f[3], 16, 16)
	if err != nil || wcnt == 0 {
		return "", nil, fmt.Errorf("bad word count %q", f[3])
	}
	i := 4
	if len(f) < i+2*int(wcnt)+1 {
		return "", nil, fmt.Errorf("line ends inside its %d words", wcnt)
	}
	ss := &synset{}
	for k := 0; k < int(wcnt); k++ {
		ss.words = append(ss.words, wordForm(f[i]))
		i += 2
	}
	pcnt, err := strconv.Atoi(f[i])
	if err != nil || pcnt < 0 {
		return "", nil, fmt.Errorf("bad pointer count %q", f[i])
	}
	i++
	if pcnt > (len(f)-i)/4 { // (4*pcnt could overflow)
		return "", nil, fmt.Errorf("line ends inside its %d pointers", pcnt)
	}
	for k := 0; k < pcnt; k++ {
		sym, offset, pos, st := f[i], f[i+1], f[i+2], f[i+3]
		i += 4
		if len(pos) != 1 || !strings.Contains("nvasr", pos) || len(st) != 4 {
			return "", nil, fmt.Errorf("bad pointer %q %q %q %q", sym, offset, pos, st)
		}
		src, err1 := strconv.ParseUint(st[:2], 16, 8)
		dst, err2 := strconv.ParseUint(st[2:], 16, 8)
		if err1 != nil || err2 != nil {
			return "", nil, fmt.Errorf("bad pointer source/target %q", st)
		}
		p := pos[0]
		if p == 's' {
			p = 'a'
		}
		ss.ptrs = append(ss.ptrs, wnPointer{sym: sym, offset: offset, pos: p, src: int(src), dst: int(dst)})
	}
	return off, ss, nil
}

// wordForm lower-cases a WordNet word and drops an adjective marker:
// "Big_Dipper" -> "big_dipper", "galore(ip)" -> "galore". A slash
// becomes '_', as in ConceptNet's URIs ("read/write_head" is
// /c/en/read_write_head): a concept term cannot hold one, since
// [NormalizeConcept] ends the term at the URI's next '/'.
func wordForm(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		w = w[:i]
	}
	return strings.ToLower(strings.ReplaceAll(w, "/", "_"))
}
