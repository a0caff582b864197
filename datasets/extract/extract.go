// Package extract unpacks zip, tar and tar.gz archives safely.
//
// # Contract
//
//   - Confinement: every entry must land inside the target directory.
//     Absolute names, names with a ".." element, and names with a
//     backslash or a drive letter are rejected with [ErrUnsafePath]; so are
//     symlinks and hardlinks whose target resolves outside the directory.
//     Nothing is ever written through a symlink, nor onto the archive
//     itself (an archive extracted into its own directory that holds an
//     entry of its own name).
//   - Links inside the directory: the artifacts coderflow writes hold only
//     regular files, so a hardlink to an earlier entry is materialised as a
//     copy (a hardlink to itself leaves the file as it is), and a symlink (even a safe one) is skipped and counted in
//     [Result.SkippedLinks].
//   - Bombs: extraction stops with [ErrBomb] as soon as the bytes written
//     exceed Limits.MaxBytes, or Limits.MaxRatio times the archive size
//     (plus 1 MiB of slack), or the entry count (directories, links and
//     skipped entries included) exceeds Limits.MaxFiles. The byte count is of
//     bytes actually produced, so lying size headers do not help.
//   - Duplicate names: two different files of one name in a zip are
//     refused with [ErrDuplicate] before anything is written (an ambiguous
//     archive; an exact repeat, same size and CRC-32, is extracted once); in
//     a tar, where appending a newer version is how a file is updated, the
//     last one wins, as with tar itself. A zip with more than
//     Limits.MaxFiles entries is refused before anything is written
//     (archive/zip holds its whole central directory in memory: about
//     300 bytes per entry).
//   - macOS archive metadata (entries under __MACOSX/, as in the Flickr8k
//     zips) is skipped and counted in [Result.SkippedJunk].
//   - tar.gz: the gzip trailer (CRC-32, size) of the stream is verified
//     even though the tar end marker comes before it; a damaged or cut
//     archive is an error, never a silent partial extraction. A tar (plain
//     or in the gzip stream) must end with its end-of-archive zero blocks
//     (one is enough): a tar cut at an entry boundary is an error too,
//     also when the last entry's data ends in zero bytes.
//   - Formats are recognised by content (zip "PK", gzip 1f 8b, "ustar" at
//     offset 257), not by file name.
//   - Errors name the archive and the entry.
package extract

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Errors returned (wrapped) by [Archive].
var (
	// ErrUnsafePath is returned for an entry that would escape the target.
	ErrUnsafePath = errors.New("unsafe path in archive")
	// ErrBomb is returned when extraction exceeds the size, ratio or count caps.
	ErrBomb = errors.New("archive expands beyond the limits (decompression bomb?)")
	// ErrDuplicate is returned for a zip with two files of the same name.
	ErrDuplicate = errors.New("duplicate entry name in zip")
	// ErrFormat is returned for a file that is not a zip, tar or tar.gz.
	ErrFormat = errors.New("not a zip, tar or tar.gz archive")
)

// Limits cap what an archive may produce. Zero fields take the defaults.
type Limits struct {
	MaxBytes int64   // total bytes written; default 256 GiB
	MaxRatio float64 // written bytes / archive bytes; default 1000
	MaxFiles int     // entries; default 10 million

	// Progress, if set, is told of the bytes written as they are written
	// (not a limit: carried here to keep Archive's signature). For a zip,
	// a Progress that also has SetTotal(int64) gets the declared total.
	Progress Progress
}

// Progress receives byte counts; pipeline.Progress satisfies it.
type Progress interface{ Add(n int64) }

func (l *Limits) defaults() {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 256 << 30
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 1000
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10_000_000
	}
}

// Result describes an extraction.
type Result struct {
	Format       string // "zip", "tar" or "tar.gz"
	Files        int    // regular files written
	Bytes        int64  // bytes written
	SkippedLinks int    // symlinks inside the target, not created
	SkippedJunk  int    // macOS metadata entries (__MACOSX/...), not created
}

