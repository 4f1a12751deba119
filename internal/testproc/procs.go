// Package testproc holds what the engine's crash and rollback tests share:
// a standard set of test procedures, a deterministic workload, child
// processes (the test binary re-executed in a child role, killed with
// SIGKILL or by a crash failpoint), and file-system helpers (copying an
// instance directory, replaying a journal into a fresh store, checking a
// closed instance directory).
//
// A test package that starts children calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testproc.Main(m) }
package testproc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/tuple"
)

// PairArgs are the arguments of the "pair" procedure.
type PairArgs struct {
	ID int64
}

// PutArgs are the arguments of "put" and "del": the key ("kv", Name, N).
type PutArgs struct {
	Name string
	N    int64
	Val  int64
}

// AddArgs are the arguments of "add": Add(("ctr", Name), Delta).
type AddArgs struct {
	Name  string
	Delta int64
}

// TransferArgs are the arguments of "transfer" between ("acct", From) and
// ("acct", To).
type TransferArgs struct {
	From, To int64
	Amount   int64
}

// PadArgs are the arguments of "pad": N keys ("pad", From+i) of Size bytes.
type PadArgs struct {
	From, N int64
	Size    int
}

// Dump is the result of "dump": the values of every ("a", id) and
// ("b", id) key, by id.
type Dump struct {
	A map[int64]int64
	B map[int64]int64
}

// PairValue is the value "pair" stores under both of its keys for id.
func PairValue(id int64) int64 { return id*31 + 7 }

func noCorrection[A, R any](*liege.Tx, A, R, R) (any, error) { return nil, nil }

