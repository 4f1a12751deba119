package liege

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/liege-db/liege/journal"
)

// A transaction finds its own writes by a scan up to smallWrites of them
// and through windex past that: either way each key is written once in the
// record (at its first write, with the before-image from before the
// transaction), own writes are read back and are not reads, and the index
// of one transaction does not leak into the next.
func TestOwnWritesFoundAtEverySize(t *testing.T) {
	db := openTest(t)
	key := func(i int) Key { return K("w", int64(i)) }
	seed(t, db, key(0))
	for _, n := range []int{3, smallWrites, smallWrites + 1, 30, 2, smallWrites + 2} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			r := commit(t, db, func(tx *Tx) error {
				for i := range n {
					tx.Set(key(i), fmt.Sprint("first ", n, " ", i))
				}
				for i := range n {
					tx.Set(key(i), fmt.Sprint("second ", n, " ", i))
					if v, ok := tx.Get(key(i)); !ok {
						t.Errorf("own write of key %d invisible", i)
					} else if s, _ := v.Str(); s != fmt.Sprint("second ", n, " ", i) {
						t.Errorf("key %d reads %q", i, s)
					}
				}
				tx.Add(K("sum"), 1)
				tx.Add(K("sum"), 2)
				tx.Delete(key(0))
				return nil
			})
			wantReads(t, r) // every key read was written first
			if len(r.Writes) != n+1 {
				t.Fatalf("%d writes for %d keys and a sum", len(r.Writes), n+1)
			}
			for i := range n {
				w := r.Writes[i]
				if !bytes.Equal(w.Key, key(i)) {
					t.Fatalf("write %d is of key %s, want %s", i, Key(w.Key), key(i))
				}
				if i == 0 {
					if w.Op != journal.OpDelete || w.Before == nil {
						t.Fatalf("key 0: op %v, before %q; want a delete of the seeded or previous value", w.Op, w.Before)
					}
					continue
				}
				if w.Op != journal.OpSet || !bytes.Contains(w.Value, []byte(fmt.Sprint("second ", n, " ", i))) {
					t.Fatalf("key %d: op %v value %q, want the second set", i, w.Op, w.Value)
				}
			}
			if w := r.Writes[n]; !bytes.Equal(w.Key, K("sum")) || w.Op != journal.OpAdd || w.Delta != 3 {
				t.Fatalf("the sum's write is %+v, want one add of 3", w)
			}
		})
		seed(t, db, key(0)) // key 0 exists again for the next size
	}
}