// Format returns "zip", "tar", "tar.gz", "gzip" (a gzip stream that is not
// a tar) or "" for the file at p.
func Format(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case n >= 4 && string(head[:2]) == "PK" && (head[2] == 3 || head[2] == 5) && (head[3] == 4 || head[3] == 6):
		return "zip", nil
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "gzip", nil
		}
		inner := make([]byte, 512)
		m, _ := io.ReadFull(zr, inner)
		if isTar(inner[:m]) {
			return "tar.gz", nil
		}
		return "gzip", nil
	case isTar(head):
		return "tar", nil
	}
	return "", nil
}

func isTar(h []byte) bool {
	return len(h) >= 262 && string(h[257:262]) == "ustar"
}

// Archive extracts the archive at src into dir (created if needed).
func Archive(ctx context.Context, src, dir string, lim Limits) (Result, error) {
	lim.defaults()
	format, err := Format(src)
	if err != nil {
		return Result{}, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return Result{}, err
	}
	x := &extractor{ctx: ctx, src: src, dir: dir, lim: lim, budget: lim.MaxBytes,
		res: Result{Format: format}, written: map[string]bool{}}
	x.srcInfo = st
	if r := int64(lim.MaxRatio*float64(st.Size())) + 1<<20; r < x.budget && r > 0 {
		x.budget = r
	}
	switch format {
	case "zip":
		err = x.zip()
	case "tar":
		var f *os.File
		if f, err = os.Open(src); err == nil {
			err = x.tar(bufio.NewReaderSize(f, 1<<20))
			f.Close()
		}
	case "tar.gz":
		var f *os.File
		if f, err = os.Open(src); err == nil {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bufio.NewReaderSize(f, 1<<20)); err == nil {
				err = x.tar(zr)
				if err == nil {
					err = x.gzipTrailer(zr)
				}
			}
			f.Close()
		}
	default:
		err = fmt.Errorf("extract %s: %w", src, ErrFormat)
	}
	return x.res, err
}

type extractor struct {
	ctx     context.Context
	src     string
	srcInfo os.FileInfo // the archive's, to never write onto it (a download's lies inside dir)
	dir     string
	lim     Limits
	budget  int64 // bytes still allowed
	res     Result
	entries int             // entries read, of every kind (directories too)
	written map[string]bool // cleaned relative names of regular files written
}

// target validates an entry name and returns its cleaned relative name and
// absolute path.
func (x *extractor) target(name string) (string, string, error) {
	bad := func(why string) error {
		return fmt.Errorf("extract %s: entry %q: %s: %w", x.src, name, why, ErrUnsafePath)
	}
	switch {
	case name == "":
		return "", "", bad("empty name")
	case strings.ContainsRune(name, '\\'):
		return "", "", bad("backslash in name")
	case strings.HasPrefix(name, "/"):
		return "", "", bad("absolute path")
	case len(name) >= 2 && name[1] == ':':
		return "", "", bad("drive letter")
	case strings.ContainsRune(name, 0):
		return "", "", bad("NUL in name")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", "", bad("'..' element")
		}
	}
	rel := path.Clean(name)
	if rel == "." {
		return ".", x.dir, nil
	}
	return rel, filepath.Join(x.dir, filepath.FromSlash(rel)), nil
}

// linkTarget resolves a link target relative to the link's directory (or
// the archive root for hardlinks) and checks it stays inside.
func (x *extractor) linkTarget(entry, rel, target string, hard bool) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("extract %s: link %q -> %q: %s: %w", x.src, entry, target, why, ErrUnsafePath)
	}
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, '\\') || (len(target) >= 2 && target[1] == ':') {
		return "", bad("absolute or malformed target")
	}
	var joined string
	if hard {
		joined = path.Clean(target)
	} else {
		joined = path.Join(path.Dir(rel), target)
	}
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return "", bad("points outside the target directory")
	}
	return joined, nil
}

