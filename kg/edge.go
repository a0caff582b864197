package kg

import (
	"strconv"
	"strings"
)

// Edge is one ConceptNet-form assertion between two English concepts.
type Edge struct {
	Rel     string  // relation URI, e.g. "/r/IsA"
	Start   string  // normalised concept, e.g. "hot_dog"
	End     string  // normalised concept
	Weight  float32 // ConceptNet weight (WordNet edges: 2)
	Dataset string  // e.g. "/d/wordnet/3.0", "/d/conceptnet/4/en"
}

// ConceptPrefix is the URI prefix of English concepts.
const ConceptPrefix = "/c/en/"

// NormalizeConcept turns an English concept URI into its bare term:
// "/c/en/hot_dog/n/wn/food" -> "hot_dog". It returns false for URIs that are
// not English concepts (other languages, external URLs) or have an empty term.
func NormalizeConcept(uri string) (string, bool) {
	if !strings.HasPrefix(uri, ConceptPrefix) {
		return "", false
	}
	t := uri[len(ConceptPrefix):]
	if i := strings.IndexByte(t, '/'); i >= 0 {
		t = t[:i]
	}
	if t == "" {
		return "", false
	}
	return t, true
}

// ConceptURI returns the URI of a normalised concept: "dog" -> "/c/en/dog".
func ConceptURI(term string) string { return ConceptPrefix + term }

// ConceptLabel returns the display label of a concept: underscores become
// spaces ("hot_dog" -> "hot dog").
func ConceptLabel(term string) string { return strings.ReplaceAll(term, "_", " ") }

// labelSep separates the dataset from the weight in a quad label.
const labelSep = "#w="

// EncodeLabel returns the quad label of an edge: the dataset and the weight,
// e.g. "/d/wordnet/3.0#w=2". The same dataset and weight give the same label,
// so labels are shared by many quads.
func EncodeLabel(dataset string, weight float32) string {
	return dataset + labelSep + strconv.FormatFloat(float64(weight), 'g', -1, 32)
}

// DecodeLabel splits a label written by [EncodeLabel]. A label without a
// weight has weight 1.
func DecodeLabel(label string) (dataset string, weight float32) {
	i := strings.LastIndex(label, labelSep)
	if i < 0 {
		return label, 1
	}
	w, err := strconv.ParseFloat(label[i+len(labelSep):], 32)
	if err != nil {
		return label, 1
	}
	return label[:i], float32(w)
}
