package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"coderflow/pipeline"
)

// cfBin is the coderflow binary built by TestMain.
var cfBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reliability-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfBin = filepath.Join(dir, "coderflow")
	if b := os.Getenv("RELIABILITY_CODERFLOW"); b != "" {
		// A prebuilt binary, e.g. with extra stage kinds linked in.
		cfBin = b
		code := m.Run()
		refOnce.cleanup()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	goTool := "go"
	if _, err := exec.LookPath(goTool); err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", cfBin, "coderflow/cmd/coderflow")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "reliability: building coderflow:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	refOnce.cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is the outcome of one coderflow invocation.
type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) all() string { return r.stdout + r.stderr }

// cf runs coderflow with args in dir (the launch directory; "" = the
// test's) and returns its exit code and output. A crash by signal or a Go
// panic fails the test.
func cf(t testing.TB, ctx context.Context, dir string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, cfBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CODERFLOW_WORKDIR=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("coderflow %s: %v\n%s", strings.Join(args, " "), err, r.all())
	}
	noPanic(t, args, r.all())
	return r
}

// crashRE matches the output of a Go panic or runtime crash.
var crashRE = regexp.MustCompile(`(?m)^(panic: |fatal error: )|goroutine \d+ \[|\[signal SIG`)

// noPanic fails the test when output shows a Go panic or runtime crash.
func noPanic(t testing.TB, args []string, out string) {
	t.Helper()
	if m := crashRE.FindString(out); m != "" {
		t.Fatalf("coderflow %s crashed (%q in output):\n%s", strings.Join(args, " "), m, out)
	}
}

// mustRun runs coderflow and fails the test unless it exits 0.
func mustRun(t testing.TB, args ...string) result {
	t.Helper()
	r := cf(t, context.Background(), "", args...)
	if r.code != 0 {
		t.Fatalf("coderflow %s: exit %d\n%s", strings.Join(args, " "), r.code, r.all())
	}
	return r
}

// abs returns the absolute path of a file in the package directory.
func abs(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// artifactDigests maps stage id -> file path -> sha256 for every artifact
// in workdir's cache.
type artifactDigests map[string]map[string]string

// leftovers remembers the *.trash-* directories already logged.
var leftovers sync.Map

// verifyCache checks every artifact directory under <workdir>/cache: it
// must hold a manifest.json whose every listed file exists with the listed
// size and sha256 (the invariant "nothing looks complete unless it is").
// It returns the digests by kind/key.
func verifyCache(t testing.TB, workdir string) map[string]*pipeline.Manifest {
	t.Helper()
	out := map[string]*pipeline.Manifest{}
	kinds, err := os.ReadDir(filepath.Join(workdir, "cache"))
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if !k.IsDir() {
			t.Errorf("cache/%s: unexpected file in the cache root", k.Name())
			continue
		}
		keys, err := os.ReadDir(filepath.Join(workdir, "cache", k.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			rel := filepath.Join("cache", k.Name(), key.Name())
			dir := filepath.Join(workdir, rel)
			if strings.Contains(key.Name(), ".trash-") {
				// The engine renames an artifact it replaces to
				// KEY.trash-PID before deleting it; a kill during the
				// delete leaves it half-deleted under a name that is not
				// a key (so never a cache hit) until `coderflow gc`.
				if _, seen := leftovers.LoadOrStore(dir, true); !seen {
					t.Logf("%s: leftover of an interrupted replacement (not a key; removed by the next run or gc)", rel)
				}
				continue
			}
			if !key.IsDir() {
				t.Errorf("%s: a file where an artifact directory belongs", rel)
				continue
			}
			m, err := readManifest(dir)
			if err != nil {
				t.Errorf("%s: artifact without a valid manifest: %v", rel, err)
				continue
			}
			if m.Key != key.Name() || m.Kind != k.Name() {
				t.Errorf("%s: manifest says kind %s key %s", rel, m.Kind, m.Key)
			}
			for _, f := range m.Files {
				sum, size, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(f.Path)))
				if err != nil {
					t.Errorf("%s: listed file %s: %v", rel, f.Path, err)
					continue
				}
				if size != f.Size || sum != f.SHA256 {
					t.Errorf("%s: file %s is %d bytes sha256 %s, manifest says %d bytes %s", rel, f.Path, size, sum[:12], f.Size, f.SHA256)
				}
			}
			out[k.Name()+"/"+key.Name()] = m
		}
	}
	return out
}

