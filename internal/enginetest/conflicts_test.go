package enginetest_test

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/internal/server"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/conflictlog"
	"github.com/liege-db/liege/internal/sim"
)

// Both sites set one key while the link is down: on reconnection the liege
// rejects the vassal's transaction and the vassal rolls back. Both record
// the conflict; the vassal with the epoch of its rollback; both with the
// liege's reprocess of the vassal's transaction once they hold it. The
// records survive a restart (and are what liege inject counts).
func TestConflictsOnRecord(t *testing.T) {
	a, b, l := pair(t)
	l.Down()
	own := a.call(sim.Op{Op: "set", K: "seat", V: "ann"})
	theirs := b.call(sim.Op{Op: "set", K: "seat", V: "bob"})
	l.Up()
	settle(t, l)

	ca, cb := a.db.Conflicts(0, 100), b.db.Conflicts(0, 100)
	if len(ca) != 1 || len(cb) != 1 {
		t.Fatalf("conflicts: liege %+v, vassal %+v; want one each", ca, cb)
	}
	x, y := ca[0], cb[0]
	if x.Seq != 1 || x.Incoming != theirs.String() || x.Own != own.String() || x.Check != "update" || x.Case != "C3" ||
		x.Action != conflictlog.ActionReject || x.KeyText == "" || len(x.Key) == 0 || x.Epoch != 0 {
		t.Fatalf("liege's conflict %+v", x)
	}
	if y.Incoming != own.String() || y.Own != theirs.String() || y.Check != "update" || y.Case != "C3" ||
		y.Action != conflictlog.ActionRollBack || string(y.Key) != string(x.Key) || y.Epoch == 0 {
		t.Fatalf("vassal's conflict %+v", y)
	}
	st, err := a.db.TxnStatus(t.Context(), theirs)
	if err != nil || st.State != liege.TxnReprocessed && st.State != liege.TxnCorrected {
		t.Fatalf("the vassal's transaction at the liege: %+v %v", st, err)
	}
	if x.EndedIn == "" || x.EndedIn != y.EndedIn {
		t.Fatalf("ended in: liege %q, vassal %q; want the liege's reprocess or correction of %v", x.EndedIn, y.EndedIn, theirs)
	}

	// Over HTTP, as liege conflicts reads them, a page at a time.
	hs := httptest.NewServer(server.New(a.db, server.Options{}).Handler())
	defer hs.Close()
	page, err := client.New(hs.URL).Conflicts(t.Context(), 0, 1)
	if err != nil || len(page.Conflicts) != 1 || page.More || page.Next != 1 {
		t.Fatalf("GET /v1/conflicts: %+v %v", page, err)
	}
	if c := page.Conflicts[0]; c.Incoming != x.Incoming || c.Own != x.Own || c.Check != x.Check || c.Case != x.Case ||
		string(c.Key) != string(x.Key) || c.KeyText != x.KeyText || c.Action != x.Action || c.EndedIn != x.EndedIn || !c.Time.Equal(x.Time) {
		t.Fatalf("GET /v1/conflicts: %+v, want %+v", c, x)
	}

	// Kept across a restart; paging by seq.
	b.db.Close()
	b.open()
	if got := b.db.Conflicts(0, 100); len(got) != 1 || !reflect.DeepEqual(got[0], y) {
		t.Fatalf("vassal's conflicts after a restart: %+v, want %+v", got, y)
	}
	if got := b.db.Conflicts(1, 100); len(got) != 0 {
		t.Fatalf("conflicts after seq 1: %+v", got)
	}
}
