package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// KarpathyImage is one entry of a Karpathy split file (dataset_coco.json,
// dataset_flickr30k.json, dataset_flickr8k.json).
type KarpathyImage struct {
	Filepath  string             `json:"filepath"` // COCO: train2014 or val2014; empty for Flickr
	Filename  string             `json:"filename"`
	ImgID     int64              `json:"imgid"`
	Split     string             `json:"split"` // train, val, test, restval
	CocoID    int64              `json:"cocoid"`
	Sentences []KarpathySentence `json:"sentences"`
}

// KarpathySentence is one caption.
type KarpathySentence struct {
	Raw    string   `json:"raw"`
	Tokens []string `json:"tokens"`
	SentID int64    `json:"sentid"`
}

// ReadKarpathy streams the "images" array of a Karpathy split file and
// calls fn for each image, in file order, without loading the whole file
// (dataset_coco.json is large). A JSON syntax error or an image without a
// filename, split or sentences array is a [*FormatError] with the byte
// offset and the image's position; so is a byte that is not valid UTF-8
// (encoding/json would silently turn it into U+FFFD), anything after the
// top-level object, and a second "images" key (other readers keep the
// last one; this one streams the first). A read error names the file and
// wraps the cause.
func ReadKarpathy(r io.Reader, file string, fn func(KarpathyImage) error) error {
	u := newUTF8Reader(r, file)
	dec := json.NewDecoder(u)
	bad := func(format string, args ...any) error {
		if err := u.readErr(); err != nil {
			return err // not the file's fault
		}
		for _, a := range args {
			// invalid UTF-8, reported at its own offset by the reader
			if fe, ok := a.(*FormatError); ok {
				return fe
			}
		}
		return &FormatError{File: file, Offset: dec.InputOffset(), Msg: fmt.Sprintf(format, args...)}
	}
	tok, err := dec.Token()
	if err != nil {
		return bad("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad("want a JSON object at the top level")
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		key, _ := tok.(string)
		if key != "images" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad("value of %q: %v", key, err)
			}
			continue
		}
		if found {
			// encoding/json and Python's json keep the last of duplicate
			// keys; streaming, this reader has used the first already.
			return bad(`a second "images" key: which array holds the data set is ambiguous`)
		}
		found = true
		tok, err = dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return bad(`"images" is not an array`)
		}
		for i := 0; dec.More(); i++ {
			var im struct {
				KarpathyImage
				Sentences *[]KarpathySentence `json:"sentences"`
			}
			if err := dec.Decode(&im); err != nil {
				return bad("images[%d]: %v", i, err)
			}
			switch {
			case im.Filename == "":
				return bad("images[%d]: no filename", i)
			case im.Split == "":
				return bad("images[%d] (%s): no split", i, im.Filename)
			case im.Sentences == nil:
				return bad("images[%d] (%s): no sentences", i, im.Filename)
			}
			k := im.KarpathyImage
			k.Sentences = *im.Sentences
			if err := fn(k); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return bad("%v", err)
		}
	}
	if !found {
		return bad(`no "images" array`)
	}
	// The closing '}' and nothing after it: a file cut just after the
	// images array, or followed by something else, is not the whole file.
	if _, err := dec.Token(); err != nil {
		return bad("after the images: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return bad("after the top-level object: %v", err)
		}
		return bad("data after the top-level object: %v", tok)
	}
	return nil
}

// COCOCaptions is COCO's own captions_*.json: images and their captions.
type COCOCaptions struct {
	Images []struct {
		ID       int64  `json:"id"`
		FileName string `json:"file_name"`
		Width    int32  `json:"width"`
		Height   int32  `json:"height"`
	} `json:"images"`
	Annotations []struct {
		ID      int64  `json:"id"`
		ImageID int64  `json:"image_id"`
		Caption string `json:"caption"`
	} `json:"annotations"`
}

// ReadCOCOCaptions decodes a captions_*.json file (tens of MB, read whole).
// A syntax error, invalid UTF-8 or anything but white space after the
// top-level object is a [*FormatError] with the byte offset. A read error
// names the file and wraps the cause.
func ReadCOCOCaptions(r io.Reader, file string) (*COCOCaptions, error) {
	u := newUTF8Reader(r, file)
	dec := json.NewDecoder(u)
	bad := func(err error) error {
		if rerr := u.readErr(); rerr != nil {
			return rerr
		}
		var fe *FormatError
		if errors.As(err, &fe) {
			return fe // invalid UTF-8
		}
		return &FormatError{File: file, Offset: dec.InputOffset(), Msg: err.Error()}
	}
	var c COCOCaptions
	if err := dec.Decode(&c); err != nil {
		return nil, bad(err)
	}
	if c.Images == nil || c.Annotations == nil {
		return nil, bad(errors.New(`want "images" and "annotations" arrays`))
	}
	// Only white space may follow: two files concatenated, or a damaged
	// tail, are not one captions file.
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, bad(fmt.Errorf("after the top-level object: %w", err))
		}
		return nil, bad(fmt.Errorf("data after the top-level object: %v", tok))
	}
	return &c, nil
}
