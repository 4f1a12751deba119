package liege

import (
	"errors"
	"fmt"

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
	run  func(tx *Tx, args any) (any, error)
	// decodeArgs decodes msgpack args into the procedure's argument type.
	decodeArgs func(b []byte) (any, error)
	// newArgs returns a pointer to a zero argument value, for decoders of
	// other formats (JSON over HTTP); deref turns it into the argument.
	newArgs func() any
	// derefArgs turns a *A (from newArgs) into an A.
	derefArgs func(p any) (any, bool)
	correct   func(tx *Tx, args any, original, reexecuted []byte) (any, error)
}

// Register adds a procedure to db. It must be called before the procedure is
// called; registering the same name twice or without a correction is an
// error.
func Register[A, R any](db *DB, p Procedure[A, R]) error {
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
		name:       p.Name,
		decodeArgs: decode,
		newArgs:    func() any { return new(A) },
		derefArgs: func(x any) (any, bool) {
			if pa, ok := x.(*A); ok && pa != nil {
				return *pa, true
			}
			return nil, false
		},
		run: func(tx *Tx, args any) (any, error) {
			a, ok := args.(A)
			if !ok {
				return nil, fmt.Errorf("%w: procedure %q takes %T, got %T", ErrBadArgs, p.Name, a, args)
			}
			return p.Run(tx, a)
		},
		correct: func(tx *Tx, args any, original, reexecuted []byte) (any, error) {
			var o, r R
			if err := journal.Unmarshal(original, &o); err != nil {
				return nil, fmt.Errorf("decode original result: %w", err)
			}
			if err := journal.Unmarshal(reexecuted, &r); err != nil {
				return nil, fmt.Errorf("decode re-executed result: %w", err)
			}
			return p.Correct(tx, args.(A), o, r)
		},
	}
	db.procsMu.Lock()
	defer db.procsMu.Unlock()
	if _, dup := db.procs[p.Name]; dup {
		return fmt.Errorf("register procedure %q: %w", p.Name, ErrDuplicate)
	}
	db.procs[p.Name] = pr
	return nil
}

func (db *DB) lookup(name string) (*proc, error) {
	db.procsMu.RLock()
	p := db.procs[name]
	db.procsMu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownProcedure, name)
	}
	return p, nil
}

// Procedures returns the names of the registered procedures.
func (db *DB) Procedures() []string {
	db.procsMu.RLock()
	defer db.procsMu.RUnlock()
	out := make([]string, 0, len(db.procs))
	for n := range db.procs {
		out = append(out, n)
	}
	return out
}
