# Reads one JSON string per line on stdin, writes the tokens of each as one
# JSON list per line: nltk.word_tokenize's steps, Punkt sentences then
# NLTKWordTokenizer on each, with an untrained Punkt (the English model is
# data that Debian's python3-nltk does not ship). Used by
# TestSentenceStartsAgainstNLTK.
import json
import sys

from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

tok = NLTKWordTokenizer()
punkt = PunktSentenceTokenizer()
for line in sys.stdin:
    text = json.loads(line)
    toks = [t for sent in punkt.tokenize(text) for t in tok.tokenize(sent)]
    sys.stdout.write(json.dumps(toks) + "\n")
sys.stdout.flush()
