package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// State is the cache state of one stage of a workflow. Its JSON form is
// what `coderflow status --json` prints, one object per stage:
//
//   - stage, kind, key, status, dir: always present.
//   - reason: for stale, what changed; for missing, that the artifact
//     the last run made under this key is gone; also notes shards an
//     interrupted earlier attempt finished.
//   - resume_shards: how many such shards there are (absent when none).
//   - inputs: the input artifact keys in `needs` order; [] (never null)
//     for a stage without inputs.
//   - external: the digests of local Path params (absent when none).
//   - not_needed: true for a stage a local source leaves out (see
//     [Workflow.Dropped] and [Workflow.WithDropped]); its status is
//     "not_needed" and its key and dir are "": it does not run, so it has
//     no key. Absent for every other stage.
type State struct {
	Stage  string `json:"stage"`
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Status string `json:"status"`           // cached | stale | missing (not_needed: see NotNeeded)
	Reason string `json:"reason,omitempty"` // for stale: what changed; for missing: an artifact deleted since the last run
	// Resume counts the shards an interrupted earlier attempt with this
	// key finished: the next run continues from them.
	Resume    int           `json:"resume_shards,omitempty"`
	Dir       string        `json:"dir"` // where the artifact is (or will be)
	InputKeys []string      `json:"inputs"`
	External  []ExternalRef `json:"external,omitempty"`
	// NotNeeded marks a stage left out because every stage that needs it
	// reads a local source instead; only [Workflow.WithDropped] makes such
	// States.
	NotNeeded bool      `json:"not_needed,omitempty"`
	Manifest  *Manifest `json:"-"`
}

// MarshalJSON writes inputs as [] rather than null for a stage without
// inputs.
func (s State) MarshalJSON() ([]byte, error) {
	type plain State // without this method
	p := plain(s)
	if p.InputKeys == nil {
		p.InputKeys = []string{}
	}
	return json.Marshal(p)
}

// Status values.
const (
	StatusCached  = "cached"
	StatusStale   = "stale"
	StatusMissing = "missing"
	// StatusNotNeeded is the status of a State with NotNeeded set.
	StatusNotNeeded = "not_needed"
)

// WithDropped returns states (as [Workflow.States] returns them) followed
// by a State with NotNeeded set for each stage of w.Dropped (in their
// topological order): every stage of the workflow file, as `status --json`
// lists them. states itself is not modified.
func (w *Workflow) WithDropped(states []*State) []*State {
	out := slices.Clip(states)
	for _, id := range w.Dropped {
		out = append(out, &State{Stage: id, Kind: w.droppedKind[id], Status: StatusNotNeeded, InputKeys: []string{}, NotNeeded: true})
	}
	return out
}

// States computes the key and cache state of every stage, in topological
// order. It reads no artifact data: external files are digested through the
// stat cache and artifacts are checked by size and mtime.
func (w *Workflow) States(dg *Digester) ([]*State, error) {
	return w.StatesContext(context.Background(), dg)
}

