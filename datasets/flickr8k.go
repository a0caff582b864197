package datasets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Flickr8k file names, as in Flickr8k_text.zip.
const (
	Flickr8kTokenFile = "Flickr8k.token.txt"
	Flickr8kTrainList = "Flickr_8k.trainImages.txt"
	Flickr8kDevList   = "Flickr_8k.devImages.txt"
	Flickr8kTestList  = "Flickr_8k.testImages.txt"
)

// Flickr8kImageDirs are the names the image directory goes by (the official
// zip says "Flicker8k_Dataset", with the typo).
var Flickr8kImageDirs = []string{"Flicker8k_Dataset", "Flickr8k_Dataset", "Images", "images"}

// maxLine bounds a text line; longer lines are malformed.
const maxLine = 1 << 20

// ReadFlickr8kTokens streams Flickr8k.token.txt lines of the form
// "NAME.jpg#K<TAB>caption" and calls fn for each. Blank lines and a
// leading byte order mark are ignored. A line without the tab, without
// "#K", with a non-numeric K, an empty caption or invalid UTF-8 is a
// [*FormatError] naming file (used in messages only) and the line.
func ReadFlickr8kTokens(r io.Reader, file string, fn func(line int, image string, k int, text string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := trimBOM(n, strings.TrimRight(sc.Text(), "\r"))
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := CheckUTF8(file, n, line); err != nil {
			return err
		}
		id, text, ok := strings.Cut(line, "\t")
		if !ok {
			return lineErr(file, n, "want NAME#K<TAB>caption, found no tab")
		}
		// the caption number follows the last '#' (a name may hold one)
		id = strings.TrimSpace(id)
		i := strings.LastIndexByte(id, '#')
		name, ks, ok := strings.TrimSpace(id[:max(i, 0)]), id[i+1:], i >= 0
		if !ok || name == "" {
			return lineErr(file, n, "want NAME#K before the tab, got %q", id)
		}
		k, err := strconv.Atoi(ks)
		if err != nil || k < 0 {
			return lineErr(file, n, "caption number %q after # is not a non-negative integer", ks)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return lineErr(file, n, "empty caption")
		}
		if err := fn(n, name, k, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return lineErr(file, n+1, "line longer than %d bytes", maxLine)
		}
		return fmt.Errorf("%s: reading line %d: %w", file, n+1, err)
	}
	return nil
}

// ReadImageList reads a list of image names, one per line (the
// Flickr_8k.*Images.txt files, SCAN's *_ids.txt). Blank lines are ignored;
// a line with a tab or inner space, or invalid UTF-8, is a [*FormatError].
func ReadImageList(r io.Reader, file string) ([]string, error) {
	var out []string
	err := ReadLines(r, file, func(line int, s string) error {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if strings.ContainsAny(s, " \t") {
			return lineErr(file, line, "want one image name per line, got %q", s)
		}
		if err := CheckUTF8(file, line, s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// ReadLines calls fn for every line of r (without the line ending), with
// its 1-based number. A UTF-8 byte order mark starting the first line is
// dropped. Lines longer than 1 MiB are a [*FormatError].
func ReadLines(r io.Reader, file string, fn func(line int, s string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(n, trimBOM(n, strings.TrimRight(sc.Text(), "\r"))); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return lineErr(file, n+1, "line longer than %d bytes", maxLine)
		}
		return fmt.Errorf("%s: reading line %d: %w", file, n+1, err)
	}
	return nil
}

// trimBOM drops a UTF-8 byte order mark (left by Windows editors) from the
// start of line 1, so it does not become part of an image name or caption.
func trimBOM(line int, s string) string {
	if line == 1 {
		return strings.TrimPrefix(s, "\ufeff")
	}
	return s
}
