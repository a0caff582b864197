// Package embedded holds the knowledge files compiled into coderflow, so the
// demo workflow runs offline on a machine with only Go:
//
//   - conceptnet-wordnet.csv: a small ConceptNet-form edge file (the format
//     of ConceptNet 5 assertions) generated from WordNet 3.0 for the words
//     of words.txt (the synthetic data set's vocabulary) and their WordNet
//     neighbourhoods. Regenerate it with
//
//     go generate ./kg/embedded
//
//     which runs `go run ../cmd/gen-embedded -wordnet /usr/share/wordnet`
//     (Debian package wordnet-base).
//
//   - wordnet/*.exc: WordNet 3.0's morphological exception lists, used by the
//     lemmatiser.
//
// Both are WordNet-derived and carry WordNet's licence (LICENSE-WordNet.txt).
package embedded

import (
	"embed"
	"io/fs"
)

//go:generate go run ../cmd/gen-embedded -wordnet /usr/share/wordnet -words words.txt -out conceptnet-wordnet.csv

// EdgesFile is the name of the embedded edge file.
const EdgesFile = "conceptnet-wordnet.csv"

//go:embed conceptnet-wordnet.csv words.txt LICENSE-WordNet.txt wordnet/*.exc
var files embed.FS

// FS returns the embedded files.
func FS() fs.FS { return files }

// Edges returns the embedded ConceptNet-form edge file.
func Edges() []byte {
	b, _ := files.ReadFile(EdgesFile)
	return b
}

// Exceptions returns WordNet's exception list for a part of speech file
// suffix ("noun", "verb", "adj", "adv").
func Exceptions(pos string) []byte {
	b, _ := files.ReadFile("wordnet/" + pos + ".exc")
	return b
}
