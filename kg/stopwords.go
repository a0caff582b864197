package kg

import "unicode"

// stopWords are never linked to concepts, alone or at either end of an
// n-gram: NLTK's English stop-word list without the spatial prepositions
// "above", "below", "over" and "under" (they describe image content: "a red
// circle above a blue square"), without the contraction stems it lists
// after "ain" ("aren", "couldn", "didn", ..., "haven", "won", "wouldn")
// and "ma", and without its forms with an apostrophe ("don't", "it's",
// "you're"; the tokenizer splits those: "won't" is "wo n't", so a
// caption's "won" is the verb, "ribbons won by their dogs"), plus the
// tokenizer's clitics and contraction pieces.
var stopWords = map[string]bool{}

func init() {
	for _, w := range []string{
		"i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself",
		"yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself",
		"they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that",
		"these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
		"having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as",
		"until", "while", "of", "at", "by", "for", "with", "about", "against", "between", "into", "through",
		"during", "before", "after", "to", "from", "up", "down", "in", "out", "on", "off",
		"again", "further", "then", "once", "here", "there", "when", "where", "why", "how",
		"all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
		"only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "should",
		"now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "'s", "'re", "n't", "'", "``", "''",
		// the other clitics and contraction pieces of the tokenizer (NLTK's
		// treebank rules): "i'm" -> i 'm, "can't" -> ca n't, "won't" -> wo
		// n't, "gonna" -> gon na, "'tis" -> 't is, ... ("ca", "na", "ta"
		// are also WordNet's calcium, sodium, tantalum)
		"'m", "'d", "'ll", "'ve", "'t", "'ye", "'n", "ca", "wo", "sha", "gon", "na", "gim", "lem", "ta",
	} {
		stopWords[w] = true
	}
}

// IsStopWord reports whether w never becomes a concept: an English stop
// word, a token without a letter (punctuation, numbers written as digits) or
// a tokenizer special such as "<unk>". Letters are Unicode letters ("café",
// "naïve" are words); other non-ASCII symbols ("—", "“", "…", "３") are not.
func IsStopWord(w string) bool {
	if stopWords[w] || w == "" || w[0] == '<' {
		return true
	}
	for _, r := range w {
		if unicode.IsLetter(r) {
			return false
		}
	}
	return true
}
