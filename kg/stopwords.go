package kg

// stopWords are never linked to concepts, alone or at either end of an
// n-gram: NLTK's English stop-word list without the spatial prepositions
// "above", "below", "over" and "under" (they describe image content: "a red
// circle above a blue square"), plus contraction pieces.
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
	} {
		stopWords[w] = true
	}
}

// IsStopWord reports whether w never becomes a concept: an English stop
// word, a token without a letter (punctuation, numbers written as digits) or
// a tokenizer special such as "<unk>".
func IsStopWord(w string) bool {
	if stopWords[w] || w == "" || w[0] == '<' {
		return true
	}
	for _, r := range w {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 {
			return false
		}
	}
	return true
}
