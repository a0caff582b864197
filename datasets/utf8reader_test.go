package datasets

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestKarpathyInvalidUTF8: a Karpathy or COCO captions JSON with a byte
// that is not UTF-8 (a Latin-1 file, say) is an error naming the byte's
// offset, as for the text readers, instead of captions where
// encoding/json silently put U+FFFD. Valid multi-byte text passes however
// the reads cut it.
func TestKarpathyInvalidUTF8(t *testing.T) {
	const head = `{"images": [{"filename": "a.jpg", "split": "train", "sentences": [{"raw": "`
	const tail = `"}]}]}`
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for _, tc := range []struct {
		name    string
		caption string
		wantOff int64 // -1: valid
	}{
		{"ascii", "a dog runs", -1},
		{"multi-byte", "un café — 犬 🐕 ok", -1},
		{"replacement char itself", "a \ufffd b", -1},
		{"latin-1 e acute", "caf\xe9 au lait", int64(len(head)) + 3},
		{"lone continuation byte", "a \x80 b", int64(len(head)) + 2},
		{"rune cut by the closing quote", "dog \xe7\x8a", int64(len(head)) + 4},
		{"overlong", "x\xc0\xafy", int64(len(head)) + 1},
	} {
		for rname, wrap := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				doc := head + tc.caption + tail
				var got []string
				err := ReadKarpathy(wrap(strings.NewReader(doc)), "k.json", func(im KarpathyImage) error {
					got = append(got, im.Sentences[0].Raw)
					return nil
				})
				if tc.wantOff < 0 {
					if err != nil || len(got) != 1 || got[0] != tc.caption {
						t.Fatalf("got %q, %v; want %q", got, err, tc.caption)
					}
					return
				}
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Offset != tc.wantOff || !strings.Contains(err.Error(), "UTF-8") {
					t.Fatalf("err = %v (captions %q), want a FormatError about UTF-8 at byte %d", err, got, tc.wantOff)
				}
				if len(got) != 0 {
					t.Fatalf("caption %q passed on", got)
				}
			})
		}
	}
	t.Run("file ends inside a rune", func(t *testing.T) {
		err := ReadKarpathy(strings.NewReader(`{"images": []}`+"\xe7\x8a"), "k.json", func(KarpathyImage) error { return nil })
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Offset != 14 {
			t.Fatalf("err = %v, want invalid UTF-8 at byte 14", err)
		}
	})
	t.Run("coco captions", func(t *testing.T) {
		doc := `{"images": [{"id": 1, "file_name": "x.jpg"}], "annotations": [{"id": 2, "image_id": 1, "caption": "caf` + "\xe9" + `"}]}`
		_, err := ReadCOCOCaptions(iotest.HalfReader(strings.NewReader(doc)), "c.json")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Offset != int64(strings.IndexByte(doc, 0xe9)) {
			t.Fatalf("err = %v, want invalid UTF-8 at byte %d", err, strings.IndexByte(doc, 0xe9))
		}
	})
}

// TestKarpathyWholeFile: the top-level object must be closed and be all
// there is: a file cut after the images array, or with more after it, is
// not silently taken as whole.
func TestKarpathyWholeFile(t *testing.T) {
	const images = `{"images": [{"filename": "a.jpg", "split": "train", "sentences": []}]`
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"whole", images + `, "dataset": "coco"}` + "\n", true},
		{"cut after the images", images, false},
		{"cut after the comma", images + `,`, false},
		{"second object", images + `} {"images": []}`, false},
		{"garbage", images + `} x`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ReadKarpathy(strings.NewReader(tc.doc), "k.json", func(KarpathyImage) error { return nil })
			var fe *FormatError
			if tc.ok != (err == nil) || (err != nil && !errors.As(err, &fe)) {
				t.Fatalf("err = %v, want ok %v (a FormatError otherwise)", err, tc.ok)
			}
		})
	}
}
