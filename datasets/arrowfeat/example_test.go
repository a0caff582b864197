package arrowfeat_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
)

// Mean-pool each image's region features, as the demo's training does.
func Example() {
	files := []string{"features/part-00000.parquet", "features/part-00001.parquet"}
	r, err := arrowfeat.NewReader(memory.DefaultAllocator, files, arrowfeat.Options{BatchRows: 128})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		rec, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		v, err := arrowfeat.NewView(rec)
		if err != nil {
			rec.Release()
			fmt.Println(err)
			return
		}
		for i := 0; i < v.Len(); i++ {
			n, dim := int(v.NRegions[i]), int(v.Dim[i])
			pooled := make([]float32, dim)
			feats := v.Feats(i) // n*dim values, region-major; valid until Release
			for r := 0; r < n; r++ {
				for j := range pooled {
					pooled[j] += feats[r*dim+j] / float32(n)
				}
			}
			_ = pooled // hand to the model with v.IDs[i]
		}
		rec.Release()
	}
}
