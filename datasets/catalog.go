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
// one means "unknown", never a guess. MD5 values are the ones the COCO and
// Flickr8k loaders of torchvision, LAVIS and others have checked for years.
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
		Name:    "scan-precomp",
		URLs:    []string{"https://scanproject.blob.core.windows.net/scan-data/data.zip"},
		File:    "scan-data.zip",
		Archive: true,
		Doc:     "SCAN's precomputed bottom-up-attention features for COCO and Flickr30K ({split}_ims.npy, {split}_caps.txt, {split}_ids.txt)",
	},
	{
		Name:    "scan-vocab",
		URLs:    []string{"https://scanproject.blob.core.windows.net/scan-data/vocab.zip"},
		File:    "scan-vocab.zip",
		Archive: true,
		Doc:     "SCAN's vocabularies for COCO and Flickr30K",
	},
	{
		Name: "conceptnet-5.7",
		URLs: []string{"https://s3.amazonaws.com/conceptnet/downloads/2019/edges/conceptnet-assertions-5.7.0.csv.gz"},
		File: "conceptnet-assertions-5.7.0.csv.gz",
		Doc:  "ConceptNet 5.7 assertions, gzipped tab-separated (uri, rel, start, end, json); 34,074,917 edges",
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