// ensureDir creates the parent directories of abs, refusing to traverse an
// existing symlink (none are created by this package, but the target
// directory may be reused). It goes down from x.dir one component at a
// time and checks each with Lstat before creating the next, so nothing is
// created through a symlink (os.MkdirAll would follow one, and a check
// afterwards would come too late).
func (x *extractor) ensureDir(entry, abs string) error {
	rel, err := filepath.Rel(x.dir, filepath.Dir(abs))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("extract %s: entry %q: %s is outside the target directory: %w", x.src, entry, abs, ErrUnsafePath)
	}
	if rel == "." {
		return nil
	}
	p := x.dir
	for _, el := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, el)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("extract %s: entry %q: %w", x.src, entry, err)
			}
			if fi, err = os.Lstat(p); err != nil { // created, or raced into existence
				return fmt.Errorf("extract %s: entry %q: %w", x.src, entry, err)
			}
		} else if err != nil {
			return fmt.Errorf("extract %s: entry %q: %w", x.src, entry, err)
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("extract %s: entry %q: %s is a symlink: %w", x.src, entry, p, ErrUnsafePath)
		case !fi.IsDir():
			return fmt.Errorf("extract %s: entry %q: %s exists and is not a directory", x.src, entry, p)
		}
	}
	return nil
}

// countEntry counts one entry read from the archive, whatever its kind:
// directory entries count too, since a small archive can hold millions of
// them. It is called after the entry is read, so an archive of exactly
// MaxFiles entries passes.
func (x *extractor) countEntry() error {
	x.entries++
	if x.entries > x.lim.MaxFiles {
		return fmt.Errorf("extract %s: more than %d entries: %w", x.src, x.lim.MaxFiles, ErrBomb)
	}
	return x.ctx.Err()
}

// writeFile copies r into the entry's file, charging the byte budget.
func (x *extractor) writeFile(entry, rel, abs string, r io.Reader) error {
	if err := x.ensureDir(entry, abs); err != nil {
		return err
	}
	if fi, err := os.Lstat(abs); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("extract %s: entry %q: existing non-regular file: %w", x.src, entry, ErrUnsafePath)
		}
		if os.SameFile(fi, x.srcInfo) {
			// Truncating the archive while it is read: a zip reads
			// garbage, a small tar (already buffered) "succeeds" with the
			// archive replaced by the entry, which the caller then
			// deletes as the archive.
			return fmt.Errorf("extract %s: entry %q would overwrite the archive itself: %w", x.src, entry, ErrUnsafePath)
		}
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, 0o644)
	if err != nil {
		return fmt.Errorf("extract %s: entry %q: %w", x.src, entry, err)
	}
	// Read at most budget+1 bytes: one byte over proves the bomb.
	n, err := io.Copy(f, &ctxReader{ctx: x.ctx, r: io.LimitReader(r, x.budget+1), progress: x.lim.Progress})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extract %s: entry %q: %w", x.src, entry, err)
	}
	if n > x.budget {
		os.Remove(abs)
		return fmt.Errorf("extract %s: entry %q: output exceeds %d bytes (limit %d bytes, ratio %.0f): %w",
			x.src, entry, x.res.Bytes+n-1, x.lim.MaxBytes, x.lim.MaxRatio, ErrBomb)
	}
	x.budget -= n
	x.res.Bytes += n
	if !x.written[rel] { // a tar may hold newer versions of a file: the last wins
		x.res.Files++
	}
	x.written[rel] = true
	return nil
}

