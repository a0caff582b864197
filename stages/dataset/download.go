package dataset

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"coderflow/datasets"
	"coderflow/datasets/download"
	"coderflow/datasets/extract"
	"coderflow/internal/atomicfile"
	"coderflow/pipeline"
)

func init() { pipeline.Default.MustRegister(DownloadSpec) }

// locationFile is written instead of files/ when the source is a dir:PATH
// used in place.
const locationFile = "location.json"

// DownloadSpec is the download stage kind. Its artifact holds the fetched
// files under files/ (archives extracted there when extract is true). It
// declares no table: the manifest already lists every file with its size
// and SHA-256, and readers take the files from files/ (see [DownloadFilesDir]).
// A dir:PATH source is not copied: the artifact holds location.json naming
// the directory, and readers read it in place.
var DownloadSpec = pipeline.Spec{
	Kind:    downloadKind,
	Version: "1",
	Doc: "Fetch files (catalog entries or a url; https, http, file://, dir:) with resume, retries, " +
		"mirrors and SHA-256/MD5 verification into files/, extracting zip/tar/tar.gz safely. " +
		"Readers (dataset.*) list this stage in needs and read files/.",
	Params: []pipeline.Param{
		{Name: "catalog", Type: pipeline.StringList, Default: []string{}, Doc: "catalog entries to fetch: " + strings.Join(datasets.CatalogNames(), ", ")},
		{Name: "url", Type: pipeline.Path, Optional: true, Located: true, Doc: "one source: https://, http://, file://PATH, a local path, or dir:PATH (used in place, nothing copied: the key then covers where it is)"},
		{Name: "mirrors", Type: pipeline.StringList, Default: []string{}, Doc: "more URLs for the url, tried in order"},
		{Name: "sha256", Type: pipeline.String, Optional: true, Doc: "expected SHA-256 (64 hex digits) of the url's file, or of the one catalog entry's (replacing the catalog's)"},
		{Name: "md5", Type: pipeline.String, Optional: true, Doc: "expected MD5 (32 hex digits) of the url's file, or of the one catalog entry's (replacing the catalog's); \"none\" also skips catalog MD5s"},
		{Name: "size", Type: pipeline.Int, Default: 0, Doc: "expected size in bytes of the url's file, or of the one catalog entry's; 0 = unknown (the catalog's, if any)", Min: pipeline.Bound(0)},
		{Name: "name", Type: pipeline.String, Optional: true, Doc: "file name under files/ for the url; default: the URL's base name"},
		{Name: "extract", Type: pipeline.Bool, Default: true, Doc: "unpack zip/tar/tar.gz files into files/"},
		{Name: "keep_archives", Type: pipeline.Bool, Default: false, Doc: "keep archives after extracting them"},
		{Name: "max_bytes", Type: pipeline.Int, Default: 0, Doc: "cap on bytes one archive may expand to; 0 = 256 GiB", Min: pipeline.Bound(0)},
		{Name: "max_ratio", Type: pipeline.Float, Default: 1000.0, Doc: "cap on expanded/archive size", Min: pipeline.Bound(1)},
		{Name: "retries", Type: pipeline.Int, Default: 5, NoCache: true, Doc: "attempts per mirror for transient failures (an attempt that took the partial file at least 8 KiB further starts a fresh count)", Min: pipeline.Bound(1)},
		{Name: "idle_timeout", Type: pipeline.Float, Default: 60.0, NoCache: true, Doc: "seconds without data before an attempt is abandoned", Min: pipeline.Bound(0.001)},
		{Name: "header_timeout", Type: pipeline.Float, Default: 60.0, NoCache: true, Doc: "seconds to connect and get response headers", Min: pipeline.Bound(0.001)},
		{Name: "backoff", Type: pipeline.Float, Default: 0.5, NoCache: true, Doc: "first retry delay in seconds (doubles, with jitter, up to 30s)", Min: pipeline.Bound(0)},
	},
	Validate: validateDownload,
	Stage:    pipeline.StageFunc(runDownload),
}

