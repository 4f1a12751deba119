package liege

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/store"

	"github.com/liege-db/liege/journal"
)

// Procedure is application logic: a deterministic function of its Tx and
// args. Args and results are msgpack-encodable Go values. The result is the
// externally visible outcome (seat 12 sold, 100 dispensed) and must not hold
// immaterial state: reconciliation compares results to decide whether a
// re-executed transaction may stand.
//
// Every procedure has a Correction: given the original args, the result the
// client was told, and the result re-execution gave, it commits the
// correcting (inverse) transaction. Registration without one is refused.
type Procedure[A, R any] struct {
	Name string
	Run  func(tx *Tx, args A) (R, error)
	// Correct runs when re-execution of a rolled-off transaction gave a
	// different result; it returns the correction's own result.
	Correct func(tx *Tx, args A, original, reexecuted R) (any, error)
	// CollisionProne says calls are likely to collide with the other
	// instance's (a hot seat, a shared account): the procedure's route is
	// then auto (DESIGN.md section 13): a vassal forwards its calls to the
	// liege while their measured conflict rate is high. The declaration is
	// the prior: auto forwards the procedure (every key prefix) from the
	// start until its measured rate has stayed low, then each prefix with
	// evidence of collisions only, where a procedure set auto by the
	// operator alone starts local. Options.Routes (liege serve --route)
	// overrides the route.
	CollisionProne bool
	// RoutePrefix, if set, names a call's key prefix (the section, the
	// account): auto routing measures conflicts per prefix too and forwards
	// the hot prefixes alone.
	RoutePrefix func(args A) string
	// RoutePrefixes, if set, names every key prefix a call writes (a
	// transfer's two accounts), in place of RoutePrefix: the call is
	// forwarded if any of them is, and its conflicts and commits count for
	// each.
	RoutePrefixes func(args A) []string
}

// Errors from registration and calls.
var (
	ErrUnknownProcedure = errors.New("unknown procedure")
	ErrNoCorrection     = errors.New("procedure registered without a correction")
	ErrDuplicate        = errors.New("procedure already registered")
	ErrBadArgs          = errors.New("arguments do not decode")
)

// proc is a registered procedure with its types erased.
type proc struct {
	name string
	// run runs the procedure and appends its encoded result to dst (the
	// result only when the procedure and tx have no error).
	run func(tx *Tx, args any, dst []byte) ([]byte, error)
	// decodeArgs decodes msgpack args into the procedure's argument type.
	decodeArgs func(b []byte) (any, error)
	// marshalArgs encodes args (journal.Marshal, by hand for a flat
	// struct argument type: journal.StructMarshaler).
	marshalArgs func(args any) ([]byte, error)
	// newArgs returns a pointer to a zero argument value, for decoders of
	// other formats (JSON over HTTP); deref turns it into the argument.
	newArgs func() any
	// derefArgs turns a *A (from newArgs) into an A.
	derefArgs func(p any) (any, bool)
	// correct runs the correction and appends its encoded result, as run.
	correct func(tx *Tx, args any, original, reexecuted, dst []byte) ([]byte, error)
	// collisionProne: Procedure.CollisionProne (route auto by default).
	collisionProne bool
}

// Registry holds registered procedures. Every DB has one; a Registry of
// its own serves a driver that runs an engine without a DB (the
// simulator): see Runner.
type Registry struct {
	mu    sync.RWMutex
	procs map[string]*proc
	// tx and res are the runner's scratch (one driver at a time).
	tx  *Tx
	res []byte
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{procs: map[string]*proc{}, tx: newTx()} }

// Registrar is where Register adds a procedure: a *DB or a *Registry.
type Registrar interface{ registry() *Registry }

func (r *Registry) registry() *Registry { return r }

