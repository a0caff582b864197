package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/train/eval"
)

func refOf(a *pipeline.Artifact) *eval.ArtifactRef {
	return &eval.ArtifactRef{Stage: a.Stage, Kind: a.Kind(), Key: a.Key()}
}

// dataIdentity returns the identity of the test set ts: the nearest
// artifacts at or upstream of the embeddings with the images and the
// captions tables, and the digest of the ids. It is nil when neither table
// is upstream (the ids alone do not tell data sets apart).
func dataIdentity(ts *testSet) *eval.DataIdentity {
	d := &eval.DataIdentity{}
	pipeline.WalkUpstream([]*pipeline.Artifact{ts.source}, func(a *pipeline.Artifact) bool {
		if _, ok := a.Table(table.Images); ok && d.Images == nil {
			d.Images = refOf(a)
		}
		if _, ok := a.Table(table.Captions); ok && d.Captions == nil {
			d.Captions = refOf(a)
		}
		return d.Images == nil || d.Captions == nil
	})
	if d.Images == nil && d.Captions == nil {
		return nil
	}
	h := sha256.New()
	var line []byte
	for _, id := range ts.imageIDs {
		line = strconv.AppendInt(append(line[:0], "image "...), id, 10)
		h.Write(append(line, '\n'))
	}
	for _, id := range ts.captionIDs {
		line = strconv.AppendInt(append(line[:0], "caption "...), id, 10)
		h.Write(append(line, '\n'))
	}
	d.IDs = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return d
}