// validateDownload checks the cross-param rules of the download stage and
// reports every problem. The expectations sha256, md5 and size describe one
// file: the url's, or else the single catalog entry's. With several catalog
// entries and no url, or with a dir: url (nothing is fetched), they would
// be ignored, so they are refused; md5: none (skip catalog MD5s) applies to
// every file. mirrors and name apply to the url only, and are refused
// without one or with a dir: url. Digests are checked for form here so
// that a typo fails at plan time rather than after a full download.
func validateDownload(p pipeline.Params) error {
	var errs []error
	catalog, u := p.Strings("catalog"), p.Path("url")
	if len(catalog) == 0 && u == "" {
		errs = append(errs, fmt.Errorf("download: give catalog entries or a url"))
	}
	for _, n := range catalog {
		if _, err := datasets.Lookup(n); err != nil {
			errs = append(errs, pipeline.ParamError("catalog", err))
		}
	}
	dir := strings.HasPrefix(u, "dir:")
	if dir && len(catalog) > 0 {
		errs = append(errs, fmt.Errorf("download: a dir: url is used in place and cannot be combined with catalog entries"))
	}
	sha, md := p.String("sha256"), p.String("md5")
	if sha != "" && !isHex(sha, sha256.Size) {
		errs = append(errs, pipeline.ParamError("sha256", fmt.Errorf("%q is not a SHA-256 digest (64 hex digits)", sha)))
	}
	if md != "" && !isHex(md, md5.Size) && !strings.EqualFold(md, "none") {
		errs = append(errs, pipeline.ParamError("md5", fmt.Errorf("%q is not an MD5 digest (32 hex digits) or none", md)))
	}
	expect := []struct {
		name  string
		given bool
	}{
		{"sha256", sha != ""},
		{"md5", md != "" && !strings.EqualFold(md, "none")},
		{"size", p.Int("size") > 0},
	}
	for _, e := range expect {
		switch {
		case !e.given:
		case dir:
			errs = append(errs, pipeline.ParamError(e.name, errors.New("a dir: url is used in place, nothing is fetched to verify")))
		case u == "" && len(catalog) > 1:
			errs = append(errs, pipeline.ParamError(e.name, fmt.Errorf("applies to one file, but %d catalog entries are listed and no url: "+
				"use one download stage per entry to give each its own %s", len(catalog), e.name)))
		}
	}
	// mirrors and name describe the url: without one, or with a dir: url,
	// they would be ignored.
	for _, e := range []struct {
		name  string
		given bool
	}{
		{"mirrors", len(p.Strings("mirrors")) > 0},
		{"name", p.String("name") != ""},
	} {
		switch {
		case !e.given:
		case dir:
			errs = append(errs, pipeline.ParamError(e.name, errors.New("a dir: url is used in place, nothing is fetched")))
		case u == "":
			errs = append(errs, pipeline.ParamError(e.name, errors.New("applies to the url only, and no url is given")))
		}
	}
	return errors.Join(errs...)
}

// isHex reports whether s is n bytes written as 2n hex digits (either case).
func isHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// fetchItem is one file the stage fetches.
type fetchItem struct {
	name    string
	req     download.Request
	archive bool // extract if extract=true (also detected by content)
}

// downloadInfo is what the manifest records per fetched file.
type downloadInfo struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Attempts  int    `json:"attempts"`
	Resumed   bool   `json:"resumed"`
	Extracted int    `json:"extracted_files,omitempty"`
	Junk      int    `json:"skipped_macos_entries,omitempty"`
	Links     int    `json:"skipped_links,omitempty"`
}

