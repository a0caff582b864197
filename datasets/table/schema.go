package table

// Table names, as declared by stages with pipeline.Env.AddTable and looked up
// with pipeline.Env.Input.
const (
	Images            = "images"
	Captions          = "captions"
	Features          = "features"
	Tokens            = "tokens"
	Vocab             = "vocab"
	Concepts          = "concepts"
	ConceptEdges      = "concept_edges"
	CaptionConcepts   = "caption_concepts"
	ImageConcepts     = "image_concepts"
	ImageEmbeddings   = "image_embeddings"
	CaptionEmbeddings = "caption_embeddings"
)

// Split names.
const (
	SplitTrain   = "train"
	SplitDev     = "dev"
	SplitTest    = "test"
	SplitRestval = "restval"
	SplitTestAll = "testall"
)

// ImageRow is one row of the images table.
type ImageRow struct {
	ImageID int64  `parquet:"image_id"`
	Key     string `parquet:"key"`    // data set's own name for the image, e.g. "1000268201_693b08cb0e.jpg"
	Split   string `parquet:"split"`  // train, dev, test (COCO also restval, testall)
	Path    string `parquet:"path"`   // absolute, or relative to the artifact directory
	Width   int32  `parquet:"width"`  // size as displayed: EXIF orientation applied (dataset stages v3+)
	Height  int32  `parquet:"height"` // 0 when the source does not give it (SCAN .npy features)
}

// CaptionRow is one row of the captions table.
type CaptionRow struct {
	CaptionID int64  `parquet:"caption_id"`
	ImageID   int64  `parquet:"image_id"`
	Split     string `parquet:"split"`
	Ordinal   int32  `parquet:"ordinal"` // 0..4 within its image
	Text      string `parquet:"text"`
}

// FeatureRow is one row of the (sharded) features table: NRegions boxes of
// normalised x0,y0,x1,y1 and NRegions*Dim feature values, row-major.
type FeatureRow struct {
	ImageID  int64     `parquet:"image_id"`
	NRegions int32     `parquet:"n_regions"`
	Dim      int32     `parquet:"dim"`
	Boxes    []float32 `parquet:"boxes,list"`
	Feats    []float32 `parquet:"feats,list"`
}

// TokenRow is one row of the (sharded) tokens table.
type TokenRow struct {
	CaptionID int64   `parquet:"caption_id"`
	ImageID   int64   `parquet:"image_id"`
	Split     string  `parquet:"split"`
	IDs       []int32 `parquet:"ids,list"` // vocabulary ids, without <start>/<end>
	Length    int32   `parquet:"length"`
}

// VocabRow is one row of the vocab table.
type VocabRow struct {
	ID    int32  `parquet:"id"`
	Token string `parquet:"token"`
	Count int64  `parquet:"count"`
}

// ConceptRow is one row of the concepts table.
type ConceptRow struct {
	ConceptID int32  `parquet:"concept_id"`
	URI       string `parquet:"uri"` // /c/en/...
	Label     string `parquet:"label"`
	Freq      int64  `parquet:"freq"`
}

// ConceptEdgeRow is one row of the concept_edges table.
type ConceptEdgeRow struct {
	Src    int32   `parquet:"src"`
	Dst    int32   `parquet:"dst"`
	Rel    string  `parquet:"rel"`
	Weight float32 `parquet:"weight"`
}

// CaptionConceptRow is one row of the caption_concepts table.
type CaptionConceptRow struct {
	CaptionID  int64   `parquet:"caption_id"`
	ConceptIDs []int32 `parquet:"concept_ids,list"`
}

// ImageConceptRow is one row of the image_concepts table.
type ImageConceptRow struct {
	ImageID    int64   `parquet:"image_id"`
	ConceptIDs []int32 `parquet:"concept_ids,list"`
}

// EmbeddingRow is one row of the image_embeddings and caption_embeddings
// tables (the embeddings table of DESIGN.md, one per modality): ID is the
// image id or caption id; ImageID is the image the row belongs to (equal to
// ID for images), Ordinal the caption's position within its image (0 for
// images). Rows are ordered by (ImageID, Ordinal), so caption 5i+k belongs
// to image i as the evaluation protocol requires.
type EmbeddingRow struct {
	ID         int64     `parquet:"id"`
	ImageID    int64     `parquet:"image_id"`
	Ordinal    int32     `parquet:"ordinal"`
	Split      string    `parquet:"split"`
	Vec        []float32 `parquet:"vec,list"`
	ConceptVec []float32 `parquet:"concept_vec,list"`
}

// TrainCurve is the training-curve table written by train.coder.
const TrainCurve = "train_curve"

// CurveRow is one row of the train_curve table: one per finished epoch.
// Epoch is 1-based, Step the cumulative step count, losses are the epoch's
// means (0 for switched-off terms), Dev* the dev Recall@K after the epoch
// (0 when not evaluated), and Seconds the time the epoch took.
type CurveRow struct {
	Epoch       int32   `parquet:"epoch"`
	Step        int64   `parquet:"step"`
	LR          float64 `parquet:"lr"`
	Loss        float64 `parquet:"loss"`
	LossInst    float64 `parquet:"loss_inst"`
	LossConcept float64 `parquet:"loss_concept"`
	LossPred    float64 `parquet:"loss_pred"`
	LossSwap    float64 `parquet:"loss_swap"`
	DevR1I2T    float64 `parquet:"dev_r1_i2t"`
	DevR5I2T    float64 `parquet:"dev_r5_i2t"`
	DevR10I2T   float64 `parquet:"dev_r10_i2t"`
	DevR1T2I    float64 `parquet:"dev_r1_t2i"`
	DevR5T2I    float64 `parquet:"dev_r5_t2i"`
	DevR10T2I   float64 `parquet:"dev_r10_t2i"`
	DevRSum     float64 `parquet:"dev_rsum"`
	Seconds     float64 `parquet:"seconds"`
}
