package liege_test

import (
	"context"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

type buyArgs struct {
	Seat     int64
	Customer string
}

// seats is a tiny ticketing app: buy sells a free seat; its correction,
// run when re-execution says the seat was taken, honours the sale the
// customer was told of by recording both owners in the service queue.
func seats(t *testing.T, dir, id string) *liege.DB {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: dir, ID: id, CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = liege.Register(db, liege.Procedure[buyArgs, string]{
		Name: "buy",
		Run: func(tx *liege.Tx, a buyArgs) (string, error) {
			seat := liege.K("seat", a.Seat)
			if _, taken := tx.Get(seat); taken {
				return "taken", nil
			}
			tx.Set(seat, a.Customer)
			return "sold", nil
		},
		Correct: func(tx *liege.Tx, a buyArgs, told, now string) (any, error) {
			tx.Set(liege.K("queue", a.Seat, a.Customer), "double sale: told "+told+", re-executed "+now)
			return "queued", nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func buy(t *testing.T, db *liege.DB, seat int64, who string) *liege.Result {
	t.Helper()
	r, err := db.Call(context.Background(), "buy", buyArgs{seat, who})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReconcileReprocessCorrectAndSkip(t *testing.T) {
	ctx := context.Background()
	liegeDB := seats(t, t.TempDir(), "A")
	vassal := seats(t, t.TempDir(), "B")

	buy(t, liegeDB, 12, "ann")       // the liege sells seat 12 to ann
	bob := buy(t, vassal, 12, "bob") // the vassal, unaware, sells it to bob: told "sold"
	cy := buy(t, vassal, 13, "cy")   // and seat 13 to cy, which nobody else sold

	// The vassal rolls both off (as a conflict would make it) and ships
	// its own records from the lost transaction file.
	res, err := vassal.RollbackTo(ctx, bob.Pos, "conflict with A/1")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		t.Fatal(err)
	}
	var log []journal.Record
	for _, r := range lf.Records {
		if r.Kind.IsTxn() && r.Origin == "B" {
			log = append(log, r)
		}
	}
	if len(log) != 2 {
		t.Fatalf("reconciliation log has %d records, want 2", len(log))
	}

	out, err := enginetest.Reconcile(ctx, liegeDB, &log[0])
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != enginetest.Corrected || out.Result.Kind != journal.KindCorrection {
		t.Fatalf("bob's sale: %+v", out)
	}
	var reexec string
	if err := journal.Unmarshal(out.Reexecuted, &reexec); err != nil || reexec != "taken" {
		t.Fatalf("re-execution gave %q (%v), want taken", reexec, err)
	}
	if e, ok, _ := liegeDB.Get(ctx, liege.K("queue", int64(12), "bob")); !ok {
		t.Fatal("no action item for the double sale")
	} else if s, _ := e.Value.Str(); s != "double sale: told sold, re-executed taken" {
		t.Fatalf("action item %q", s)
	}
	if e, _, _ := liegeDB.Get(ctx, liege.K("seat", int64(12))); string(e.Value) != string(mustValue(t, "ann")) {
		t.Fatal("the correction changed the seat's owner")
	}

	out, err = enginetest.Reconcile(ctx, liegeDB, &log[1])
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != enginetest.Reprocessed || out.Result.Kind != journal.KindReprocess {
		t.Fatalf("cy's sale: %+v", out)
	}
	if e, ok, _ := liegeDB.Get(ctx, liege.K("seat", int64(13))); !ok || string(e.Value) != string(mustValue(t, "cy")) {
		t.Fatal("seat 13 not sold to cy on the liege")
	}

	// The log is sent again after a reconnect: nothing changes.
	before, _ := liegeDB.Status(ctx)
	for i := range log {
		out, err := enginetest.Reconcile(ctx, liegeDB, &log[i])
		if err != nil || out.Action != enginetest.Skipped {
			t.Fatalf("resent %s: %+v %v", log[i].TxID(), out, err)
		}
	}
	after, _ := liegeDB.Status(ctx)
	if after.LastPos != before.LastPos {
		t.Fatalf("a resent log committed again: last position %d -> %d", before.LastPos, after.LastPos)
	}

	// Each client can ask the liege what became of its transaction.
	for id, want := range map[journal.TxID]liege.TxnState{bob.TxID: liege.TxnCorrected, cy.TxID: liege.TxnReprocessed} {
		st, err := liegeDB.TxnStatus(ctx, id)
		if err != nil || st.State != want || st.Record.Subject != id {
			t.Fatalf("status of %s = %+v %v, want %s", id, st, err, want)
		}
	}
}

func mustValue(t *testing.T, s string) []byte {
	t.Helper()
	b, err := journal.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A reconciliation whose context ended before the executor took it used to
// go back to the call pool still carrying its record: the next call, on
// any instance of the process, then ran that reconciliation instead of its
// own procedure.
func TestCanceledReconcileDoesNotHijackTheNextCall(t *testing.T) {
	a := seats(t, t.TempDir(), "A")
	b := seats(t, t.TempDir(), "B")
	args, err := journal.Marshal(buyArgs{Seat: 7, Customer: "zoe"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := journal.Marshal("sold")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 200; i++ {
		rec := journal.Record{Kind: journal.KindLocal, Origin: "C", OSeq: uint64(i + 1), Proc: "buy", Args: args, Result: res}
		enginetest.Reconcile(ctx, a, &rec) // often refused: ctx has ended
		r := buy(t, b, int64(100+i), "ann")
		if r.Kind != journal.KindLocal || r.TxID.Origin != "B" {
			t.Fatalf("call %d on B ran as %v %v, not as B's own local transaction", i, r.Kind, r.TxID)
		}
	}
}

// A reprocess or correction in a reconciliation log (one the old liege
// made, rolled off after a promote) stands for the subject it names
// (DESIGN.md section 9): it is skipped when the liege holds that subject,
// and otherwise reconciled as that subject, not as its own TxID.
func TestReconcileRecordStandsForItsSubject(t *testing.T) {
	ctx := context.Background()
	a := seats(t, t.TempDir(), "A")
	ann := buy(t, a, 12, "ann") // A/1
	record := func(oseq uint64, subject journal.TxID, seat int64, who string) journal.Record {
		args, err := journal.Marshal(buyArgs{Seat: seat, Customer: who})
		if err != nil {
			t.Fatal(err)
		}
		return journal.Record{Kind: journal.KindReprocess, Origin: "B", OSeq: oseq, Subject: subject,
			Proc: "buy", Args: args, Result: mustValue(t, "sold")}
	}

	// B's reprocess of A/1: A holds A/1 itself. Reconciled as B/7 it
	// would re-execute, find seat 12 taken and correct: A/1 twice.
	held := record(7, ann.TxID, 12, "ann")
	before, _ := a.Status(ctx)
	out, err := enginetest.Reconcile(ctx, a, &held)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != enginetest.Skipped || out.Subject != ann.TxID || out.Result.Pos != ann.Pos {
		t.Fatalf("reprocess of a held subject: %+v; want skipped, subject %s at position %d", out, ann.TxID, ann.Pos)
	}
	if after, _ := a.Status(ctx); after.LastPos != before.LastPos {
		t.Fatalf("skipping committed: last position %d -> %d", before.LastPos, after.LastPos)
	}

	// B's reprocess of B/2, which A never saw: reconciled as B/2.
	b2 := journal.TxID{Origin: "B", OSeq: 2}
	pending := record(8, b2, 13, "cy")
	out, err = enginetest.Reconcile(ctx, a, &pending)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != enginetest.Reprocessed || out.Subject != b2 {
		t.Fatalf("reprocess of a subject not held: %+v; want reprocessed as %s", out, b2)
	}
	st, err := a.TxnStatus(ctx, b2)
	if err != nil || st.State != liege.TxnReprocessed || st.Record.Subject != b2 {
		t.Fatalf("status of %s = %+v %v, want reprocessed naming it", b2, st, err)
	}
	// Resent, and B/2's own local record: both skipped now.
	local := pending
	local.Kind, local.OSeq, local.Subject = journal.KindLocal, 2, journal.TxID{}
	for _, r := range []journal.Record{pending, local} {
		out, err := enginetest.Reconcile(ctx, a, &r)
		if err != nil || out.Action != enginetest.Skipped || out.Subject != b2 {
			t.Fatalf("%v %s again: %+v %v; want skipped as %s", r.Kind, r.TxID(), out, err, b2)
		}
	}
}
