package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// EngineSalt is hashed into every cache key. Change it only when the engine's
// artifact format changes incompatibly: every artifact becomes stale.
const EngineSalt = "coderflow-cache-v1"

// KeyInput is everything a cache key covers.
type KeyInput struct {
	Kind     string
	Version  string
	Params   Params
	Inputs   []string          // input artifact keys, declared order
	External map[string]string // Path param name -> digest of the local file or tree
}

// cacheParams returns the params that enter the key: NoCache params are
// dropped and local Path params are replaced by their content digest (and
// their absolute location, for Located params).
func cacheParams(p Params, external map[string]string) map[string]any {
	out := map[string]any{}
	for name, v := range p.values {
		d := p.decl[name]
		if d.NoCache {
			continue
		}
		if d.Type == Path {
			if dg, ok := external[name]; ok {
				s := "sha256:" + dg
				if local, isLocal := IsLocalSource(v.(string)); isLocal && d.Located && isDirValue(v.(string), local) {
					s += " at " + filepath.Clean(local)
				}
				v = s
			}
		}
		if d.Type == StringList && d.Set {
			if l, ok := v.([]string); ok {
				l = slices.Clone(l)
				slices.Sort(l)
				v = slices.Compact(l)
			}
		}
		out[name] = keyValue(v)
	}
	return out
}

// keyValue returns a param value as it enters the key's JSON. A string that
// is not valid UTF-8 (a --set value, a Latin-1 directory name in a Located
// param) becomes {"bytes_hex": ...}: encoding/json writes every invalid byte
// as U+FFFD, so values that differ only there ("caf\xe9", "caf\xe8") would
// share a key. No value of a param type marshals to an object, and valid
// strings are unchanged, so no existing key moves.
func keyValue(v any) any {
	raw := func(s string) any { return map[string]string{"bytes_hex": hex.EncodeToString([]byte(s))} }
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return raw(x)
		}
	case []string:
		if !slices.ContainsFunc(x, func(s string) bool { return !utf8.ValidString(s) }) {
			return v
		}
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
			if !utf8.ValidString(s) {
				l[i] = raw(s)
			}
		}
		return l
	}
	return v
}

// isDirValue reports whether a local Path value names a directory, which a
// stage reads in place (a file is copied or read whole, so where it was
// does not reach the output).
func isDirValue(v, local string) bool {
	if strings.HasPrefix(v, "dir:") {
		return true
	}
	st, err := os.Stat(local)
	return err == nil && st.IsDir()
}

