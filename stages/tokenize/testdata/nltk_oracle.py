# Reads one JSON string per line on stdin, writes the NLTKWordTokenizer
# tokens of each as one JSON list per line. Used by TestAgainstNLTK.
import json
import sys

from nltk.tokenize import NLTKWordTokenizer

tok = NLTKWordTokenizer()
for line in sys.stdin:
    sys.stdout.write(json.dumps(tok.tokenize(json.loads(line))) + "\n")
sys.stdout.flush()
