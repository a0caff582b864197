package datasets

import (
	"fmt"
	"sort"
	"strings"
)

// Source is one downloadable file of a public data set.
type Source struct {
	Name    string   // catalog name, e.g. "flickr8k-images"
	URLs    []string // the source and its mirrors, in order
	File    string   // file name to store it under
	Size    int64    // exact size in bytes when known, else 0
	Approx  string   // human size when the exact one is not recorded ("13 GB"), else ""
	SHA256  string   // hex SHA-256 when known
	MD5     string   // hex MD5 when known (some publishers give only MD5)
	Archive bool     // a zip/tar to extract
	Doc     string   // what it holds
}

// Catalog lists the real public sources coderflow knows. Sizes and digests
// are recorded only where they have been published or measured; a missing
// one means "unknown", never a guess. The MD5 values were not measured here
// (no download was made for this catalog): they are the ones public loaders
// have checked for years, the COCO ones in Salesforce LAVIS's download
// scripts and COCO builders, the Flickr8k ones in the Flickr8k dataset of
// the R torchvision package (mlverse) and CMake download scripts. Approx
// sizes marked "reported" in the comments come from others' downloads, not
// from this project's.
var Catalog = []Source{
	{
		Name:    "coco2014-train-images",
		URLs:    []string{"http://images.cocodataset.org/zips/train2014.zip", "https://s3.amazonaws.com/images.cocodataset.org/zips/train2014.zip"},
		File:    "train2014.zip",
		Approx:  "13 GB",
		MD5:     "0da8c0bd3d6becc4dcb32757491aca88",
		Archive: true,
		Doc:     "COCO 2014 train images (82,783 JPEGs, train2014/)",
	},
	{
		Name:    "coco2014-val-images",
		URLs:    []string{"http://images.cocodataset.org/zips/val2014.zip", "https://s3.amazonaws.com/images.cocodataset.org/zips/val2014.zip"},
		File:    "val2014.zip",
		Approx:  "6.2 GB",
		MD5:     "a3d79f5ed8d289b7a7554ce06a5782b3",
		Archive: true,
		Doc:     "COCO 2014 val images (40,504 JPEGs, val2014/)",
	},
	{
		Name:    "coco2014-annotations",
		URLs:    []string{"http://images.cocodataset.org/annotations/annotations_trainval2014.zip", "https://s3.amazonaws.com/images.cocodataset.org/annotations/annotations_trainval2014.zip"},
		File:    "annotations_trainval2014.zip",
		Size:    252_872_794,
		MD5:     "0a379cfc70b0e71301e0f377548639bd",
		Archive: true,
		Doc:     "COCO 2014 annotations, including captions_train2014.json and captions_val2014.json",
	},
	{
		// The R torchvision package checks caption_datasets.zip from the
		// Stanford URL against MD5 4fa8c08369d22fe16e41dc124bd1adc2; it is
		// not recorded here because the mirror's copy was never compared.
		Name: "karpathy-splits",
		URLs: []string{"https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip",
			"https://huggingface.co/datasets/gpantaz/karpathy_split/resolve/main/caption_datasets.zip"},
		File:    "caption_datasets.zip",
		Archive: true,
		Doc:     "Karpathy split JSON files: dataset_coco.json, dataset_flickr30k.json, dataset_flickr8k.json",
	},
	{
		Name:    "flickr8k-images",
		URLs:    []string{"https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip"},
		File:    "Flickr8k_Dataset.zip",
		Approx:  "1.1 GB",
		MD5:     "f18a1e2920de5bd84dae7cf08ec78978",
		Archive: true,
		Doc:     "Flickr8k photos (8,091 JPEGs, Flicker8k_Dataset/); research use only",
	},
	{
		Name:    "flickr8k-text",
		URLs:    []string{"https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip"},
		File:    "Flickr8k_text.zip",
		Approx:  "2.3 MB",
		MD5:     "bf6c1abcb8e4a833b7f922104de18627",
		Archive: true,
		Doc:     "Flickr8k captions (Flickr8k.token.txt) and the train/dev/test image lists",
	},
	{
		// SCAN's data.zip (kuanghuei/SCAN README): first on
		// scanproject.blob.core.windows.net, then on
		// iudata.blob.core.windows.net. Both have been reported unreachable
		// (SCAN issues #40, #45, #53, #58); since 2023 SCAN's README points
		// to Kaggle (kaggle.com/datasets/kuanghueilee/scan-features), which
		// needs a Kaggle account and so cannot be a URL here: fetch it by
		// hand and read it with dataset.precomp source: dir:PATH. Size 34 GB
		// as reported in SCAN issues #5 and #53 (not measured here); the
		// .npy files unpack to about 45 GB (COCO's train_ims.npy alone is
		// 113,287 x 36 x 2048 float32 = 33.4 GB).
		Name:    "scan-precomp",
		URLs:    []string{"https://iudata.blob.core.windows.net/scan/data.zip", "https://scanproject.blob.core.windows.net/scan-data/data.zip"},
		File:    "scan-data.zip",
		Approx:  "34 GB",
		Archive: true,
		Doc:     "SCAN's precomputed bottom-up-attention features for COCO and Flickr30K ({split}_ims.npy, {split}_caps.txt, {split}_ids.txt); the Azure links have been reported dead, the files are on Kaggle (kuanghueilee/scan-features, account needed: download by hand, then source: dir:PATH)",
	},
	{
		// Same hosts and history as scan-precomp.
		Name:    "scan-vocab",
		URLs:    []string{"https://iudata.blob.core.windows.net/scan/vocab.zip", "https://scanproject.blob.core.windows.net/scan-data/vocab.zip"},
		File:    "scan-vocab.zip",
		Archive: true,
		Doc:     "SCAN's vocabularies for COCO and Flickr30K (coderflow builds its own with tokenize; kept for comparison)",
	},
	{
		// Reported size (others' HTTP HEAD): 497,963,447 bytes; not recorded
		// as Size because it was not measured here. 34,074,917 lines
		// (assertions), as ConceptNet 5.7 is widely counted.
		Name:   "conceptnet-5.7",
		URLs:   []string{"https://s3.amazonaws.com/conceptnet/downloads/2019/edges/conceptnet-assertions-5.7.0.csv.gz"},
		File:   "conceptnet-assertions-5.7.0.csv.gz",
		Approx: "0.5 GB",
		Doc:    "ConceptNet 5.7 assertions, gzipped tab-separated (uri, rel, start, end, json); 34,074,917 edges",
	},
}

// Lookup returns the catalog entry called name.
func Lookup(name string) (Source, error) {
	for _, s := range Catalog {
		if s.Name == name {
			return s, nil
		}
	}
	return Source{}, fmt.Errorf("no data set source %q in the catalog (known: %s)", name, strings.Join(CatalogNames(), ", "))
}

// CatalogNames returns the catalog's entry names, sorted.
func CatalogNames() []string {
	var n []string
	for _, s := range Catalog {
		n = append(n, s.Name)
	}
	sort.Strings(n)
	return n
}
