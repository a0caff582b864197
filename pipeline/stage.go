package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Stage is one unit of work in a workflow. Run reads its params and inputs
// from env, writes its output files under env.Dir, and declares the tables it
// wrote with [Env.AddTable]. Run must honour ctx cancellation and must not
// write outside env.Dir.
type Stage interface {
	Run(ctx context.Context, env *Env) error
}

// StageFunc adapts a function to [Stage].
type StageFunc func(ctx context.Context, env *Env) error

// Run calls f(ctx, env).
func (f StageFunc) Run(ctx context.Context, env *Env) error { return f(ctx, env) }

// Spec declares a stage kind: its registry name, version, docs, params and
// the tables it produces.
type Spec struct {
	// Kind is the name used in `uses:`, e.g. "features.regions".
	Kind string
	// Version is part of the cache key: bump it by hand whenever the stage's
	// output changes for the same params and inputs.
	Version string
	// Doc is a paragraph shown by `coderflow stages`.
	Doc string
	// Params are the accepted `with:` keys.
	Params []Param
	// Produces names the tables the stage writes (documentation and the
	// `needs` check: a stage's table lookups are resolved through its inputs).
	Produces []string
	// Validate, if set, checks cross-param constraints after types are
	// checked; it runs at plan time, before anything executes. Wrap an
	// error about one param in [ParamError] (several joined with
	// errors.Join) to have it reported at that param's value.
	Validate func(Params) error
	// InputsUnused, if set, reports whether with these params the stage
	// reads nothing from its `needs` (a reader given a local `source`
	// instead of its upstream download stage). The engine then leaves those
	// inputs out of the stage's key and drops upstream stages that nothing
	// else needs, so an offline `--set data.source=dir:PATH` never downloads.
	InputsUnused func(Params) bool
	// GCPercent, if > 0, is the garbage collector's target (as in GOGC)
	// while the stage runs, for stages that stream large buffers through a
	// bounded working set (see Env.SetMemoryBudget for the other half):
	// with the default 100 the heap may grow to twice the live data before
	// a collection, and how close a run comes to that depends on how long
	// it runs, so peak memory would creep up with the data set. With
	// several stages running, the lowest target applies; a GOGC set by the
	// user takes precedence.
	GCPercent int
	// Stage does the work.
	Stage Stage
}

// Registry maps stage kinds to specs. The zero value is not usable; use
// [NewRegistry]. Stage packages register on [Default] from init; tests build
// their own registry.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]*Spec
}

// Default is the registry the CLI uses; stage packages register here.
var Default = NewRegistry()

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]*Spec{}} }

// Register adds spec. It fails on an empty or duplicate kind, a missing
// Stage or Version, or a param default that does not match its type.
func (r *Registry) Register(spec Spec) error {
	if spec.Kind == "" || spec.Stage == nil || spec.Version == "" {
		return fmt.Errorf("pipeline: register %q: kind, version and stage are required", spec.Kind)
	}
	seen := map[string]bool{}
	for _, p := range spec.Params {
		if seen[p.Name] {
			return fmt.Errorf("pipeline: register %q: duplicate param %q", spec.Kind, p.Name)
		}
		seen[p.Name] = true
		if p.Default != nil {
			if _, err := convertParam(p, p.Default); err != nil {
				return fmt.Errorf("pipeline: register %q: default of %q: %w", spec.Kind, p.Name, err)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[spec.Kind]; dup {
		return fmt.Errorf("pipeline: register %q: kind already registered", spec.Kind)
	}
	s := spec
	r.specs[spec.Kind] = &s
	return nil
}

// MustRegister is [Registry.Register] that panics on error, for init functions.
func (r *Registry) MustRegister(spec Spec) {
	if err := r.Register(spec); err != nil {
		panic(err)
	}
}

// Lookup returns the spec of kind.
func (r *Registry) Lookup(kind string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[kind]
	return s, ok
}

// Kinds returns the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ks []string
	for k := range r.specs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