func runDownload(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	if u := p.Path("url"); strings.HasPrefix(u, "dir:") {
		dir, _ := pipeline.IsLocalSource(u)
		if !datasets.IsDir(dir) {
			return fmt.Errorf("url %q: not a directory", u)
		}
		b, _ := json.Marshal(map[string]string{"dir": dir})
		if err := atomicfile.WriteFile(env.Path(locationFile), b, 0o644); err != nil {
			return err
		}
		env.SetInfo("location", dir)
		env.Summarize("using %s in place", dir)
		return nil
	}
	var items []fetchItem
	for _, n := range p.Strings("catalog") {
		s, err := datasets.Lookup(n)
		if err != nil {
			return err
		}
		items = append(items, fetchItem{name: s.File, archive: s.Archive,
			req: download.Request{URLs: s.URLs, SHA256: s.SHA256, MD5: s.MD5, Size: s.Size}})
	}
	if p.Path("url") == "" && len(items) == 1 {
		// The workflow's expectations describe the one catalog file (see
		// validateDownload) and take precedence over the catalog's: a
		// publisher may have replaced the file since the catalog was written.
		r := &items[0].req
		if v := p.String("sha256"); v != "" {
			r.SHA256 = v
		}
		if v := p.String("md5"); v != "" {
			r.MD5 = v // "none" is cleared below
		}
		if v := int64(p.Int("size")); v > 0 {
			r.Size = v
		}
	}
	if u := p.Path("url"); u != "" {
		if local, ok := pipeline.IsLocalSource(u); ok {
			u = "file://" + local
		}
		name := p.String("name")
		if name == "" {
			pu, err := url.Parse(u)
			if err != nil {
				return fmt.Errorf("url %q: %w", u, err)
			}
			name = path.Base(pu.Path)
		}
		if name == "" || name == "." || name == "/" || strings.ContainsAny(name, `/\`) || name == ".." {
			return fmt.Errorf("cannot derive a file name from %q: set the name param", u)
		}
		items = append(items, fetchItem{name: name, req: download.Request{URLs: append([]string{u}, p.Strings("mirrors")...),
			SHA256: p.String("sha256"), MD5: p.String("md5"), Size: int64(p.Int("size"))}})
	}
	// One name, one file under files/ and one shard: a second file of the
	// same name (a url whose base name is a catalog entry's file) would be
	// skipped as done, or overwrite the first.
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.name] {
			return fmt.Errorf("two files would be saved as files/%s (listed twice, or the url's name is a catalog entry's file): "+
				"list it once, or set the url's name param", it.name)
		}
		seen[it.name] = true
	}
	if m := p.String("md5"); strings.EqualFold(m, "none") {
		for i := range items {
			items[i].req.MD5 = ""
		}
	}
	opt := download.Options{
		Retries:       p.Int("retries"),
		IdleTimeout:   seconds(p.Float("idle_timeout")),
		HeaderTimeout: seconds(p.Float("header_timeout")),
		BackoffBase:   seconds(p.Float("backoff")),
		Log:           env.Log,
	}
	if p.Float("backoff") == 0 {
		opt.BackoffBase = time.Nanosecond
	}
	var infos []downloadInfo
	var total int64
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		shard := "fetch/" + it.name
		infoRel := ".downloads/" + it.name + ".json"
		if env.ShardDone(shard) {
			var di downloadInfo
			if b, err := os.ReadFile(env.Path(infoRel)); err == nil && json.Unmarshal(b, &di) == nil {
				infos = append(infos, di)
				total += di.Size
				continue
			}
		}
		dest := env.Path(DownloadFilesDir + "/" + it.name)
		prog := env.Progress("bytes "+it.name, it.req.Size)
		o := opt
		o.Progress = prog
		it.req.Dest = dest
		res, err := download.Fetch(ctx, it.req, o)
		prog.Done()
		if err != nil {
			return err
		}
		di := downloadInfo{Name: it.name, URL: res.URL, Size: res.Size, SHA256: res.SHA256, Attempts: res.Attempts, Resumed: res.Resumed}
		if p.Bool("extract") {
			format, err := extract.Format(dest)
			if err != nil {
				return err
			}
			if format == "zip" || format == "tar" || format == "tar.gz" {
				xp := env.Progress("extract "+it.name, 0)
				xr, err := extract.Archive(ctx, dest, env.Path(DownloadFilesDir), extract.Limits{
					MaxBytes: int64(p.Int("max_bytes")), MaxRatio: p.Float("max_ratio"), Progress: xp})
				xp.Done()
				if err != nil {
					if it.req.SHA256 == "" && it.req.MD5 == "" && corruptArchive(err) && ctx.Err() == nil {
						// Nothing verified these bytes and they do not
						// extract: a rerun must fetch them again rather
						// than keep the file because it "verifies".
						if rerr := os.Remove(dest); rerr == nil {
							err = fmt.Errorf("%w (the unverified download was deleted: a rerun fetches it again)", err)
						}
					}
					return err
				}
				// The extracted files are durable before the shard is
				// marked done: after a power loss a rerun would otherwise
				// skip the archive and keep empty or short files.
				if err := atomicfile.SyncTree(env.Path(DownloadFilesDir)); err != nil {
					return fmt.Errorf("sync %s: %w", DownloadFilesDir, err)
				}
				di.Extracted, di.Links, di.Junk = xr.Files, xr.SkippedLinks, xr.SkippedJunk
				env.Log.Info("extracted", "archive", it.name, "format", format, "files", xr.Files, "bytes", xr.Bytes)
				if !p.Bool("keep_archives") {
					if err := os.Remove(dest); err != nil {
						return err
					}
				}
			}
		}
		b, _ := json.Marshal(di)
		if err := atomicfile.WriteFile(env.Path(infoRel), b, 0o644); err != nil {
			return err
		}
		if err := env.CommitShard(shard, infoRel); err != nil {
			return err
		}
		infos = append(infos, di)
		total += di.Size
	}
	// The bookkeeping files are not data.
	os.RemoveAll(filepath.Join(env.Dir, ".downloads"))
	env.SetInfo("downloads", infos)
	env.Summarize("%d file(s), %s downloaded", len(infos), humanBytes(total))
	return nil
}

// corruptArchive reports whether an extraction error says the archive's
// bytes are damaged (truncated, bad checksum, not a valid zip/tar), as
// opposed to a deterministic refusal (unsafe path, bomb, unsupported entry).
func corruptArchive(err error) bool {
	var fe flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) ||
		errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, tar.ErrHeader) ||
		errors.As(err, &fe)
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
