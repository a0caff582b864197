// Command gen-embedded generates kg/embedded/conceptnet-wordnet.csv: the
// small ConceptNet-form edge file compiled into coderflow for offline
// workflows. It reads a WordNet 3.0 dictionary (Debian: wordnet-base,
// /usr/share/wordnet) and a word list (one word or phrase per line, '#'
// comments), and keeps the WordNet edges (as ConceptNet imports them) of
// the listed words' neighbourhoods:
//
//   - every edge between two listed words;
//   - /r/Synonym, /r/SimilarTo, /r/Antonym and /r/IsA edges with one listed
//     end and a one- or two-word other end;
//   - IsA edges between those IsA targets when the start is shared by at
//     least three listed words, so rare words meet common concepts.
//
// Usage (from kg/embedded, or via `go generate ./kg/embedded`):
//
//	go run ../cmd/gen-embedded -wordnet /usr/share/wordnet -words words.txt -out conceptnet-wordnet.csv -crossings wordnet/pos-crossings.txt
//
// With -crossings it also writes the detachment-rule outputs of each part
// of speech that are lemmas of other parts of speech only (kg.Crossings),
// from the dictionary's index.noun, index.verb, index.adj and index.adv and
// its exception lists.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"coderflow/kg"
)

func main() {
	wn := flag.String("wordnet", "/usr/share/wordnet", "WordNet 3.0 dictionary directory (data.noun, ...)")
	words := flag.String("words", "words.txt", "word list")
	out := flag.String("out", "conceptnet-wordnet.csv", "output file")
	crossings := flag.String("crossings", "", "also write the part-of-speech crossings of morphy's rules (kg.Crossings) to this file")
	flag.Parse()
	if err := run(*wn, *words, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-embedded:", err)
		os.Exit(1)
	}
	if *crossings != "" {
		if err := writeCrossings(*wn, *crossings); err != nil {
			fmt.Fprintln(os.Stderr, "gen-embedded:", err)
			os.Exit(1)
		}
	}
}

func run(wnDir, wordsPath, outPath string) error {
	seeds, err := readWords(wordsPath)
	if err != nil {
		return err
	}
	var all []kg.Edge
	st, err := kg.ReadWordNet(context.Background(), wnDir, kg.ReadOptions{}, func(b []kg.Edge) error {
		all = append(all, b...)
		return nil
	})
	if err != nil {
		return err
	}
	if st.Bad > 0 {
		return fmt.Errorf("%d malformed WordNet lines, first: %v", st.Bad, st.Samples[0])
	}
	short := func(c string) bool { return strings.Count(c, "_") <= 1 }
	keep := map[kg.Edge]bool{}
	hyper := map[string]int{}
	for _, e := range all {
		a, b := seeds[e.Start], seeds[e.End]
		switch {
		case a && b:
			keep[e] = true
		case (a || b) && (e.Rel == "/r/Synonym" || e.Rel == "/r/SimilarTo" || e.Rel == "/r/Antonym") && short(e.Start) && short(e.End):
			keep[e] = true
		case a && e.Rel == "/r/IsA" && short(e.End):
			keep[e] = true
			hyper[e.End]++
		}
	}
	for _, e := range all {
		if hyper[e.Start] >= 3 && e.Rel == "/r/IsA" && short(e.End) && hyper[e.End] >= 1 {
			keep[e] = true
		}
	}
	edges := make([]kg.Edge, 0, len(keep))
	for e := range keep {
		edges = append(edges, e)
	}
	slices.SortFunc(edges, func(x, y kg.Edge) int {
		return strings.Compare(x.Rel+"\x00"+x.Start+"\x00"+x.End, y.Rel+"\x00"+y.Start+"\x00"+y.End)
	})
	f, err := os.Create(outPath)
	if err != nil {
		return err
	}
	if err := kg.WriteConceptNet(f, edges); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	missing := 0
	have := map[string]bool{}
	for _, e := range edges {
		have[e.Start], have[e.End] = true, true
	}
	for w := range seeds {
		if !have[w] {
			missing++
			fmt.Fprintf(os.Stderr, "gen-embedded: %q has no WordNet edge\n", w)
		}
	}
	fmt.Fprintf(os.Stderr, "gen-embedded: %d edges, %d concepts, %d of %d listed words without edges -> %s\n",
		len(edges), len(have), missing, len(seeds), outPath)
	return nil
}

func readWords(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(w, '#'); i >= 0 {
			w = strings.TrimSpace(w[:i])
		}
		if w != "" {
			m[strings.ReplaceAll(strings.ToLower(w), " ", "_")] = true
		}
	}
	return m, sc.Err()
}

// writeCrossings writes kg.ComputeCrossings of the lemmas in wnDir's index
// files to path.
func writeCrossings(wnDir, path string) error {
	lemmas := map[byte]map[string]bool{}
	for _, p := range kg.WordNetPOS {
		f, err := os.Open(filepath.Join(wnDir, "index."+p.File))
		if err != nil {
			return err
		}
		m := map[string]bool{}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if l == "" || l[0] == ' ' { // the licence header
				continue
			}
			if i := strings.IndexByte(l, ' '); i > 0 {
				m[l[:i]] = true
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
		lemmas[p.Code[0]] = m
	}
	ex, err := kg.ReadExceptions(wnDir)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := kg.WriteCrossings(f, kg.ComputeCrossings(lemmas, ex)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
