package reconcile

import (
	"testing"

	"github.com/liege-db/liege/journal"
)

// TestDecide is DESIGN.md section 9 as a table: the subject a record
// stands for, skipped if held, else re-executed and reprocessed or
// corrected by what re-execution gave.
func TestDecide(t *testing.T) {
	b4 := journal.TxID{Origin: "B", OSeq: 4}
	a9 := journal.TxID{Origin: "A", OSeq: 9}
	local := journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: 4, Proc: "buy"}
	// B's own reprocess and correction of A/9, made while B was liege and
	// rolled off after a promote: they stand for A/9, not for B/7 or B/8.
	reproc := journal.Record{Kind: journal.KindReprocess, Origin: "B", OSeq: 7, Subject: a9, Proc: "buy"}
	correct := journal.Record{Kind: journal.KindCorrection, Origin: "B", OSeq: 8, Subject: a9, Proc: "buy"}
	for _, c := range []struct {
		name string
		r    journal.Record
		held bool
		re   Reexecution
		want Decision
	}{
		{"local, held: skip", local, true, NotReexecuted, Decision{b4, Skip}},
		{"local, not held: re-execute", local, false, NotReexecuted, Decision{b4, Reexecute}},
		{"local, same result: reprocess", local, false, SameResult, Decision{b4, Reprocess}},
		{"local, other result: correct", local, false, OtherResult, Decision{b4, Correct}},
		{"held wins over a re-execution", local, true, SameResult, Decision{b4, Skip}},
		{"reprocess, subject held: skip", reproc, true, NotReexecuted, Decision{a9, Skip}},
		{"reprocess, not held: re-execute", reproc, false, NotReexecuted, Decision{a9, Reexecute}},
		{"reprocess, same result: reprocess its subject", reproc, false, SameResult, Decision{a9, Reprocess}},
		{"reprocess, other result: correct its subject", reproc, false, OtherResult, Decision{a9, Correct}},
		{"correction, subject held: skip", correct, true, NotReexecuted, Decision{a9, Skip}},
		{"correction, same result: reprocess its subject", correct, false, SameResult, Decision{a9, Reprocess}},
		{"correction, other result: correct its subject", correct, false, OtherResult, Decision{a9, Correct}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(&c.r, c.held, c.re); got != c.want {
				t.Fatalf("Decide(%v %s, held %v, %d) = %v %v, want %v %v", c.r.Kind, c.r.TxID(), c.held, c.re, got.Subject, got.Action, c.want.Subject, c.want.Action)
			}
		})
	}
}

// TestResolveBySubject checks that a log entry that is a rolled-off
// reprocess comes back when a record naming its subject does, not its own
// TxID.
func TestResolveBySubject(t *testing.T) {
	a9 := journal.TxID{Origin: "A", OSeq: 9}
	reproc := txn("B", 7)
	reproc.Kind, reproc.Subject = journal.KindReprocess, a9
	l := &Log{Entries: []Entry{{Record: txn("B", 4)}, {Record: reproc}}}
	if l.Resolve(reproc.TxID()) {
		t.Fatal("resolved the reprocess entry by its own TxID B/7")
	}
	if !l.Resolve(a9) || l.PendingCount() != 1 {
		t.Fatalf("resolving its subject A/9: %d pending, want 1 (B/4)", l.PendingCount())
	}
	if !l.Resolve(journal.TxID{Origin: "B", OSeq: 4}) || !l.Complete() {
		t.Fatal("resolving B/4 did not complete the log")
	}
}

// TestSubjectOfAPeerStandIn: the old liege's correction or reprocess, as a
// vassal held it (kind peer, the origin's subject kept), stands for its
// subject, as it does for the Node. A promoted vassal reconciles such a
// record when a rollback rolled it off; naming it by its own TxID made the
// engine commit the reprocess for the wrong subject and the Node wait for
// the right one forever (liege inject --sim --engine, seed 1708: an
// acknowledged transaction in neither journal).
func TestSubjectOfAPeerStandIn(t *testing.T) {
	b1 := journal.TxID{Origin: "B", OSeq: 1}
	for _, r := range []journal.Record{
		{Kind: journal.KindPeer, OriginKind: journal.KindCorrection, Origin: "A", OSeq: 13, Subject: b1},
		{Kind: journal.KindPeer, OriginKind: journal.KindReprocess, Origin: "A", OSeq: 13, Subject: b1},
		{Kind: journal.KindCorrection, Origin: "A", OSeq: 13, Subject: b1},
		{Kind: journal.KindLocal, Origin: "B", OSeq: 1},
	} {
		if got := Subject(&r); got != b1 {
			t.Errorf("%v %v (origin kind %v, subject %v) stands for %v, want %v", r.Kind, r.TxID(), r.OriginKind, r.Subject, got, b1)
		}
		if d := Decide(&r, false, NotReexecuted); d.Subject != b1 {
			t.Errorf("Decide on %v %v names %v, want %v", r.Kind, r.TxID(), d.Subject, b1)
		}
	}
}