func (x *extractor) zip() error {
	zr, err := zip.OpenReader(x.src)
	if errors.Is(err, zip.ErrInsecurePath) {
		// GODEBUG=zipinsecurepath=0 (a future Go default) makes archive/zip
		// refuse names that are absolute or hold "..": the same refusal as
		// ours, and it must read as one.
		return fmt.Errorf("extract %s: %w: %w", x.src, err, ErrUnsafePath)
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", x.src, err)
	}
	defer zr.Close()
	// Checked before anything is written: the whole central directory is
	// in memory by now anyway (archive/zip reads it in OpenReader).
	if len(zr.File) > x.lim.MaxFiles {
		return fmt.Errorf("extract %s: %d entries, more than %d: %w", x.src, len(zr.File), x.lim.MaxFiles, ErrBomb)
	}
	dups, err := x.zipDuplicates(zr.File)
	if err != nil {
		return err
	}
	if p, ok := x.lim.Progress.(interface{ SetTotal(int64) }); ok {
		var total uint64
		for _, f := range zr.File {
			if !junk(f.Name) && f.Mode().IsRegular() && !dups[f] {
				total += f.UncompressedSize64
			}
		}
		p.SetTotal(int64(min(total, uint64(x.budget))))
	}
	for _, f := range zr.File {
		if err := x.countEntry(); err != nil {
			return err
		}
		rel, abs, err := x.target(f.Name)
		if err != nil {
			return err
		}
		if junk(rel) {
			x.res.SkippedJunk++
			continue
		}
		if dups[f] {
			continue // the same file again
		}
		mode := f.Mode()
		switch {
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := x.ensureDir(f.Name, filepath.Join(abs, "x")); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("extract %s: entry %q: %w", x.src, f.Name, err)
			}
			tgt, err := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if err != nil {
				return fmt.Errorf("extract %s: entry %q: %w", x.src, f.Name, err)
			}
			if _, err := x.linkTarget(f.Name, rel, string(tgt), false); err != nil {
				return err
			}
			x.res.SkippedLinks++
		case mode.IsRegular():
			if f.UncompressedSize64 > uint64(x.budget) {
				return fmt.Errorf("extract %s: entry %q declares %d bytes, over the remaining limit %d: %w",
					x.src, f.Name, f.UncompressedSize64, x.budget, ErrBomb)
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("extract %s: entry %q: %w", x.src, f.Name, err)
			}
			err = x.writeFile(f.Name, rel, abs, rc)
			rc.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("extract %s: entry %q: unsupported file mode %v", x.src, f.Name, mode)
		}
	}
	return nil
}

// zipDuplicates refuses a zip that holds two different files (or links)
// of the same name. A zip's central directory is an index, not a sequence
// of updates as a tar is: two entries of one name make an ambiguous
// archive (unzip asks which to keep, other tools keep the first or the
// last, so the data set would depend on the tool), never something a zip
// writer makes on its own. A repeat with the same mode, size and CRC-32
// as the first is the same file: it is returned in skip (extracted once).
// Directory entries may repeat.
func (x *extractor) zipDuplicates(files []*zip.File) (skip map[*zip.File]bool, err error) {
	first := make(map[string]*zip.File, len(files))
	for i, f := range files {
		if f.Mode().IsDir() || strings.HasSuffix(f.Name, "/") {
			continue
		}
		rel := path.Clean(f.Name)
		if junk(rel) {
			continue // never written
		}
		g, ok := first[rel]
		if !ok {
			first[rel] = f
			continue
		}
		if g.Mode() == f.Mode() && g.UncompressedSize64 == f.UncompressedSize64 && g.CRC32 == f.CRC32 {
			if skip == nil {
				skip = map[*zip.File]bool{}
			}
			skip[f] = true
			continue
		}
		return nil, fmt.Errorf("extract %s: entry %d, %q, is another file of the name of an earlier entry: %w", x.src, i+1, rel, ErrDuplicate)
	}
	return skip, nil
}

