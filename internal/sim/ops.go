package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/liege-db/liege"
)

// Op is one step of the procedure "ops": a read or a write of key
// ("k", K), or a scan of [("k", K), ("k", K2)).
type Op struct {
	Op    string // get, set, del, add, scan
	K, K2 string
	V     string
	N     int64
}

// OpsArgs are the arguments of "ops".
type OpsArgs struct{ Ops []Op }

// Key is the key of Op.K.
func Key(k string) liege.Key { return liege.K("k", k) }

// RegisterOps registers "ops" on db.
func RegisterOps(db liege.Registrar) error { return RegisterOpsAs(db, "ops") }

// RegisterOpsAs registers the ops procedure under name. Its result is
// everything it read, so that a re-execution on other data gives another
// result; its correction records the difference under ("corr", HLC).
func RegisterOpsAs(db liege.Registrar, name string) error {
	return liege.Register(db, liege.Procedure[OpsArgs, string]{
		Name: name,
		Run: func(tx *liege.Tx, a OpsArgs) (string, error) {
			var out []string
			for _, o := range a.Ops {
				switch o.Op {
				case "get":
					if v, ok := tx.Get(Key(o.K)); ok {
						x, _ := v.Any()
						out = append(out, fmt.Sprintf("%s=%v", o.K, x))
					} else {
						out = append(out, o.K+"=-")
					}
				case "set":
					tx.Set(Key(o.K), o.V)
				case "del":
					tx.Delete(Key(o.K))
				case "add":
					tx.Add(Key(o.K), o.N)
				case "scan":
					var ks []string
					for _, kv := range tx.Scan(Key(o.K), Key(o.K2), liege.ScanOptions{}) {
						ks = append(ks, kv.Key.String())
					}
					out = append(out, "scan["+strings.Join(ks, ",")+"]")
				default:
					return "", fmt.Errorf("unknown op %q", o.Op)
				}
			}
			return strings.Join(out, ";"), nil
		},
		Correct: func(tx *liege.Tx, a OpsArgs, told, now string) (any, error) {
			tx.Set(liege.K("corr", int64(tx.HLC())), "told "+told+"; re-executed "+now)
			return "corrected", nil
		},
	})
}

var keys = []string{"a", "b", "c", "d", "e", "f"}

// RandomOps returns the steps of a random transaction: reads, absent
// reads, ranges, Set, Delete and Add, and always a write so that it
// commits.
func RandomOps(rng *rand.Rand) []Op {
	var ops []Op
	for n := 1 + rng.IntN(3); n > 0; n-- {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(6) {
		case 0:
			ops = append(ops, Op{Op: "get", K: k})
		case 1:
			lo := rng.IntN(len(keys))
			hi := lo + rng.IntN(len(keys)-lo) + 1
			if hi == len(keys) {
				ops = append(ops, Op{Op: "scan", K: keys[lo], K2: "z"})
			} else {
				ops = append(ops, Op{Op: "scan", K: keys[lo], K2: keys[hi]})
			}
		case 2, 3:
			ops = append(ops, Op{Op: "set", K: k, V: fmt.Sprint(rng.IntN(100))})
		case 4:
			ops = append(ops, Op{Op: "del", K: k})
		case 5:
			ops = append(ops, Op{Op: "add", K: "n" + k, N: int64(rng.IntN(9) + 1)})
		}
	}
	return append(ops, Op{Op: "add", K: "calls", N: 1})
}
