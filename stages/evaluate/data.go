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

// dataSources returns the nearest artifacts at or upstream of emb
// (breadth first) that declare the images and the captions tables: the
// data set stage the evaluated test set comes from (nil when absent).
func dataSources(emb *pipeline.Artifact) (imgs, caps *pipeline.Artifact) {
	pipeline.WalkUpstream([]*pipeline.Artifact{emb}, func(a *pipeline.Artifact) bool {
		if _, ok := a.Table(table.Images); ok && imgs == nil {
			imgs = a
		}
		if _, ok := a.Table(table.Captions); ok && caps == nil {
			caps = a
		}
		return imgs == nil || caps == nil
	})
	return imgs, caps
}

// dataIdentity returns the identity of the test set ts: the nearest
// artifacts at or upstream of the embeddings with the images and the
// captions tables, and the digest of the ids. It is nil when neither table
// is upstream (the ids alone do not tell data sets apart).
func dataIdentity(ts *testSet) *eval.DataIdentity {
	imgs, caps := dataSources(ts.source)
	if imgs == nil && caps == nil {
		return nil
	}
	d := &eval.DataIdentity{}
	if imgs != nil {
		d.Images = refOf(imgs)
	}
	if caps != nil {
		d.Captions = refOf(caps)
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
