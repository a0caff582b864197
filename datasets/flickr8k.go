package datasets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
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
// "#K", with a non-numeric K, an empty caption, invalid UTF-8 or a control
// character in the name or caption (a second tab; a carriage return, as
// old Mac line ends leave, which would make one caption of many lines) is
// a [*FormatError] naming file (used in messages only), line and column.
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
		rawID, rawText, ok := strings.Cut(line, "\t")
		if !ok {
			return lineErr(file, n, "want NAME#K<TAB>caption, found no tab")
		}
		id, text := strings.TrimSpace(rawID), strings.TrimSpace(rawText)
		if err := checkControl(file, n, id, leadingSpace(rawID)); err != nil {
			return err
		}
		if err := checkControl(file, n, text, len(rawID)+1+leadingSpace(rawText)); err != nil {
			return err
		}
		// the caption number follows the last '#' (a name may hold one)
		i := strings.LastIndexByte(id, '#')
		name, ks, ok := strings.TrimSpace(id[:max(i, 0)]), id[i+1:], i >= 0
		if !ok || name == "" {
			return lineErr(file, n, "want NAME#K before the tab, got %q", id)
		}
		k, err := strconv.Atoi(ks)
		if err != nil || k < 0 {
			return lineErr(file, n, "caption number %q after # is not a non-negative integer", ks)
		}
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
		if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
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
// dropped. Lines longer than 1 MiB, and a carriage return inside a line
// (old Mac line ends: the file would read as one line), are a
// [*FormatError].
func ReadLines(r io.Reader, file string, fn func(line int, s string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		s := trimBOM(n, strings.TrimRight(sc.Text(), "\r"))
		if i := strings.IndexByte(s, '\r'); i >= 0 {
			return lineErr(file, n, "carriage return at column %d inside the line (old Mac line ends? convert them to \\n)", i+1)
		}
		if err := fn(n, s); err != nil {
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

// checkControl returns a [*FormatError] for the first control character
// of s, a part of line that starts at byte col0 of the line (0-based).
func checkControl(file string, line int, s string, col0 int) error {
	for i, r := range s {
		if !unicode.IsControl(r) {
			continue
		}
		hint := ""
		switch r {
		case '\r':
			hint = " (old Mac line ends? convert them to \\n)"
		case '\t':
			hint = " (a second tab)"
		}
		return lineErr(file, line, "control character %U at column %d%s", r, col0+i+1, hint)
	}
	return nil
}

// leadingSpace is the number of bytes of white space starting s.
func leadingSpace(s string) int {
	return len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
}
