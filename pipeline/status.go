package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// State is the cache state of one stage of a workflow.
type State struct {
	Stage  string `json:"stage"`
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Status string `json:"status"`           // cached | stale | missing
	Reason string `json:"reason,omitempty"` // for stale: what changed
	// Resume counts the shards an interrupted earlier attempt with this
	// key finished: the next run continues from them.
	Resume    int           `json:"resume_shards,omitempty"`
	Dir       string        `json:"dir"` // where the artifact is (or will be)
	InputKeys []string      `json:"inputs"`
	External  []ExternalRef `json:"external,omitempty"`
	Manifest  *Manifest     `json:"-"`
}

// Status values.
const (
	StatusCached  = "cached"
	StatusStale   = "stale"
	StatusMissing = "missing"
)

// States computes the key and cache state of every stage, in topological
// order. It reads no artifact data: external files are digested through the
// stat cache and artifacts are checked by size and mtime.
func (w *Workflow) States(dg *Digester) ([]*State, error) {
	return w.StatesContext(context.Background(), dg)
}

// StatesContext is [Workflow.States] that stops with ctx's cause when ctx
// is done: the first digest of a large external directory can take minutes.
func (w *Workflow) StatesContext(ctx context.Context, dg *Digester) ([]*State, error) {
	prev := latestKeys(w)
	states := map[string]*State{}
	var out []*State
	for _, n := range w.Stages {
		ext, refs, err := externalDigests(ctx, n.Params, dg)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if err != nil {
			return nil, &SpecError{Pos: n.Pos, Stage: n.ID, Err: err}
		}
		var inKeys []string
		for _, in := range n.Inputs {
			inKeys = append(inKeys, states[in.ID].Key)
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
			if pk, ok := prev[n.ID]; ok && pk != key {
				st.Status = StatusStale
				st.Reason = staleReason(w, n, st, pk, states)
			}
		}
		if st.Status != StatusCached {
			st.Resume = len(committedShards(workDir(w.Workdir, n.Kind, key)))
			if st.Resume > 0 {
				note := fmt.Sprintf("interrupted earlier: the next run resumes from %d finished shards", st.Resume)
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
	names := n.Params.Names()
	for _, name := range names {
		d, _ := n.Params.Decl(name)
		if d.NoCache || d.Type == Path {
			continue
		}
		if !sameJSON(m.Params[name], cur[name]) {
			why = append(why, fmt.Sprintf("param %s: %s -> %s", name, jsonText(m.Params[name]), jsonText(cur[name])))
		}
	}
	for _, ref := range st.External {
		found := false
		for _, old := range m.External {
			if old.Param == ref.Param {
				found = true
				if old.Digest != ref.Digest {
					why = append(why, fmt.Sprintf("param %s: content of %s changed", ref.Param, ref.Source))
				}
			}
		}
		if !found {
			why = append(why, fmt.Sprintf("param %s: now points at %s", ref.Param, ref.Source))
		}
	}
	for i, in := range n.Inputs {
		if i < len(m.Inputs) && m.Inputs[i].Key != st.InputKeys[i] {
			r := "changed"
			if s := states[in.ID]; s != nil && s.Status != StatusCached {
				r = "is " + s.Status
			}
			why = append(why, fmt.Sprintf("input %s %s", in.ID, r))
		}
	}
	if len(m.Inputs) != len(n.Inputs) {
		why = append(why, "needs changed")
	}
	if len(why) == 0 {
		return "key changed since the last run"
	}
	return strings.Join(why, "; ")
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
	out := map[string]string{}
	want := map[string]bool{}
	for _, n := range w.Stages {
		want[n.ID] = true
	}
	found := 0
	eachRunNewestFirst(w.Workdir, w.Name, func(r *RunRecord) bool {
		for _, s := range r.Stages {
			if _, seen := out[s.Stage]; !seen && s.Key != "" && (s.Status == RunRan || s.Status == RunCached) {
				out[s.Stage] = s.Key
				if want[s.Stage] {
					found++
				}
			}
		}
		return found < len(want)
	})
	return out
}

// runsDir returns the run-record directory of a workflow.
func runsDir(workdir, name string) string { return filepath.Join(workdir, runsDirName, name) }

func sortedKeys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