func (x *extractor) tar(r io.Reader) error {
	z := &zeroTail{r: r}
	tr := tar.NewReader(z)
	var cur *tar.Header // the entry last read
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if cur != nil {
			// Read what is left of the entry's data (all of it for a
			// skipped entry) before Next, and count trailing zeros
			// afresh: zeros ending the data are not the end-of-archive
			// blocks (an entry of zeros, then a cut, looked whole).
			// Next reads the padding and the next header.
			if _, err := io.Copy(io.Discard, &ctxReader{ctx: x.ctx, r: tr}); err != nil {
				return fmt.Errorf("extract %s: entry %q: %w", x.src, cur.Name, err)
			}
			z.zeros = 0
		}
		h, err := tr.Next()
		if err == io.EOF {
			// archive/tar reports a clean io.EOF also when the stream
			// ends right after an entry, without the end-of-archive
			// zero blocks: a tar cut at an entry boundary (a cut
			// download ends on one 1 time in 512) would extract
			// partially without a word. One zero block is accepted,
			// as archive/tar and GNU tar do.
			if z.zeros < 512 {
				return fmt.Errorf("extract %s: tar ends at byte %d without its end-of-archive blocks: the archive is cut short", x.src, z.n)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", x.src, err)
		}
		cur = h
		if err := x.countEntry(); err != nil {
			return err
		}
		rel, abs, err := x.target(h.Name)
		if err != nil {
			return err
		}
		if junk(rel) {
			x.res.SkippedJunk++
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := x.ensureDir(h.Name, filepath.Join(abs, "x")); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := x.writeFile(h.Name, rel, abs, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if _, err := x.linkTarget(h.Name, rel, h.Linkname, false); err != nil {
				return err
			}
			x.res.SkippedLinks++
		case tar.TypeLink:
			tgt, err := x.linkTarget(h.Name, rel, h.Linkname, true)
			if err != nil {
				return err
			}
			if !x.written[tgt] {
				return fmt.Errorf("extract %s: hardlink %q -> %q: target is not an earlier regular file: %w", x.src, h.Name, h.Linkname, ErrUnsafePath)
			}
			if tgt == rel {
				// A link to itself (GNU tar stores a file of several
				// links named twice so): the file is there already, and
				// copying it onto itself would truncate it.
				continue
			}
			src, err := os.Open(filepath.Join(x.dir, filepath.FromSlash(tgt)))
			if err != nil {
				return fmt.Errorf("extract %s: hardlink %q -> %q: %w", x.src, h.Name, h.Linkname, err)
			}
			err = x.writeFile(h.Name, rel, abs, src)
			src.Close()
			if err != nil {
				return err
			}
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			// metadata, handled by archive/tar
		default:
			return fmt.Errorf("extract %s: entry %q: unsupported tar type %q", x.src, h.Name, h.Typeflag)
		}
	}
}

// gzipTrailer reads the gzip member that holds the tar end marker to its
// end, so that its CRC-32 and size trailer are checked: the tar reader
// stops at the end marker, and a damaged or cut trailer would otherwise go
// unnoticed. Data after that member (padding) is ignored, as gzip does.
func (x *extractor) gzipTrailer(zr *gzip.Reader) error {
	zr.Multistream(false)
	// ErrHeader comes only after a member whose trailer verified, when
	// what follows is not another gzip member (zero padding).
	if _, err := io.Copy(io.Discard, &ctxReader{ctx: x.ctx, r: zr}); err != nil && !errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("extract %s: gzip stream after the tar end: %w", x.src, err)
	}
	return nil
}

// junk reports whether rel is macOS archive metadata.
func junk(rel string) bool { return rel == "__MACOSX" || strings.HasPrefix(rel, "__MACOSX/") }

// zeroTail reads r, counting the bytes read and the zero bytes that end
// them (the tar end-of-archive blocks, when the tar reader stops).
type zeroTail struct {
	r     io.Reader
	n     int64 // bytes read
	zeros int64 // trailing zero bytes of those
}

func (z *zeroTail) Read(b []byte) (int, error) {
	n, err := z.r.Read(b)
	z.n += int64(n)
	i := n - 1
	for i >= 0 && b[i] == 0 {
		i--
	}
	if i >= 0 {
		z.zeros = int64(n - 1 - i)
	} else {
		z.zeros += int64(n)
	}
	return n, err
}

type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	n        int
	progress Progress // optional
}

func (c *ctxReader) Read(b []byte) (int, error) {
	c.n++
	if c.n%64 == 0 {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
	}
	n, err := c.r.Read(b)
	if n > 0 && c.progress != nil {
		c.progress.Add(int64(n))
	}
	return n, err
}
