package reconcile

import (
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// The count of pending subjects Resolve keeps is the count a scan of the
// entries gives, whatever the entries (own ones, the peer's standing for
// one of them, both, some done before the first use) and the order their
// subjects come back in.
func TestPendingCountIsTheScansCount(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := &Log{Epoch: 1}
		subjects := rapid.IntRange(1, 30).Draw(t, "subjects")
		for i := range rapid.IntRange(0, 60).Draw(t, "entries") {
			s := journal.TxID{Origin: "B", OSeq: uint64(rapid.IntRange(1, subjects).Draw(t, "subject"))}
			r := journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: s.OSeq}
			if rapid.Bool().Draw(t, "peer's") { // the liege's reprocess of s
				r = journal.Record{Kind: journal.KindPeer, Origin: "A", OSeq: uint64(100 + i), Subject: s}
			}
			l.Entries = append(l.Entries, Entry{Record: r, Done: rapid.Bool().Draw(t, "done at load")})
		}
		scan := func() int {
			pending := map[journal.TxID]bool{}
			for _, e := range l.Entries {
				if !e.Done {
					pending[e.Subject()] = true
				}
			}
			return len(pending)
		}
		for range rapid.IntRange(0, 40).Draw(t, "resolves") {
			if got, want := l.PendingCount(), scan(); got != want {
				t.Fatalf("PendingCount = %d, a scan counts %d", got, want)
			}
			if l.Complete() != (scan() == 0) {
				t.Fatalf("Complete = %v with %d pending", l.Complete(), scan())
			}
			s := journal.TxID{Origin: "B", OSeq: uint64(rapid.IntRange(1, subjects+1).Draw(t, "back"))}
			before := scan()
			if got := l.Resolve(s); got != (scan() < before) {
				t.Fatalf("Resolve(%v) = %v, pending went from %d to %d", s, got, before, scan())
			}
		}
		if got, want := l.PendingCount(), scan(); got != want {
			t.Fatalf("PendingCount = %d, a scan counts %d", got, want)
		}
	})
}
