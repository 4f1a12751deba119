package store

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

type entry struct {
	val string
	ver journal.Version
}

func contents(visit func([]byte, Visit)) map[string]entry {
	out := map[string]entry{}
	visit(nil, func(k, v []byte, ver journal.Version) bool {
		out[string(k)] = entry{string(v), ver}
		return true
	})
	return out
}

// The store against a plain map: Set, Delete, Get, ordered iteration both
// ways, and a snapshot that keeps its contents while the store changes.
func TestStoreMatchesMap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := New()
		model := map[string]entry{}
		var snap *Snapshot
		var snapModel map[string]entry
		key := rapid.SampledFrom([]string{"a", "ab", "b", "ba", "c", "\x00", "\xff", "m"})
		for i := range rapid.IntRange(1, 80).Draw(t, "ops") {
			k := key.Draw(t, "k")
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0, 1:
				v := fmt.Sprint(i)
				ver := journal.Version{HLC: uint64(i), Origin: rapid.SampledFrom([]string{"A", "B"}).Draw(t, "o")}
				s.Set([]byte(k), []byte(v), ver)
				model[k] = entry{v, ver}
			case 2:
				s.Delete([]byte(k))
				delete(model, k)
			case 3:
				if snap == nil {
					snap = s.Snapshot()
					snapModel = map[string]entry{}
					for k, e := range model {
						snapModel[k] = e
					}
				}
			}
			v, ver, ok := s.Get([]byte(k))
			if e, in := model[k]; in != ok || (ok && (string(v) != e.val || ver != e.ver)) {
				t.Fatalf("Get(%q) = %q %v %v, model %v %v", k, v, ver, ok, e, in)
			}
		}
		got := contents(s.Ascend)
		if len(got) != len(model) || s.Len() != len(model) {
			t.Fatalf("store has %d keys (Len %d), model %d", len(got), s.Len(), len(model))
		}
		for k, e := range model {
			if got[k] != e {
				t.Fatalf("key %q: %v, model %v", k, got[k], e)
			}
		}
		var asc, desc []string
		s.Ascend(nil, func(k, _ []byte, _ journal.Version) bool { asc = append(asc, string(k)); return true })
		s.Descend(nil, func(k, _ []byte, _ journal.Version) bool { desc = append(desc, string(k)); return true })
		if !sort.StringsAreSorted(asc) || len(asc) != len(desc) {
			t.Fatalf("ascending %q descending %q", asc, desc)
		}
		for i := range asc {
			if asc[i] != desc[len(desc)-1-i] {
				t.Fatalf("descending order is not the reverse: %q vs %q", asc, desc)
			}
		}
		if snap != nil {
			sc := contents(snap.Ascend)
			if len(sc) != len(snapModel) || snap.Len() != len(snapModel) {
				t.Fatalf("snapshot changed: %d keys, want %d", len(sc), len(snapModel))
			}
			for k, e := range snapModel {
				if sc[k] != e {
					t.Fatalf("snapshot key %q: %v, want %v", k, sc[k], e)
				}
			}
		}
	})
}

// A snapshot may be read on another goroutine while the store is written:
// what a background checkpoint does (run with -race).
func TestSnapshotReadConcurrentlyWithWrites(t *testing.T) {
	s := New()
	for i := range 5000 {
		s.Set([]byte(fmt.Sprintf("k%05d", i)), []byte("v"), journal.Version{HLC: 1, Origin: "A"})
	}
	snap := s.Snapshot()
	want := snap.Hash()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if snap.Hash() != want {
				t.Error("snapshot changed while the store was written")
			}
		}
	}()
	for i := range 5000 {
		k := []byte(fmt.Sprintf("k%05d", i))
		if i%2 == 0 {
			s.Delete(k)
		} else {
			s.Set(k, []byte("changed"), journal.Version{HLC: 2, Origin: "B"})
		}
	}
	wg.Wait()
	if s.Hash() == want {
		t.Fatal("the store did not change")
	}
}

func TestApplyThenUndoRestores(t *testing.T) {
	s := New()
	s.Set([]byte("x"), []byte{0x05}, journal.Version{HLC: 1, Origin: "A"})
	before := s.Hash()
	r := &journal.Record{HLC: 9, Origin: "B", Writes: []journal.Write{
		{Key: []byte("x"), Op: journal.OpAdd, Delta: 2, Value: []byte{0x07}, Before: []byte{0x05}, BeforeVersion: journal.Version{HLC: 1, Origin: "A"}},
		{Key: []byte("y"), Op: journal.OpSet, Value: []byte{0x01}},
		{Key: []byte("x"), Op: journal.OpDelete, Before: []byte{0x07}, BeforeVersion: journal.Version{HLC: 9, Origin: "B"}},
	}}
	s.Apply(r)
	if _, _, ok := s.Get([]byte("x")); ok {
		t.Fatal("x not deleted")
	}
	s.Undo(r)
	if s.Hash() != before {
		t.Fatalf("undo did not restore the state: %s", Equal(s, s))
	}
	v, ver, _ := s.Get([]byte("x"))
	if !bytes.Equal(v, []byte{0x05}) || ver.HLC != 1 {
		t.Fatalf("x = %x %v", v, ver)
	}
}

// joinKV makes a new allocation holding key then val, whatever their
// lengths: the store never aliases a caller's key or value.
func TestJoinKV(t *testing.T) {
	for _, c := range []struct{ k, v string }{{"", ""}, {"k", ""}, {"", "v"}, {"key", "v"}, {"k", "value"}, {"ab", "cd"}} {
		k, v := []byte(c.k), []byte(c.v)
		got := joinKV(k, v)
		if string(got) != c.k+c.v {
			t.Fatalf("joinKV(%q, %q) = %q", c.k, c.v, got)
		}
		if len(got) > 0 {
			got[0] ^= 0xff
			if string(k) != c.k || string(v) != c.v {
				t.Fatalf("joinKV(%q, %q) aliases its arguments", c.k, c.v)
			}
		}
	}
}
