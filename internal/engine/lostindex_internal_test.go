package engine

import (
	"testing"

	"github.com/liege-db/liege/journal"
)

// TestLostIndex: find returns the file holding a TxID, the later file where
// two do; remove forgets a file's TxIDs; each lists what find finds.
func TestLostIndex(t *testing.T) {
	var x lostIndex
	if !x.empty() || x.find(journal.TxID{Origin: "A", OSeq: 1}) != "" {
		t.Fatal("a new index finds something")
	}
	id := func(o string, q uint64) journal.TxID { return journal.TxID{Origin: o, OSeq: q} }
	x.add("f1", []journal.TxID{id("A", 5), id("A", 3), id("A", 9), id("B", 4)})
	x.add("f2", []journal.TxID{id("A", 9), id("A", 10)})
	x.add("f3", nil)
	for _, tc := range []struct {
		id   journal.TxID
		want string
	}{
		{id("A", 3), "f1"}, {id("A", 5), "f1"}, {id("A", 9), "f2"}, {id("A", 10), "f2"}, {id("B", 4), "f1"},
		{id("A", 4), ""}, {id("B", 5), ""}, {id("C", 3), ""}, {id("A", 11), ""},
	} {
		if got := x.find(tc.id); got != tc.want {
			t.Errorf("find(%v) = %q, want %q", tc.id, got, tc.want)
		}
	}
	got := map[journal.TxID]string{}
	x.each(func(id journal.TxID, f string) {
		if _, dup := got[id]; dup {
			t.Errorf("each lists %v twice", id)
		}
		got[id] = f
	})
	if len(got) != 5 || got[id("A", 9)] != "f2" {
		t.Errorf("each listed %v", got)
	}
	x.remove("f2")
	if x.find(id("A", 10)) != "" || x.find(id("A", 9)) != "f1" || x.empty() {
		t.Error("remove(f2) did not forget f2 alone")
	}
	x.remove("f1")
	if !x.empty() {
		t.Error("not empty after removing every file")
	}
}
