package eval_test

import (
	"context"
	"fmt"

	"coderflow/train/eval"
)

// Two images in 2-D, five captions each; image 1's captions are closer to
// image 0 except one.
func ExampleEvaluate() {
	in := eval.Inputs{N: 2, Dim: 2,
		Images: []float32{1, 0, 0, 1},
		Captions: []float32{
			1, 0, 1, 0, 1, 0, 1, 0, 1, 0, // image 0
			0.8, 0.6, 0.8, 0.6, 0.8, 0.6, 0.8, 0.6, 0, 1, // image 1
		}}
	res, err := eval.Evaluate(context.Background(), in, eval.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := res.Mean
	fmt.Printf("i2t R@1 %.0f R@5 %.0f | t2i R@1 %.0f | rsum %.0f\n", m.R1I2T, m.R5I2T, m.R1T2I, m.RSum)
	// Output: i2t R@1 100 R@5 100 | t2i R@1 60 | rsum 560
}
