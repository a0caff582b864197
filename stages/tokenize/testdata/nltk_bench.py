# Times NLTK 3.8 NLTKWordTokenizer on Flickr8k captions (the external anchor of
# docs/bench/tokenize.md). Usage: python3 nltk_bench.py PATH/Flickr8k.token.txt
import time, sys
from nltk.tokenize import NLTKWordTokenizer
tok = NLTKWordTokenizer()
caps = [l.split("\t",1)[1].rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
best = None
for rep in range(3):
    t0 = time.process_time(); w0 = time.perf_counter()
    n = 0
    for c in caps:
        n += len(tok.tokenize(c.lower()))
    cpu = time.process_time() - t0; wall = time.perf_counter() - w0
    print(f"{len(caps)} captions {n} tokens: {len(caps)/cpu:.0f} captions/cpu-s, {len(caps)/wall:.0f} captions/s wall")
t0 = time.process_time()
for c in caps: c.lower().split()
cpu = time.process_time()-t0
print(f"python str.lower().split(): {len(caps)/cpu:.0f} captions/cpu-s")