// ComputeKey returns the hex sha256 cache key of one stage run.
func ComputeKey(in KeyInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", EngineSalt, in.Kind, in.Version)
	b, _ := json.Marshal(cacheParams(in.Params, in.External)) // map keys are sorted by encoding/json
	h.Write(b)
	h.Write([]byte{'\n'})
	for _, k := range in.Inputs {
		fmt.Fprintf(h, "input %s\n", k)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Digester computes content digests of external files and directories. It
// remembers (path, size, mtime, ctime) -> sha256 so that an unchanged file
// is never read twice, across runs when a cache file is given. The ctime
// (inode change time, Linux) is there because the mtime can be set back: a
// file replaced by one of the same size with a copied mtime (rsync -t,
// cp -p, tar x, touch -r) would otherwise keep the old digest, and the
// stage's old artifact would be taken for the new content.
//
// A digest is remembered only when the file's timestamp is safely older
// than the moment its content was read (see [racyWindow]), as git does for
// "racily clean" index entries: a file rewritten with the same size right
// after it was read, within the same timestamp tick, keeps the size, mtime
// and ctime that were remembered, and its old digest would be served for
// the new content. Such a file is read again at its next lookup, and its
// digest is remembered from the first read that is safely later than its
// timestamp.
type Digester struct {
	mu    sync.Mutex
	file  string // persisted stat cache, "" for memory only
	cache map[string]statEntry
	dirty bool
	now   func() time.Time // the clock the racy check reads (digestClock)
	// Reads counts files whose content was read (for tests and benchmarks).
	Reads int
}

type statEntry struct {
	Size   int64
	MTime  int64
	CTime  int64 // 0 where not known (not Linux)
	SHA256 string
}

// racyWindow is how much older than the moment a file's content is read
// its timestamp must be for the digest to be remembered: the ctime where it
// is known (Linux), else the mtime. A change after the read gets a
// timestamp that can be earlier than the read by at most the filesystem's
// granularity (truncation: 2 s on FAT, 1 s on ext3, HFS+ and ext4 with
// small inodes, ns on ext4, xfs, btrfs and tmpfs) plus the lag of the
// kernel's coarse clock, which stamps files, behind the fine clock that
// time.Now reads (one scheduler tick: 1-10 ms; about 3 ms measured on
// Linux 6.18, ext4, HZ=250). 3 s covers the coarsest common granularity
// with a second of margin for the tick and a small clock difference with a
// file server; a timestamp older than that cannot be repeated by a later
// change. The cost: a file changed in the 3 s before it is read is read
// once more at its next lookup (a data set written just before a run, at
// the check after its stage or at the next run). The ctime decides where
// it is known because every change of content or mtime moves it to the
// present: a file whose mtime was set back (touch -d, cp -p) is as racy as
// one just written, and one whose mtime lies in the future (a clock ahead
// where it was written) does not stay racy until that moment. Clocks that disagree by more
// than a second (a file server's) and attributes cached by an NFS client
// are outside what a stat cache can see.
const racyWindow = 3 * time.Second

// digestClock is the clock new digesters read for the racy check (tests
// move it).
var digestClock = time.Now

// racy reports whether a digest of a file with mtime and ctime (ns, ctime 0
// where unknown) whose content was read from the moment readAt on may go
// stale without its stat changing: its timestamp is not at least
// racyWindow older than readAt.
func racy(mtime, ctime int64, readAt time.Time) bool {
	ts := ctime
	if ts == 0 {
		ts = mtime
	}
	return ts > readAt.UnixNano()-int64(racyWindow)
}

// StatCachePath is where a workdir keeps its digester's stat cache.
func StatCachePath(workdir string) string { return filepath.Join(workdir, "statcache") }

// statCacheHeader is the first line of a stat cache file. The lines after
// it are "sha256<TAB>size<TAB>mtime-ns<TAB>ctime-ns<TAB>absolute path": a
// plain format that loads ten thousand entries in about a millisecond,
// where JSON took a third of a cached run's check. A file of an older
// format (version 1 had no ctime) is ignored: its files are read once more.
const statCacheHeader = "coderflow statcache 2\n"

// NewDigester returns a digester whose stat cache lives in file ("" for
// none). A missing, foreign or damaged cache file only costs rereads: lines
// that do not parse are ignored.
func NewDigester(file string) *Digester {
	d := &Digester{file: file, cache: map[string]statEntry{}, now: digestClock}
	if file != "" {
		if b, err := readStateFile(file); err == nil {
			d.cache = parseStatCache(b)
		}
	}
	return d
}

func parseStatCache(b []byte) map[string]statEntry {
	rest, ok := bytes.CutPrefix(b, []byte(statCacheHeader))
	if !ok {
		return map[string]statEntry{}
	}
	m := make(map[string]statEntry, bytes.Count(rest, []byte{'\n'}))
	for len(rest) > 0 {
		line, tail, complete := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		if !complete {
			// Save ends every line with a newline: this one was cut
			// short (a crash, a full disk), its path maybe a shorter one
			break
		}
		sum, line, ok1 := bytes.Cut(line, []byte{'\t'})
		size, line, ok2 := bytes.Cut(line, []byte{'\t'})
		mtime, line, ok3 := bytes.Cut(line, []byte{'\t'})
		ctime, path, ok4 := bytes.Cut(line, []byte{'\t'})
		if !ok1 || !ok2 || !ok3 || !ok4 || !isDigestHex(sum) || len(path) == 0 {
			continue
		}
		sz, err1 := strconv.ParseInt(string(size), 10, 64)
		mt, err2 := strconv.ParseInt(string(mtime), 10, 64)
		ct, err3 := strconv.ParseInt(string(ctime), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		m[string(path)] = statEntry{Size: sz, MTime: mt, CTime: ct, SHA256: string(sum)}
	}
	return m
}

// isDigestHex reports whether b is a sha256 as digests are written: 64
// lowercase hex digits. A damaged one would be served as a file's digest.
func isDigestHex(b []byte) bool {
	if len(b) != 2*sha256.Size {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Digest returns the digest of a file (sha256 of its bytes) or a directory
// (sha256 over the sorted relative paths, sizes and file digests; symlinks
// are followed as the stages would follow them).
func (d *Digester) Digest(path string) (string, error) {
	return d.digest(context.Background(), path)
}

// digest is Digest that stops with ctx's cause when ctx is done.
func (d *Digester) digest(ctx context.Context, path string) (string, error) {
	return d.digestExcept(ctx, path, treeOpts{})
}

// treeOpts select what the digest of a directory leaves out.
type treeOpts struct {
	// skip holds directories (cleaned absolute paths) left out.
	skip map[string]bool
	// skipSame holds the same directories as stat results: a directory
	// reached by another spelling (a symlink on either side: the data
	// directory or the workdir given through a link) is left out too.
	skipSame []fs.FileInfo
	// skipTrash leaves out the directories removeAll renames aside while it
	// deletes an artifact (*.trash-*): a directory of artifacts (a
	// [Param.SkipInputs] param) is read without them, and a run sweeps
	// them before it computes keys, so `status` must not count them either.
	skipTrash bool
	// ignoreMissing leaves out entries that do not exist when they are
	// looked at (a [Param.MissingIsEmpty] param): a dangling symlink, or an
	// artifact that gc deleted while `status` walked the tree (it takes no
	// lock). The stage reads them so too.
	ignoreMissing bool
}

// digestExcept is digest that leaves out what opt says when path is a
// directory.
func (d *Digester) digestExcept(ctx context.Context, path string, opt treeOpts) (string, error) {
	skip := opt.skip
	gone := func(err error) bool { return opt.ignoreMissing && errors.Is(err, fs.ErrNotExist) }
	if ctx.Err() != nil {
		return "", context.Cause(ctx)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file or a directory (%v)", path, st.Mode().Type())
		}
		return d.fileDigest(ctx, path, st)
	}
	type ent struct {
		rel, sum string
		size     int64
	}
	var ents []ent
	// walk follows symlinks to files and directories, as a stage opening
	// paths under the tree does; chain holds the directories being walked,
	// so a link back up the tree is not followed twice.
	var walk func(dir, rel string, chain []fs.FileInfo) error
	walk = func(dir, rel string, chain []fs.FileInfo) error {
		des, err := os.ReadDir(dir)
		if err != nil {
			if rel != "" && gone(err) {
				return nil // removed since it was listed
			}
			return err
		}
		for _, de := range des {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			p := filepath.Join(dir, de.Name())
			r := de.Name()
			if rel != "" {
				r = rel + "/" + r
			}
			fi, err := os.Stat(p)
			if err != nil {
				if gone(err) {
					continue
				}
				return err
			}
			if fi.IsDir() {
				if slices.ContainsFunc(chain, func(a fs.FileInfo) bool { return os.SameFile(a, fi) }) {
					continue // a symlink loop
				}
				if abs, _ := filepath.Abs(p); skip[abs] || slices.ContainsFunc(opt.skipSame, func(a fs.FileInfo) bool { return os.SameFile(a, fi) }) {
					continue
				}
				if opt.skipTrash && isTrash(de.Name()) {
					continue
				}
				if err := walk(p, r, append(chain, fi)); err != nil {
					return err
				}
				continue
			}
			if !fi.Mode().IsRegular() {
				continue // a FIFO, socket or device: no content to digest, and opening a FIFO blocks
			}
			sum, err := d.fileDigest(ctx, p, fi)
			if err != nil {
				if ctx.Err() == nil && gone(err) {
					continue
				}
				return err
			}
			ents = append(ents, ent{r, sum, fi.Size()})
		}
		return nil
	}
	if err := walk(path, "", []fs.FileInfo{st}); err != nil {
		return "", err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].rel < ents[j].rel })
	h := sha256.New()
	for _, e := range ents {
		io.WriteString(h, e.rel+"\x00"+strconv.FormatInt(e.size, 10)+"\x00"+e.sum+"\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (d *Digester) fileDigest(ctx context.Context, p string, st fs.FileInfo) (string, error) {
	abs, _ := filepath.Abs(p)
	d.mu.Lock()
	e, ok := d.cache[abs]
	d.mu.Unlock()
	ct := changeTime(st)
	if ok && e.Size == st.Size() && e.MTime == st.ModTime().UnixNano() && e.CTime == ct {
		return e.SHA256, nil
	}
	readAt := d.now() // before the read: a change from here on must show in the stat
	sum, _, err := hashFile(ctx, p, make([]byte, 256<<10))
	if err != nil {
		return "", err
	}
	mt := st.ModTime().UnixNano()
	d.mu.Lock()
	d.Reads++
	if racy(mt, ct, readAt) {
		// not remembered: the next lookup reads the file again
		if _, had := d.cache[abs]; had {
			delete(d.cache, abs)
			d.dirty = true
		}
	} else {
		d.cache[abs] = statEntry{Size: st.Size(), MTime: mt, CTime: ct, SHA256: sum}
		d.dirty = true
	}
	d.mu.Unlock()
	return sum, nil
}

// dropMissing removes the entries of files that no longer exist (one stat
// per entry: for gc, not for every run) and returns how many.
func (d *Digester) dropMissing() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for p := range d.cache {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			delete(d.cache, p)
			d.dirty = true
			n++
		}
	}
	return n
}

// Save persists the stat cache if it changed.
func (d *Digester) Save() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file == "" || !d.dirty {
		return nil
	}
	paths := make([]string, 0, len(d.cache))
	for p := range d.cache {
		if !strings.ContainsRune(p, '\n') { // such a path is digested again next time
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	b := []byte(statCacheHeader)
	for _, p := range paths {
		e := d.cache[p]
		b = append(b, e.SHA256...)
		b = append(b, '\t')
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, e.MTime, 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, e.CTime, 10)
		b = append(b, '\t')
		b = append(b, p...)
		b = append(b, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(d.file), 0o755); err != nil {
		return err
	}
	tmp := d.file + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	d.dirty = false
	return os.Rename(tmp, d.file)
}

// paramError is an error about the value of a stage's param Param, named
// as validation names it: "with.NAME: ...".
type paramError struct {
	Param string
	Err   error
}

func (e *paramError) Error() string { return "with." + e.Param + ": " + e.Err.Error() }
func (e *paramError) Unwrap() error { return e.Err }

// ParamError returns an error about the value of the stage's param name, for
// a Spec's Validate: the workflow check reports it at that param's value in
// the file (or its --set) as `stage "S": with.NAME: ...`. Several are
// joined with errors.Join.
func ParamError(name string, err error) error { return &paramError{Param: name, Err: err} }

// emptyTreeDigest is the digest of an empty directory (sha256 of nothing).
const emptyTreeDigest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// externalDigests digests every local Path param of p. inputDirs are the
// artifact directories of the stage's inputs, left out of the digest of
// SkipInputs params. workdir ("" for none) is left out of every directory
// that holds it (see [externalOpts]).
func externalDigests(ctx context.Context, p Params, dg *Digester, inputDirs []string, workdir string) (map[string]string, []ExternalRef, error) {
	ext := map[string]string{}
	var refs []ExternalRef
	for _, name := range p.Names() {
		d := p.decl[name]
		if d.Type != Path || d.NoCache {
			continue
		}
		v := p.values[name].(string)
		local, ok := IsLocalSource(v)
		if !ok {
			continue
		}
		opt := externalOpts(d, inputDirs, workdir)
		missing := false
		if d.MissingIsEmpty {
			_, serr := os.Stat(local)
			missing = errors.Is(serr, fs.ErrNotExist)
		}
		sum, err := emptyTreeDigest, error(nil) // a missing MissingIsEmpty directory reads as an empty one
		if !missing {
			sum, err = dg.digestExcept(ctx, local, opt)
		}
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		if err != nil {
			return nil, nil, &paramError{Param: name, Err: err}
		}
		ext[name] = sum
		refs = append(refs, ExternalRef{Param: name, Source: v, Digest: sum})
	}
	return ext, refs, nil
}

// externalOpts returns what the digest of the directory of Path param d
// leaves out: the input artifacts of a SkipInputs param, and the workdir
// wherever it lies inside the tree (a data directory holding the default
// workdir, `--set data.source=dir:.`): its lock, stat cache, run records,
// work directories and artifacts change with every run, so digesting them
// would change the stage's key on every run. Directories are matched by
// path and by identity (device and inode), so a tree that reaches the
// workdir through a symlink, or a workdir named through one, is no
// exception.
func externalOpts(d Param, inputDirs []string, workdir string) treeOpts {
	opt := treeOpts{skipTrash: d.SkipInputs, ignoreMissing: d.MissingIsEmpty, skip: map[string]bool{}}
	add := func(dir string) {
		abs, _ := filepath.Abs(dir)
		opt.skip[abs] = true
		if fi, err := os.Stat(abs); err == nil {
			opt.skipSame = append(opt.skipSame, fi)
		}
	}
	if d.SkipInputs {
		for _, dir := range inputDirs {
			add(dir)
		}
	}
	if workdir != "" {
		add(workdir)
	}
	return opt
}

// externalChanged digests again the local Path params whose digests (refs)
// entered the stage's key, after the stage has run, and returns an error
// naming the first whose content is not the one the key was computed from:
// a file edited after the keys were computed (while an upstream stage ran,
// or while this one read it) gave the stage other data than its key says,
// and its output must not be cached under that key (once the file is back
// to the old content, the stage would be found cached with an output of
// other data). Through the stat cache an unchanged file costs a stat.
// SkipInputs and MissingIsEmpty directories are not checked: artifacts of
// this very run may land in them (see [Param.SkipInputs]).
func externalChanged(ctx context.Context, p Params, dg *Digester, refs []ExternalRef, workdir string) error {
	for _, r := range refs {
		d, ok := p.decl[r.Param]
		if !ok || d.SkipInputs || d.MissingIsEmpty {
			continue
		}
		local, ok := IsLocalSource(r.Source)
		if !ok {
			continue
		}
		sum, err := dg.digestExcept(ctx, local, externalOpts(d, nil, workdir))
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err != nil || sum != r.Digest {
			why := "its content is not the one the cache key was computed from"
			if err != nil {
				why = err.Error()
			}
			return &paramError{Param: r.Param, Err: fmt.Errorf("%s changed while the workflow ran (%s); the output is not cached: run again", local, why)}
		}
	}
	return nil
}