// StatesContext is [Workflow.States] that stops with ctx's cause when ctx
// is done: the first digest of a large external directory can take minutes.
func (w *Workflow) StatesContext(ctx context.Context, dg *Digester) ([]*State, error) {
	prev, prevKind := latestKeysKinds(w)
	states := map[string]*State{}
	var out []*State
	for _, n := range w.Stages {
		var inKeys, inDirs []string
		for _, in := range n.Inputs {
			inKeys = append(inKeys, states[in.ID].Key)
			inDirs = append(inDirs, states[in.ID].Dir)
		}
		ext, refs, err := externalDigests(ctx, n.Params, dg, inDirs, w.Workdir)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if err != nil {
			if pe := (*paramError)(nil); errors.As(err, &pe) {
				return nil, &SpecError{Pos: n.paramPos(pe.Param), Stage: n.ID, Field: "with." + pe.Param, Err: pe.Err}
			}
			return nil, &SpecError{Pos: n.Pos, Stage: n.ID, Err: err}
		}
		key := ComputeKey(KeyInput{Kind: n.Kind, Version: n.Spec.Version, Params: n.Params, Inputs: inKeys, External: ext})
		st := &State{Stage: n.ID, Kind: n.Kind, Key: key, InputKeys: inKeys, External: refs, Dir: ArtifactDir(w.Workdir, n.Kind, key)}
		m, verr := verifyArtifact(ctx, st.Dir, key, dg)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		switch {
		case verr == nil:
			st.Status, st.Manifest = StatusCached, m
		case verr != errNotCached:
			st.Status, st.Reason = StatusStale, verr.Error()
		default:
			st.Status = StatusMissing
			switch pk, ok := prev[n.ID]; {
			case ok && prevKind[n.ID] != "" && prevKind[n.ID] != n.Kind:
				// the last run's artifact is under the old kind
				st.Status = StatusStale
				st.Reason = fmt.Sprintf("uses: %s -> %s", prevKind[n.ID], n.Kind)
			case ok && pk != key:
				st.Status = StatusStale
				st.Reason = staleReason(w, n, st, pk, states)
			case ok:
				// the last run made or found this very artifact
				st.Reason = "the last run's artifact of this key is gone (deleted since)"
			}
		}
		if st.Status != StatusCached {
			wd := workDir(w.Workdir, n.Kind, key)
			st.Resume = len(committedShards(wd))
			note := ""
			if _, err := os.Stat(filepath.Join(wd, ManifestName)); err == nil {
				// sealed, then killed before the move into the cache (the
				// run verifies it and moves it rather than rerun)
				note = "finished earlier but not moved into the cache: the next run checks it and moves it in"
			} else if st.Resume > 0 {
				note = "interrupted earlier: the next run resumes from " + plural(st.Resume, "finished shard")
			}
			if note != "" {
				if st.Reason != "" {
					note = st.Reason + "; " + note
				}
				st.Reason = note
			}
		}
		states[n.ID] = st
		out = append(out, st)
	}
	return out, nil
}

// staleReason explains why a stage's key differs from the one it had in the
// latest run, by comparing with that run's manifest.
func staleReason(w *Workflow, n *Node, st *State, prevKey string, states map[string]*State) string {
	m, err := ReadManifest(ArtifactDir(w.Workdir, n.Kind, prevKey))
	if err != nil {
		return "key changed since the last run (its artifact is gone, so the cause is unknown)"
	}
	var why []string
	if m.Version != n.Spec.Version {
		why = append(why, fmt.Sprintf("stage version %s -> %s", m.Version, n.Spec.Version))
	}
	cur := n.Params.Map()
	for _, name := range n.Params.Names() {
		d, _ := n.Params.Decl(name)
		if d.NoCache {
			continue
		}
		if d.Type == Path {
			if r := pathParamReason(name, m.Params[name], cur[name], externalRef(m.External, name), externalRef(st.External, name)); r != "" {
				why = append(why, r)
			}
			continue
		}
		oldV, newV := m.Params[name], cur[name]
		if d.Type == StringList && d.Set {
			// keyed as a set: another order or a repeat is no change
			oldV, newV = asSet(oldV), asSet(newV)
		}
		if !sameJSON(oldV, newV) {
			why = append(why, fmt.Sprintf("param %s: %s -> %s", name, jsonText(m.Params[name]), jsonText(cur[name])))
		}
	}
	// inputs by stage id: the key covers them in declared order
	var oldIDs, newIDs []string
	oldKey := map[string]string{}
	for _, in := range m.Inputs {
		oldIDs = append(oldIDs, in.Stage)
		oldKey[in.Stage] = in.Key
	}
	// A stage whose params say it reads a local source ([Spec.InputsUnused])
	// keeps its needs but reads (and keys) no input: its needs did not
	// change, what it reads did.
	oldUnused := false
	if len(m.Inputs) == 0 && n.Spec.InputsUnused != nil {
		if op, err := NewParams(n.Spec.Params, m.Params); err == nil {
			oldUnused = n.Spec.InputsUnused(op)
		}
	}
	for i, in := range n.Inputs {
		newIDs = append(newIDs, in.ID)
		k, ok := oldKey[in.ID]
		switch {
		case !ok && oldUnused:
			why = append(why, fmt.Sprintf("input %s read again (the last run read a local source instead)", in.ID))
		case !ok:
			why = append(why, fmt.Sprintf("input %s added to needs", in.ID))
		case k != st.InputKeys[i]:
			r := "changed"
			if s := states[in.ID]; s != nil && s.Status != StatusCached {
				r = "is " + s.Status
			}
			why = append(why, fmt.Sprintf("input %s %s", in.ID, r))
		}
	}
	for _, id := range oldIDs {
		switch {
		case slices.Contains(newIDs, id):
		case slices.Contains(n.Needs, id):
			why = append(why, fmt.Sprintf("input %s not read with these params (a local source instead)", id))
		default:
			why = append(why, fmt.Sprintf("input %s removed from needs", id))
		}
	}
	if len(oldIDs) == len(newIDs) && !slices.Equal(oldIDs, newIDs) && len(why) == 0 {
		why = append(why, fmt.Sprintf("needs order %v -> %v (inputs enter the key in declared order)", oldIDs, newIDs))
	}
	if len(why) == 0 {
		return "key changed since the last run"
	}
	return strings.Join(why, "; ")
}

