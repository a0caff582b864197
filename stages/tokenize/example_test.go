package tokenize_test

import (
	"fmt"

	"coderflow/stages/tokenize"
)

func ExampleTokenize() {
	fmt.Printf("%q\n", tokenize.Tokenize(`A man's dog can't jump over the "t-shirt" for $3.50.`))
	// Output: ["a" "man" "'s" "dog" "ca" "n't" "jump" "over" "the" "``" "t-shirt" "''" "for" "$" "3.50" "."]
}

func ExampleCounter_Vocab() {
	var c tokenize.Counter
	for _, s := range []string{"A dog runs.", "A dog sits.", "A cat runs."} {
		for _, tok := range tokenize.Tokenize(s) {
			c.Add(tok)
		}
	}
	v := c.Vocab(2)
	fmt.Println(v.Decode([]int32{0, 1, 2, 3, 4, 5, 6, 7}))
	fmt.Println(v.EncodeText(nil, "A zebra runs."))
	// Output:
	// [<pad> <start> <end> <unk> . a dog runs]
	// [5 3 7 4]
}