// Register registers the standard test procedures on db:
//
//   - "pair" writes ("a", id) and ("b", id), both PairValue(id): a
//     transaction that must be all there or not at all;
//   - "put" sets ("kv", name, n); "del" deletes it (reading it first);
//   - "add" adds to the counter ("ctr", name) (a commutative OpAdd);
//   - "fund" adds to the balance ("acct", 0);
//   - "transfer" moves an amount between ("acct", n) balances when the
//     source has enough (a read, then two Adds) and reports "ok" or
//     "refused";
//   - "pad" writes a batch of filler keys ("pad", n), to make the state
//     (and every checkpoint) big;
//   - "dump" is read-only and returns every pair key as a Dump.
func Register(db *liege.DB) error {
	errs := []error{
		liege.Register(db, liege.Procedure[PairArgs, int64]{
			Name: "pair",
			Run: func(tx *liege.Tx, a PairArgs) (int64, error) {
				v := PairValue(a.ID)
				tx.Set(liege.K("a", a.ID), v)
				tx.Set(liege.K("b", a.ID), v)
				return a.ID, nil
			},
			Correct: noCorrection[PairArgs, int64],
		}),
		liege.Register(db, liege.Procedure[PutArgs, bool]{
			Name: "put",
			Run: func(tx *liege.Tx, a PutArgs) (bool, error) {
				tx.Set(liege.K("kv", a.Name, a.N), a.Val)
				return true, nil
			},
			Correct: noCorrection[PutArgs, bool],
		}),
		liege.Register(db, liege.Procedure[PutArgs, bool]{
			Name: "del",
			Run: func(tx *liege.Tx, a PutArgs) (bool, error) {
				k := liege.K("kv", a.Name, a.N)
				_, ok := tx.Get(k)
				if ok {
					tx.Delete(k)
				}
				return ok, nil
			},
			Correct: noCorrection[PutArgs, bool],
		}),
		liege.Register(db, liege.Procedure[AddArgs, bool]{
			Name: "add",
			Run: func(tx *liege.Tx, a AddArgs) (bool, error) {
				tx.Add(liege.K("ctr", a.Name), a.Delta)
				return true, nil
			},
			Correct: noCorrection[AddArgs, bool],
		}),
		liege.Register(db, liege.Procedure[TransferArgs, string]{
			Name: "transfer",
			Run: func(tx *liege.Tx, a TransferArgs) (string, error) {
				var bal int64
				if v, ok := tx.Get(liege.K("acct", a.From)); ok {
					n, err := v.Int()
					if err != nil {
						return "", err
					}
					bal = n
				}
				if bal < a.Amount {
					return "refused", nil
				}
				tx.Add(liege.K("acct", a.From), -a.Amount)
				tx.Add(liege.K("acct", a.To), a.Amount)
				return "ok", nil
			},
			Correct: noCorrection[TransferArgs, string],
		}),
		liege.Register(db, liege.Procedure[int64, bool]{
			Name: "fund",
			Run: func(tx *liege.Tx, n int64) (bool, error) {
				tx.Add(liege.K("acct", 0), n)
				return true, nil
			},
			Correct: noCorrection[int64, bool],
		}),
		liege.Register(db, liege.Procedure[PadArgs, int64]{
			Name: "pad",
			Run: func(tx *liege.Tx, a PadArgs) (int64, error) {
				v := strings.Repeat("p", a.Size)
				for i := range a.N {
					tx.Set(liege.K("pad", a.From+i), v)
				}
				return a.N, nil
			},
			Correct: noCorrection[PadArgs, int64],
		}),
		liege.Register(db, liege.Procedure[struct{}, Dump]{
			Name: "dump",
			Run: func(tx *liege.Tx, _ struct{}) (Dump, error) {
				d := Dump{A: map[int64]int64{}, B: map[int64]int64{}}
				for _, side := range []struct {
					name string
					m    map[int64]int64
				}{{"a", d.A}, {"b", d.B}} {
					lo := liege.K(side.name)
					for _, kv := range tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{}) {
						t, err := tuple.Unpack(kv.Key)
						if err != nil {
							return d, err
						}
						id, ok := t[1].(int64)
						if len(t) != 2 || !ok {
							return d, fmt.Errorf("unexpected key %s", kv.Key)
						}
						v, err := kv.Value.Int()
						if err != nil {
							return d, fmt.Errorf("key %s: %w", kv.Key, err)
						}
						side.m[id] = v
					}
				}
				return d, nil
			},
			Correct: noCorrection[struct{}, Dump],
		}),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// DumpPairs returns every pair key of db (through the read-only "dump").
func DumpPairs(ctx context.Context, db *liege.DB) (Dump, error) {
	res, err := db.Call(ctx, "dump", struct{}{})
	if err != nil {
		return Dump{}, err
	}
	if !res.ReadOnly() {
		return Dump{}, fmt.Errorf("dump committed a transaction (%v)", res.TxID)
	}
	var d Dump
	err = res.Decode(&d)
	return d, err
}

// Workload runs n calls of the standard procedures one after another, so
// that the same seed always gives the same journal positions and the same
// operations (only the HLCs differ between runs). It mixes every kind of
// write: sets of new and existing keys, deletes, Adds to a few counters,
// and transfers that read a balance and may be refused (read-only, not
// journaled). It returns the results of the calls that committed.
func Workload(ctx context.Context, db *liege.DB, seed uint64, n int) ([]*liege.Result, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []*liege.Result
	for i := 0; i < n; i++ {
		var name string
		var args any
		switch op := r.IntN(10); {
		case op < 3:
			name, args = "put", PutArgs{Name: "k", N: r.Int64N(20), Val: r.Int64N(1000)}
		case op < 4:
			name, args = "del", PutArgs{Name: "k", N: r.Int64N(20)}
		case op < 6:
			name, args = "add", AddArgs{Name: fmt.Sprint("c", r.IntN(3)), Delta: r.Int64N(21) - 10}
		case op < 7:
			// fund account 0, so that transfers have something to move
			name, args = "fund", 1+r.Int64N(3)
		case op < 8:
			name, args = "transfer", TransferArgs{From: 0, To: 1 + r.Int64N(4), Amount: r.Int64N(5)}
		default:
			name, args = "pair", PairArgs{ID: int64(i)}
		}
		res, err := db.Call(ctx, name, args)
		if err != nil {
			return out, fmt.Errorf("workload call %d (%s): %w", i, name, err)
		}
		if !res.ReadOnly() {
			out = append(out, res)
		}
	}
	return out, nil
}