// asSet returns a list value (a []string, or the []any of a decoded
// manifest) as the sorted, deduplicated strings a Set param is keyed by;
// anything else as it is.
func asSet(v any) any {
	l := []string{} // empty lists are null in a manifest, and nil in Params
	switch x := v.(type) {
	case nil:
	case []string:
		l = append(l, x...)
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return v
			}
			l = append(l, s)
		}
	default:
		return v
	}
	slices.Sort(l)
	return slices.Compact(l)
}

// externalRef returns the digest record of param name, or nil.
func externalRef(refs []ExternalRef, name string) *ExternalRef {
	for i := range refs {
		if refs[i].Param == name {
			return &refs[i]
		}
	}
	return nil
}

// pathParamReason explains how a Path param differs from the last run: its
// value (as resolved: a moved or renamed source shows as a new value, and
// whether its content is the same), or, for the same value, its content.
func pathParamReason(name string, oldV, newV any, oldRef, newRef *ExternalRef) string {
	if !sameJSON(oldV, newV) {
		r := fmt.Sprintf("param %s: %s -> %s", name, jsonText(oldV), jsonText(newV))
		if oldRef != nil && newRef != nil {
			if oldRef.Digest == newRef.Digest {
				r += " (same content)"
			} else {
				r += " (other content)"
			}
		}
		return r
	}
	if oldRef != nil && newRef != nil && oldRef.Digest != newRef.Digest {
		return fmt.Sprintf("param %s: content of %s changed", name, newRef.Source)
	}
	return ""
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// latestKeys returns stage -> key of the most recent run record of w that
// ran or found each stage. It reads records newest first and stops once
// every stage of w has a key, so a long run history costs nothing (usually
// one record is read).
func latestKeys(w *Workflow) map[string]string {
	keys, _ := latestKeysKinds(w)
	return keys
}

// latestKeysKinds is [latestKeys] that also returns stage -> the kind the
// stage had in that run (its `uses:` may have changed since).
func latestKeysKinds(w *Workflow) (map[string]string, map[string]string) {
	out, kinds := map[string]string{}, map[string]string{}
	want := map[string]bool{}
	for _, n := range w.Stages {
		want[n.ID] = true
	}
	found := 0
	eachRunNewestFirst(w.Workdir, w.Name, func(r *RunRecord) bool {
		for _, s := range r.Stages {
			// a key is a path component of the artifact staleReason reads:
			// a damaged record's "../x" must not lead it out of the cache
			if _, seen := out[s.Stage]; !seen && isDigestHex([]byte(s.Key)) && (s.Status == RunRan || s.Status == RunCached) {
				out[s.Stage], kinds[s.Stage] = s.Key, s.Kind
				if want[s.Stage] {
					found++
				}
			}
		}
		return found < len(want)
	})
	return out, kinds
}

// runsDir returns the run-record directory of a workflow.
func runsDir(workdir, name string) string { return filepath.Join(workdir, runsDirName, name) }

// plural returns "1 NOUN" or "N NOUNs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