// Register adds a procedure to db (a *DB or a *Registry). It must be
// called before the procedure is called; registering the same name twice
// or without a correction is an error.
func Register[A, R any](db Registrar, p Procedure[A, R]) error {
	if p.Name == "" || p.Run == nil {
		return errors.New("register procedure: Name and Run are required")
	}
	if p.Correct == nil {
		return fmt.Errorf("register procedure %q: %w (every transaction needs a correcting transaction; see DESIGN.md section 2)", p.Name, ErrNoCorrection)
	}
	decode := func(b []byte) (any, error) {
		var a A
		if err := journal.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%w for procedure %q: %v", ErrBadArgs, p.Name, err)
		}
		return a, nil
	}
	pr := &proc{
		name:           p.Name,
		collisionProne: p.CollisionProne,
		decodeArgs:     decode,
		marshalArgs:    journal.StructMarshaler(reflect.TypeFor[A]()),
		newArgs:        func() any { return new(A) },
		derefArgs: func(x any) (any, bool) {
			if pa, ok := x.(*A); ok && pa != nil {
				return *pa, true
			}
			return nil, false
		},
		run: func(tx *Tx, args any, dst []byte) ([]byte, error) {
			a, ok := args.(A)
			if !ok {
				return dst, fmt.Errorf("%w: procedure %q takes %T, got %T", ErrBadArgs, p.Name, a, args)
			}
			res, err := p.Run(tx, a)
			if err != nil || tx.err != nil {
				return dst, err
			}
			return encodeResult(dst, p.Name, res)
		},
		correct: func(tx *Tx, args any, original, reexecuted, dst []byte) ([]byte, error) {
			var o, r R
			if err := journal.Unmarshal(original, &o); err != nil {
				return dst, fmt.Errorf("decode original result: %w", err)
			}
			if err := journal.Unmarshal(reexecuted, &r); err != nil {
				return dst, fmt.Errorf("decode re-executed result: %w", err)
			}
			res, err := p.Correct(tx, args.(A), o, r)
			if err != nil || tx.err != nil {
				return dst, err
			}
			return encodeResult(dst, p.Name+" correction", res)
		},
	}
	reg := db.registry()
	reg.mu.Lock()
	if _, dup := reg.procs[p.Name]; dup {
		reg.mu.Unlock()
		return fmt.Errorf("register procedure %q: %w", p.Name, ErrDuplicate)
	}
	reg.procs[p.Name] = pr
	reg.mu.Unlock() // the router's lock is taken before the registry's, never after
	if d, ok := db.(*DB); ok {
		var prefix func(any) []string
		switch {
		case p.RoutePrefixes != nil:
			prefix = func(a any) []string { return p.RoutePrefixes(a.(A)) }
		case p.RoutePrefix != nil:
			prefix = func(a any) []string { return []string{p.RoutePrefix(a.(A))} }
		}
		d.registerRoute(p.Name, p.CollisionProne, prefix)
	}
	return nil
}

func (r *Registry) lookup(name string) (*proc, error) {
	r.mu.RLock()
	p := r.procs[name]
	r.mu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownProcedure, name)
	}
	return p, nil
}

func (db *DB) lookup(name string) (*proc, error) { return db.reg.lookup(name) }

// Procedures returns the names of the registered procedures.
func (r *Registry) Procedures() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.procs))
	for n := range r.procs {
		out = append(out, n)
	}
	return out
}

// CollisionProne returns the names of the registered procedures marked
// CollisionProne (routed auto unless overridden), sorted.
func (r *Registry) CollisionProne() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for n, p := range r.procs {
		if p.collisionProne {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Procedures returns the names of the registered procedures.
func (db *DB) Procedures() []string { return db.reg.Procedures() }

func (db *DB) registry() *Registry { return db.reg }

// Runner returns the registry as the engine's Runner (internal/engine):
// procedures run in a Tx over the engine's store. One driver at a time.
func (r *Registry) Runner() engine.Runner { return (*runner)(r) }

// runner implements engine.Runner.
type runner Registry

func (rn *runner) Known(name string) error {
	_, err := (*Registry)(rn).lookup(name)
	return err
}

func (rn *runner) Run(st *store.Store, ts hlc.Timestamp, origin, name string, args any, argBytes []byte) (engine.Effects, error) {
	p, err := (*Registry)(rn).lookup(name)
	if err != nil {
		return engine.Effects{}, err
	}
	if args == nil {
		if args, err = p.decodeArgs(argBytes); err != nil {
			return engine.Effects{}, err
		}
	}
	return rn.exec(st, ts, origin, name, func(tx *Tx, dst []byte) ([]byte, error) { return p.run(tx, args, dst) })
}

func (rn *runner) Correct(st *store.Store, ts hlc.Timestamp, origin, name string, argBytes, told, reexec []byte) (engine.Effects, error) {
	p, err := (*Registry)(rn).lookup(name)
	if err != nil {
		return engine.Effects{}, err
	}
	args, err := p.decodeArgs(argBytes)
	if err != nil {
		return engine.Effects{}, err
	}
	return rn.exec(st, ts, origin, name+" correction", func(tx *Tx, dst []byte) ([]byte, error) {
		return p.correct(tx, args, told, reexec, dst)
	})
}

func (rn *runner) Undo() { rn.tx.undo() }

// exec runs fn as a new transaction; on any error its writes are undone.
// fn appends the encoded result to the buffer it is given (encodeResult).
func (rn *runner) exec(st *store.Store, ts hlc.Timestamp, origin, name string, fn func(*Tx, []byte) ([]byte, error)) (engine.Effects, error) {
	tx := rn.tx
	tx.reset(st, ts, origin)
	res, err := runProc(name, func() ([]byte, error) { return fn(tx, rn.res[:0]) })
	if err == nil {
		err = tx.err
	}
	if err != nil {
		tx.undo()
		return engine.Effects{}, err
	}
	rn.res = res
	return engine.Effects{Reads: tx.reads, Ranges: tx.ranges, Writes: tx.writes, Result: rn.res}, nil
}

// encodeResult appends the encoding of the result of procedure name
// (appendResult: a result of a basic type is not boxed on the heap).
func encodeResult[R any](dst []byte, name string, res R) ([]byte, error) {
	out, err := appendResult(dst, res)
	if err != nil {
		return dst, fmt.Errorf("encode result of %q: %w", name, err)
	}
	return out, nil
}