func readManifest(dir string) (*pipeline.Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m pipeline.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	return &m, nil
}

func fileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// latestRecord reads the newest run record of workflow name in workdir.
func latestRecord(t testing.TB, workdir, name string) *pipeline.RunRecord {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(workdir, "runs", name, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no run record in %s/runs/%s: %v", workdir, name, err)
	}
	sort.Strings(files) // run ids start with a UTC timestamp
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	var r pipeline.RunRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", files[len(files)-1], err)
	}
	return &r
}

// states returns `coderflow status --json` of a workflow.
func states(t testing.TB, wf, workdir string, extra ...string) []pipeline.State {
	t.Helper()
	r := mustRun(t, append([]string{"status", wf, "--workdir", workdir, "--json"}, extra...)...)
	var st []pipeline.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

// reference is the uninterrupted run of testdata/kill.yaml, shared by the
// kill and concurrency tests.
type reference struct {
	once    sync.Once
	wf      string   // the workflow file
	stages  []string // stage ids in run-record (pipeline) order
	kinds   map[string]string
	dir     string
	err     string
	record  *pipeline.RunRecord
	digests artifactDigests
	keys    map[string]string
	seconds map[string]float64
}

var refOnce reference

func (r *reference) cleanup() {
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// killWorkflow returns the workflow the end-to-end reliability tests run:
// testdata/kill-kg.yaml (with the concept branch) when the binary registers
// kg.conceptnet and kg.link, else testdata/kill.yaml.
func killWorkflow(t testing.TB) string {
	kinds := registeredKinds(t)
	if kinds["kg.conceptnet"] && kinds["kg.link"] {
		return abs(t, "testdata/kill-kg.yaml")
	}
	t.Logf("kg.conceptnet/kg.link not registered in the binary: running testdata/kill.yaml with concept: false")
	return abs(t, "testdata/kill.yaml")
}

// registeredKinds lists the stage kinds the binary knows.
func registeredKinds(t testing.TB) map[string]bool {
	r := mustRun(t, "stages")
	kinds := map[string]bool{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == "(version" {
			kinds[f[0]] = true
		}
	}
	return kinds
}

// ref runs testdata/kill.yaml once uninterrupted into a fresh workdir and
// returns its run record, keys and digests.
func ref(t *testing.T) *reference {
	t.Helper()
	refOnce.once.Do(func() {
		// Set until the reference is complete, so a t.Fatal inside does
		// not leave later tests a half-filled reference.
		refOnce.err = "the reference run did not finish (see the first failing test)"
		dir, err := os.MkdirTemp("", "reliability-ref-")
		if err != nil {
			refOnce.err = err.Error()
			return
		}
		refOnce.dir = dir
		wd := filepath.Join(dir, "wd")
		refOnce.wf = killWorkflow(t)
		r := cf(t, context.Background(), "", "run", refOnce.wf, "--workdir", wd, "--no-progress")
		if r.code != 0 {
			refOnce.err = fmt.Sprintf("reference run: exit %d\n%s", r.code, r.all())
			return
		}
		refOnce.record = latestRecord(t, wd, "kill")
		refOnce.keys = map[string]string{}
		refOnce.seconds = map[string]float64{}
		refOnce.kinds = map[string]string{}
		for _, s := range refOnce.record.Stages {
			refOnce.stages = append(refOnce.stages, s.Stage)
			refOnce.kinds[s.Stage] = s.Kind
			refOnce.keys[s.Stage] = s.Key
			refOnce.seconds[s.Stage] = s.Seconds
		}
		refOnce.digests = digestsByStage(t, wd)
		refOnce.err = ""
	})
	if refOnce.err != "" {
		t.Fatal(refOnce.err)
	}
	return &refOnce
}

// digestsByStage verifies workdir's cache and returns the file digests of
// its artifacts by stage id.
func digestsByStage(t testing.TB, workdir string) artifactDigests {
	t.Helper()
	d := artifactDigests{}
	for _, m := range verifyCache(t, workdir) {
		files := map[string]string{}
		for _, f := range m.Files {
			files[f.Path] = f.SHA256
		}
		if _, dup := d[m.Stage]; dup {
			d[m.Stage+"@"+m.Key[:12]] = files
			continue
		}
		d[m.Stage] = files
	}
	return d
}
