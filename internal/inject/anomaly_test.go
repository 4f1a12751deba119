package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/journal"
)

// The final states of these tests are made by running the applications on
// real instances; what no correct run makes (a lost write, a double sale
// with no queue item) is made by anomRaw, a test procedure that writes raw
// keys, as a last-writer-wins merge would. The call logs are made by
// anomLog, as the runner's clients make them.

// anomRawProc is the name of the test procedure that writes raw keys.
const anomRawProc = "anomaly_test_raw"

// anomRawArgs are its arguments: values to set (already encoded), deltas to
// add and keys to delete.
type anomRawArgs struct {
	Set []anomRawWrite `codec:"set"`
	Add []anomRawWrite `codec:"add"`
	Del [][]byte       `codec:"del"`
}

type anomRawWrite struct {
	Key   []byte `codec:"key"`
	Value []byte `codec:"value"`
	N     int64  `codec:"n"`
}

// anomOpen opens a lone instance called id with the application and the
// raw-write procedure registered.
func anomOpen(t *testing.T, id string, register func(liege.Registrar) error) *liege.DB {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: id, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := register(db); err != nil {
		t.Fatal(err)
	}
	err = liege.Register(db, liege.Procedure[anomRawArgs, string]{
		Name: anomRawProc,
		Run: func(tx *liege.Tx, a anomRawArgs) (string, error) {
			for _, w := range a.Set {
				tx.Set(liege.Key(w.Key), liege.Value(w.Value))
			}
			for _, w := range a.Add {
				tx.Add(liege.Key(w.Key), w.N)
			}
			for _, k := range a.Del {
				tx.Delete(liege.Key(k))
			}
			return "ok", nil
		},
		Correct: func(*liege.Tx, anomRawArgs, string, string) (any, error) { return "nothing", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// anomRaw writes raw keys on db, outside the call log.
func anomRaw(t *testing.T, db *liege.DB, a anomRawArgs) {
	t.Helper()
	if _, err := db.Call(context.Background(), anomRawProc, a); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// anomSet returns a raw write of v at k.
func anomSet(t *testing.T, k liege.Key, v any) anomRawWrite {
	t.Helper()
	b, err := journal.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return anomRawWrite{Key: k, Value: b}
}

// anomLog is a client call log.
type anomLog struct {
	t     *testing.T
	calls []oracle.Call
	// via makes the calls (db.Call if nil; a pair's TryCall).
	via func(db *liege.DB, proc string, args any) (*liege.Result, error)
}

func (l *anomLog) add(site, proc string, args any, status int, txid, errText string) {
	l.t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		l.t.Fatal(err)
	}
	c := oracle.Call{Site: site, Proc: proc, Args: b, Status: status, Error: errText}
	if txid != "" {
		c.TxID = &txid
	}
	l.calls = append(l.calls, c)
}

// call calls proc on db and logs the answer: acked if it committed,
// read-only if not, failed (500) on an error. It returns the result, nil
// on an error.
func (l *anomLog) call(db *liege.DB, proc string, args any) *liege.Result {
	l.t.Helper()
	via := l.via
	if via == nil {
		via = func(db *liege.DB, proc string, args any) (*liege.Result, error) {
			return db.Call(context.Background(), proc, args)
		}
	}
	r, err := via(db, proc, args)
	switch {
	case err != nil:
		l.add(db.ID(), proc, args, 500, "", "procedure_failed: "+err.Error())
		return nil
	case r.ReadOnly():
		l.add(db.ID(), proc, args, 200, "", "")
	default:
		l.add(db.ID(), proc, args, 200, r.TxID.String(), "")
	}
	return r
}

// mustCall is call that must commit.
func (l *anomLog) mustCall(db *liege.DB, proc string, args any) *liege.Result {
	l.t.Helper()
	r := l.call(db, proc, args)
	if r == nil || r.ReadOnly() {
		l.t.Fatalf("%s %+v at %s did not commit", proc, args, db.ID())
	}
	return r
}

// maybe calls proc on db (if run) and logs it without an answer, as a
// reset connection leaves it.
func (l *anomLog) maybe(db *liege.DB, proc string, args any, run bool) {
	l.t.Helper()
	if run {
		l.mustCall(db, proc, args)
		l.calls = l.calls[:len(l.calls)-1]
	}
	l.add(db.ID(), proc, args, 0, "", "read tcp: connection reset by peer")
}

// acked logs an acknowledged call that did not run (a lost write).
func (l *anomLog) acked(site, proc string, args any, txid string) {
	l.t.Helper()
	l.add(site, proc, args, 200, txid, "")
}

func anomState(t *testing.T, db *liege.DB) []liege.Entry {
	t.Helper()
	es, err := db.Scan(context.Background(), nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// anomWant compares the counts (not the examples); every anomaly counted
// must have an example.
func anomWant(t *testing.T, what string, got Anomalies, err error, want Anomalies) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	ex := got.Examples
	got.Examples, want.Examples = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %+v, want %+v; examples:\n%s", what, got, want, strings.Join(ex, "\n"))
	}
	if got.Total() > 0 && len(ex) == 0 {
		t.Errorf("%s: %d anomalies and no example", what, got.Total())
	}
	if got.Total() == 0 && len(ex) > 0 {
		t.Errorf("%s: no anomaly, but examples %q", what, ex)
	}
}

// anomWantExample checks that some example contains every one of words.
func anomWantExample(t *testing.T, what string, got Anomalies, words ...string) {
	t.Helper()
	for _, ex := range got.Examples {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(ex, w)
		}
		if ok {
			return
		}
	}
	t.Errorf("%s: no example names %q: %q", what, words, got.Examples)
}

// --- ticketing --------------------------------------------------------------

var anomGala = ticketing.CreateEventArgs{Event: "gala", Sections: []ticketing.Section{{Name: "vip", Rows: 2, SeatsPerRow: 4}}}

func anomSeat(row, n int64) ticketing.Seat {
	return ticketing.Seat{Event: "gala", Section: "vip", Row: row, Number: n}
}

func anomBuy(customer string, row, n int64) ticketing.BuyArgs {
	return ticketing.BuyArgs{Event: "gala", Section: "vip", Row: row, Number: n, Customer: customer}
}

// anomTicketingBase sells gala's seats: ann 1/1 (buy), bob 1/2 (buy_best),
// cy 1/3 (bought, refunded, bought again: ticket gala/vip/1/3/cy/2); dan
// is told 1/1 is taken; a refund of an unknown ticket; a failed buy.
func anomTicketingBase(t *testing.T, db *liege.DB, l *anomLog) {
	t.Helper()
	l.mustCall(db, ticketing.ProcCreateEvent, anomGala)
	l.mustCall(db, ticketing.ProcBuy, anomBuy("ann", 1, 1))
	l.mustCall(db, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "vip", Customer: "bob"})
	l.mustCall(db, ticketing.ProcBuy, anomBuy("cy", 1, 3))
	l.mustCall(db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: "gala/vip/1/3/cy"})
	l.mustCall(db, ticketing.ProcBuy, anomBuy("cy", 1, 3))
	if r := l.call(db, ticketing.ProcBuy, anomBuy("dan", 1, 1)); r == nil || !r.ReadOnly() {
		t.Fatal("dan's buy of a taken seat committed")
	}
	l.call(db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: "nope"})
	if r := l.call(db, ticketing.ProcBuy, anomBuy("eve", 9, 9)); r != nil {
		t.Fatal("a buy of a seat gala lacks succeeded")
	}
	l.call(db, ticketing.ProcQueue, ticketing.QueueArgs{})
	if v := ticketing.Check(anomState(t, db)); len(v) > 0 {
		t.Fatalf("the base state breaks ticketing's rule: %q", v)
	}
}

// anomSell writes, raw, a valid ticket of seat s for customer, indexed.
func anomSell(t *testing.T, s ticketing.Seat, customer string) []anomRawWrite {
	id := s.String() + "/" + customer
	return []anomRawWrite{
		anomSet(t, ticketing.TicketKey(id), ticketing.Ticket{ID: id, Seat: s, Customer: customer, Status: ticketing.StatusValid}),
		anomSet(t, ticketing.CustomerKey(customer, id), id),
	}
}

func anomOwners(os ...string) []ticketing.Owner {
	var out []ticketing.Owner
	for _, o := range os {
		out = append(out, ticketing.Owner{Ticket: anomSeat(1, 1).String() + "/" + o, Customer: o})
	}
	return out
}

// anomCase is one case of an application's anomaly table: damage done to
// the base state (and the log), and the anomalies it must count.
type anomCase struct {
	name   string
	damage func(t *testing.T, db *liege.DB, l *anomLog)
	want   Anomalies
	// example must be named by one example.
	example []string
}

// runAnomCases runs each case on a fresh instance of app holding base.
func runAnomCases(t *testing.T, app string, register func(liege.Registrar) error, base func(*testing.T, *liege.DB, *anomLog), tests []anomCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := anomOpen(t, "A", register)
			l := &anomLog{t: t}
			base(t, db, l)
			if tc.damage != nil {
				tc.damage(t, db, l)
			}
			got, err := CountAnomalies(app, anomState(t, db), l.calls)
			anomWant(t, tc.name, got, err, tc.want)
			if tc.example != nil {
				anomWantExample(t, tc.name, got, tc.example...)
			}
		})
	}
}

func TestAnomaliesTicketing(t *testing.T) {
	s11, s12 := anomSeat(1, 1), anomSeat(1, 2)
	tests := []anomCase{
		{name: "clean"},
		{
			name: "unanswered purchases",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, ticketing.ProcBuy, anomBuy("fay", 2, 1), true)
				l.maybe(db, ticketing.ProcBuy, anomBuy("gus", 2, 2), false)
				l.maybe(db, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "vip", Customer: "hal"}, false)
			},
		},
		{
			// Both sales on the seat's record, as a merge of the owner
			// lists would leave it, and no queue item.
			name: "double sale on the seat",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", ticketing.ProcBuy, anomBuy("eve", 1, 1), "B/1")
				anomRaw(t, db, anomRawArgs{Set: append(anomSell(t, s11, "eve"), anomSet(t, ticketing.SeatKey(s11), anomOwners("ann", "eve")))})
			},
			want:    Anomalies{DoubleSold: 1},
			example: []string{s11.String(), `"gala/vip/1/1/ann" (ann)`, `"gala/vip/1/1/eve" (eve)`},
		},
		{
			// Last writer wins: eve's sale overwrote the seat's record;
			// ann's ticket is valid still.
			name: "double sale, seat overwritten",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", ticketing.ProcBuy, anomBuy("eve", 1, 1), "B/1")
				anomRaw(t, db, anomRawArgs{Set: append(anomSell(t, s11, "eve"), anomSet(t, ticketing.SeatKey(s11), anomOwners("eve")))})
			},
			want:    Anomalies{DoubleSold: 1},
			example: []string{s11.String(), "ann", "eve"},
		},
		{
			name: "double sale with a queue item",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", ticketing.ProcBuy, anomBuy("eve", 1, 1), "B/1")
				item := ticketing.Item{ID: "1-0", Kind: ticketing.KindDoubleSale, Seat: s11, Owners: anomOwners("ann", "eve"),
					Note: "reseat or refund one", At: "2026-11-21T16:18:02.123Z+0"}
				anomRaw(t, db, anomRawArgs{Set: append(anomSell(t, s11, "eve"),
					anomSet(t, ticketing.SeatKey(s11), anomOwners("ann", "eve")), anomSet(t, ticketing.QueueKey(1, 0), item))})
				if v := ticketing.Check(anomState(t, db)); len(v) > 0 {
					t.Fatalf("the corrected double sale breaks ticketing's rule: %q", v)
				}
			},
		},
		{
			// Sales the protocol could not seat: no ticket, an item.
			name: "unseatable sales with a queue item",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", ticketing.ProcBuy, anomBuy("eve", 2, 1), "B/1")
				l.acked("B", ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "vip", Customer: "fay"}, "B/2")
				at := "2026-11-21T16:18:02.123Z+0"
				anomRaw(t, db, anomRawArgs{Set: []anomRawWrite{
					anomSet(t, ticketing.QueueKey(1, 0), ticketing.Item{ID: "1-0", Kind: ticketing.KindUnseatable, Seat: anomSeat(2, 1),
						Owners: []ticketing.Owner{{Ticket: anomSeat(2, 1).String() + "/eve", Customer: "eve"}}, Note: "offer another seat", At: at}),
					anomSet(t, ticketing.QueueKey(2, 0), ticketing.Item{ID: "2-0", Kind: ticketing.KindUnseatable, Seat: anomSeat(2, 2),
						Owners: []ticketing.Owner{{Ticket: anomSeat(2, 2).String() + "/fay", Customer: "fay"}}, Note: "offer another seat", At: at}),
				}})
				if v := ticketing.Check(anomState(t, db)); len(v) > 0 {
					t.Fatalf("the queued sales break ticketing's rule: %q", v)
				}
			},
		},
		{
			// The same without the items.
			name: "unseated sales",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", ticketing.ProcBuy, anomBuy("eve", 2, 1), "B/1")
				l.acked("B", ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "vip", Customer: "fay"}, "B/2")
			},
			want:    Anomalies{Vanished: 2},
			example: []string{`"fay"`, "buy_best"},
		},
		{
			// ann's sale is gone altogether: ticket, index and seat.
			name: "sold ticket gone",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				id := s11.String() + "/ann"
				anomRaw(t, db, anomRawArgs{
					Del: [][]byte{ticketing.TicketKey(id), ticketing.CustomerKey("ann", id), ticketing.SeatKey(s11)},
					Set: []anomRawWrite{anomSet(t, ticketing.FreeKey(s11), true)},
				})
			},
			want:    Anomalies{Vanished: 1},
			example: []string{`"ann"`, s11.String()},
		},
		{
			name: "best seat's ticket gone",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				id := s12.String() + "/bob"
				anomRaw(t, db, anomRawArgs{
					Del: [][]byte{ticketing.TicketKey(id), ticketing.CustomerKey("bob", id), ticketing.SeatKey(s12)},
					Set: []anomRawWrite{anomSet(t, ticketing.FreeKey(s12), true)},
				})
			},
			want:    Anomalies{Vanished: 1},
			example: []string{`"bob"`, "gala/vip", "buy_best"},
		},
		{
			// A refund elsewhere freed the seat over bob's later sale (a
			// delete that wins): bob's ticket is valid, the seat free.
			name: "sale lost from the seat map",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				anomRaw(t, db, anomRawArgs{Del: [][]byte{ticketing.SeatKey(s12)}, Set: []anomRawWrite{anomSet(t, ticketing.FreeKey(s12), true)}})
			},
			want:    Anomalies{Vanished: 1},
			example: []string{`"gala/vip/1/2/bob"`, "free"},
		},
		{
			// The same for a ticket nobody was told of: no anomaly.
			name: "unacknowledged sale lost from the seat map",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, ticketing.ProcBuy, anomBuy("fay", 2, 4), true)
				s := anomSeat(2, 4)
				anomRaw(t, db, anomRawArgs{Del: [][]byte{ticketing.SeatKey(s)}, Set: []anomRawWrite{anomSet(t, ticketing.FreeKey(s), true)}})
			},
		},
	}
	runAnomCases(t, ticketing.Name, ticketing.Register, anomTicketingBase, tests)
}

// TestAnomaliesTicketingPath: a real double sale across a partition,
// corrected by the protocol into a seat with two owners and a queue item,
// costs nothing; nor does an unanswered purchase that committed.
func TestAnomaliesTicketingPath(t *testing.T) {
	p := pairtest.New(t, ticketing.Register)
	l := &anomLog{t: t, via: p.TryCall}
	l.mustCall(p.A(), ticketing.ProcCreateEvent, anomGala)
	p.Idle()
	p.Partition(true)
	l.mustCall(p.A(), ticketing.ProcBuy, anomBuy("ann", 1, 3))
	l.mustCall(p.B(), ticketing.ProcBuy, anomBuy("bob", 1, 3))
	l.maybe(p.B(), ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "vip", Customer: "cy"}, true)
	l.mustCall(p.A(), ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "vip", Customer: "dan"})
	p.Partition(false)
	p.Idle()
	for _, db := range []*liege.DB{p.A(), p.B()} {
		state := p.State(db)
		// The protocol's answer to the double sale is in the state: the
		// seat has both owners, and an item names it.
		var owners []ticketing.Owner
		for _, e := range state {
			if string(e.Key) == string(ticketing.SeatKey(anomSeat(1, 3))) {
				if err := e.Value.Decode(&owners); err != nil {
					t.Fatal(err)
				}
			}
		}
		items, err := ticketing.Queue(state)
		if len(owners) != 2 || err != nil || len(items) == 0 {
			t.Fatalf("%s: seat 1/3 has owners %+v and the queue %+v (%v), want two owners and an item", db.ID(), owners, items, err)
		}
		got, err := CountAnomalies(ticketing.Name, state, l.calls)
		anomWant(t, "site "+db.ID(), got, err, Anomalies{})
	}
	// The state is that of a correct run (checked last: it stops both).
	p.Converged(pairtest.Invariant(ticketing.Check))

}

// --- atm --------------------------------------------------------------------

var anomFees = atm.Fees{Withdrawal: 1, Overdraft: 25}

// anomATMBase: ann opens with 100 and bob with 50; ann deposits 30,
// withdraws 20 (fee 1) and sends bob 10; bob is denied 1000; a balance
// read, a statement, a failed deposit. Ann has 99, bob 60.
func anomATMBase(t *testing.T, db *liege.DB, l *anomLog) {
	t.Helper()
	l.mustCall(db, atm.ProcOpenAccount, atm.OpenArgs{Account: "ann", Opening: 100, Fees: anomFees})
	l.mustCall(db, atm.ProcOpenAccount, atm.OpenArgs{Account: "bob", Opening: 50, Fees: anomFees})
	l.call(db, atm.ProcOpenAccount, atm.OpenArgs{Account: "bob", Opening: 50, Fees: anomFees}) // exists
	l.mustCall(db, atm.ProcDeposit, atm.AmountArgs{Account: "ann", Amount: 30})
	l.mustCall(db, atm.ProcWithdraw, atm.AmountArgs{Account: "ann", Amount: 20})
	l.mustCall(db, atm.ProcTransfer, atm.TransferArgs{From: "ann", To: "bob", Amount: 10})
	if r := l.call(db, atm.ProcWithdraw, atm.AmountArgs{Account: "bob", Amount: 1000}); r == nil || !r.ReadOnly() {
		t.Fatal("bob's withdrawal of 1000 was not denied")
	}
	l.call(db, atm.ProcBalance, atm.AccountArgs{Account: "ann"})
	l.call(db, atm.ProcStatement, atm.StatementArgs{Account: "ann"})
	if r := l.call(db, atm.ProcDeposit, atm.AmountArgs{Account: "ann", Amount: -5}); r != nil {
		t.Fatal("a negative deposit succeeded")
	}
	if v := atm.Check(anomState(t, db)); len(v) > 0 {
		t.Fatalf("the base state breaks atm's rule: %q", v)
	}
}

func TestAnomaliesATM(t *testing.T) {
	deposit := func(acct string, n int64) atm.AmountArgs { return atm.AmountArgs{Account: acct, Amount: n} }
	tests := []anomCase{
		{name: "clean"},
		{
			// Both machines dispensed 150 from ann's 99, as a merge
			// without conflict checks lets them: the books add up, but the
			// account is negative and not flagged.
			name: "unflagged overdraft",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", atm.ProcWithdraw, deposit("ann", 150), "B/1")
				anomRaw(t, db, anomRawArgs{Add: []anomRawWrite{{Key: atm.BalanceKey("ann"), N: -151}}})
			},
			want:    Anomalies{UnflaggedNegative: 1},
			example: []string{`"ann"`, "-52"},
		},
		{
			// The same, honoured as the protocol's correction does: flagged,
			// charged the overdraft fee.
			name: "flagged overdraft",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", atm.ProcWithdraw, deposit("ann", 150), "B/1")
				anomRaw(t, db, anomRawArgs{
					Add: []anomRawWrite{{Key: atm.BalanceKey("ann"), N: -151 - anomFees.Overdraft}},
					Set: []anomRawWrite{anomSet(t, atm.AccountKey("ann"), atm.Account{Status: atm.StatusOverdrawn, Fees: anomFees, Overdrafts: 1})},
				})
			},
		},
		{
			name: "lost deposit",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", atm.ProcDeposit, deposit("bob", 40), "B/1")
			},
			want:    Anomalies{MoneyDrift: -40, MoneyWrong: 1},
			example: []string{`"bob"`, "60", "100"},
		},
		{
			// A merge dropped the credit of ann's transfer to bob.
			name: "lost transfer credit",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				anomRaw(t, db, anomRawArgs{Add: []anomRawWrite{{Key: atm.BalanceKey("bob"), N: -10}}})
			},
			want:    Anomalies{MoneyDrift: -10, MoneyWrong: 1},
			example: []string{"10 money destroyed"},
		},
		{
			name: "money created",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				anomRaw(t, db, anomRawArgs{Add: []anomRawWrite{{Key: atm.BalanceKey("ann"), N: 7}, {Key: atm.BalanceKey("bob"), N: 7}}})
			},
			want:    Anomalies{MoneyDrift: 14, MoneyWrong: 2},
			example: []string{"14 money created"},
		},
		{
			name: "unanswered deposit that committed",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, atm.ProcDeposit, deposit("bob", 40), true)
			},
		},
		{
			name: "unanswered deposit that did not commit",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, atm.ProcDeposit, deposit("bob", 40), false)
			},
		},
		{
			// An unanswered deposit of 40 cannot explain 15 too many.
			name: "unanswered deposit explains nothing",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, atm.ProcDeposit, deposit("bob", 40), false)
				anomRaw(t, db, anomRawArgs{Add: []anomRawWrite{{Key: atm.BalanceKey("bob"), N: 15}}})
			},
			want:    Anomalies{MoneyDrift: 15, MoneyWrong: 1},
			example: []string{`"bob"`, "+15"},
		},
		{
			name: "unanswered calls, some committed",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, atm.ProcWithdraw, deposit("ann", 30), true)
				l.maybe(db, atm.ProcWithdraw, deposit("ann", 5), false)
				l.maybe(db, atm.ProcTransfer, atm.TransferArgs{From: "bob", To: "ann", Amount: 8}, true)
				l.maybe(db, atm.ProcTransfer, atm.TransferArgs{From: "ann", To: "bob", Amount: 3}, false)
				l.maybe(db, atm.ProcOpenAccount, atm.OpenArgs{Account: "cy", Opening: 70, Fees: anomFees}, true)
				l.maybe(db, atm.ProcOpenAccount, atm.OpenArgs{Account: "dee", Opening: 70, Fees: anomFees}, false)
			},
		},
	}
	runAnomCases(t, atm.Name, atm.Register, anomATMBase, tests)
}

// TestAnomaliesATMOpenedOutsideTheLog: an account opened by a call the log
// does not hold takes its opening from its log entries.
func TestAnomaliesATMOpenedOutsideTheLog(t *testing.T) {
	db := anomOpen(t, "A", atm.Register)
	if _, err := db.Call(context.Background(), atm.ProcOpenAccount, atm.OpenArgs{Account: "ann", Opening: 100, Fees: anomFees}); err != nil {
		t.Fatal(err)
	}
	l := &anomLog{t: t}
	l.mustCall(db, atm.ProcDeposit, atm.AmountArgs{Account: "ann", Amount: 5})
	got, err := CountAnomalies(atm.Name, anomState(t, db), l.calls)
	anomWant(t, "opened outside the log", got, err, Anomalies{})
	l.acked("A", atm.ProcDeposit, atm.AmountArgs{Account: "ann", Amount: 9}, "A/99")
	got, err = CountAnomalies(atm.Name, anomState(t, db), l.calls)
	anomWant(t, "a lost deposit", got, err, Anomalies{MoneyDrift: -9, MoneyWrong: 1})
}

// TestAnomaliesATMPath: two machines dispense 80 from ann's 100 during a
// partition; the protocol honours the vassal's by a correction that
// overdraws and flags the account. Nothing is an anomaly, nor is an
// unanswered deposit that committed during the partition.
func TestAnomaliesATMPath(t *testing.T) {
	p := pairtest.New(t, atm.Register)
	l := &anomLog{t: t, via: p.TryCall}
	l.mustCall(p.A(), atm.ProcOpenAccount, atm.OpenArgs{Account: "ann", Opening: 100, Fees: anomFees})
	l.mustCall(p.A(), atm.ProcOpenAccount, atm.OpenArgs{Account: "bob", Opening: 10, Fees: anomFees})
	p.Idle()
	p.Partition(true)
	l.mustCall(p.A(), atm.ProcWithdraw, atm.AmountArgs{Account: "ann", Amount: 80})
	l.mustCall(p.B(), atm.ProcWithdraw, atm.AmountArgs{Account: "ann", Amount: 80})
	l.maybe(p.B(), atm.ProcDeposit, atm.AmountArgs{Account: "bob", Amount: 12}, true)
	l.mustCall(p.A(), atm.ProcTransfer, atm.TransferArgs{From: "bob", To: "ann", Amount: 5})
	p.Partition(false)
	p.Idle()
	for _, db := range []*liege.DB{p.A(), p.B()} {
		var bal atm.Balance
		r := p.Call(db, atm.ProcBalance, atm.AccountArgs{Account: "ann"})
		if err := r.Decode(&bal); err != nil {
			t.Fatal(err)
		}
		// 100 + 5 - 2*(80+1) - 25
		if bal.Balance != -82 || bal.Status != atm.StatusOverdrawn {
			t.Fatalf("%s: ann has %+v, want -82, overdrawn", db.ID(), bal)
		}
		got, err := CountAnomalies(atm.Name, p.State(db), l.calls)
		anomWant(t, "site "+db.ID(), got, err, Anomalies{})
	}
	// The state is that of a correct run (checked last: it stops both).
	p.Converged(pairtest.Invariant(atm.Check))

}

// --- kv ---------------------------------------------------------------------

// anomKVBase: n-a and n-b get 100 each, n-a sends n-b 30; a refused
// transfer; a string and a list (l-x: v1, v2, v1) elsewhere; reads.
func anomKVBase(t *testing.T, db *liege.DB, l *anomLog) {
	t.Helper()
	l.mustCall(db, kv.ProcAdd, kv.AddArgs{Key: "n-a", Delta: 100})
	l.mustCall(db, kv.ProcAdd, kv.AddArgs{Key: "n-b", Delta: 100})
	l.mustCall(db, kv.ProcTransfer, kv.TransferArgs{From: "n-a", To: "n-b", Amount: 30})
	if r := l.call(db, kv.ProcTransfer, kv.TransferArgs{From: "n-a", To: "n-b", Amount: 500}); r == nil || !r.ReadOnly() {
		t.Fatal("an overdraft transfer was not refused")
	}
	l.mustCall(db, kv.ProcSet, kv.SetArgs{Key: "x", Value: "hello"})
	for _, v := range []string{"v1", "v2", "v1"} {
		l.mustCall(db, kv.ProcAppend, kv.AppendArgs{Key: "l-x", Value: v})
	}
	l.call(db, kv.ProcGet, kv.KeyArgs{Key: "n-a"})
	l.call(db, kv.ProcAdd, kv.AddArgs{Key: "n-a", Delta: -4}) // refused
	if v := kv.Check(anomState(t, db)); len(v) > 0 {
		t.Fatalf("the base state breaks kv's invariant: %q", v)
	}
}

func TestAnomaliesKV(t *testing.T) {
	tests := []anomCase{
		{name: "clean"},
		{
			// Both sites moved 100 out of n-a's 70.
			name: "unflagged overdraft",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", kv.ProcTransfer, kv.TransferArgs{From: "n-a", To: "n-c", Amount: 100}, "B/1")
				anomRaw(t, db, anomRawArgs{Add: []anomRawWrite{{Key: kv.Key("n-a"), N: -100}, {Key: kv.Key("n-c"), N: 100}}})
			},
			want:    Anomalies{UnflaggedNegative: 1},
			example: []string{`"n-a"`, "-30"},
		},
		{
			name: "overdraft a correction record names",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", kv.ProcTransfer, kv.TransferArgs{From: "n-a", To: "n-c", Amount: 100}, "B/1")
				rec := kv.CorrectionRecord{Proc: kv.ProcTransfer, Args: "{}", Told: `"ok"`, Reexecuted: `"insufficient"`, Action: "moved",
					Keys: []string{"n-a", "n-c"}, Overdrawn: []string{"n-a"}, At: "2026-11-21T16:18:02.123Z+0"}
				anomRaw(t, db, anomRawArgs{
					Add: []anomRawWrite{{Key: kv.Key("n-a"), N: -100}, {Key: kv.Key("n-c"), N: 100}},
					Set: []anomRawWrite{anomSet(t, liege.K(kv.CorrectionPrefix, int64(1), int64(0)), rec)},
				})
				if v := kv.Check(anomState(t, db)); len(v) > 0 {
					t.Fatalf("the corrected overdraft breaks kv's invariant: %q", v)
				}
			},
		},
		{
			name: "lost add",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.acked("B", kv.ProcAdd, kv.AddArgs{Key: "n-b", Delta: 5}, "B/1")
			},
			want:    Anomalies{MoneyDrift: -5, MoneyWrong: 1},
			example: []string{`"n-b"`, "130", "135"},
		},
		{
			// Last writer wins: the newer add's after-image overwrote n-a.
			name: "add overwritten",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				anomRaw(t, db, anomRawArgs{Set: []anomRawWrite{anomSet(t, kv.Key("n-a"), int64(30))}})
			},
			want: Anomalies{MoneyDrift: -40, MoneyWrong: 1},
		},
		{
			name: "unanswered add that committed",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, kv.ProcAdd, kv.AddArgs{Key: "n-b", Delta: 5}, true)
				l.maybe(db, kv.ProcTransfer, kv.TransferArgs{From: "n-b", To: "n-d", Amount: 9}, true)
				l.maybe(db, kv.ProcTransfer, kv.TransferArgs{From: "n-b", To: "n-d", Amount: 4}, false)
			},
		},
		{
			// A set makes n-a a string: it is no balance any more.
			name: "balance key set",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.mustCall(db, kv.ProcSet, kv.SetArgs{Key: "n-a", Value: "gone"})
			},
		},
		{
			// A delete empties n-a: it is no balance any more.
			name: "balance key deleted",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.mustCall(db, kv.ProcDelete, kv.KeyArgs{Key: "n-a"})
			},
		},
		{
			// Last writer wins: one site's append overwrote the other's
			// list, dropping v2.
			name: "lost append",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				anomRaw(t, db, anomRawArgs{Set: []anomRawWrite{anomSet(t, kv.Key("l-x"), []string{"v1", "v1"})}})
			},
			want:    Anomalies{Vanished: 1},
			example: []string{`"v2"`, `"l-x"`},
		},
		{
			name: "lost repeated append",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				anomRaw(t, db, anomRawArgs{Set: []anomRawWrite{anomSet(t, kv.Key("l-x"), []string{"v2", "v1"})}})
			},
			want:    Anomalies{Vanished: 1},
			example: []string{`2 acknowledged appends of "v1"`},
		},
		{
			name: "unanswered append",
			damage: func(t *testing.T, db *liege.DB, l *anomLog) {
				l.maybe(db, kv.ProcAppend, kv.AppendArgs{Key: "l-x", Value: "v3"}, false)
				l.maybe(db, kv.ProcAppend, kv.AppendArgs{Key: "l-x", Value: "v4"}, true)
			},
		},
	}
	runAnomCases(t, kv.Name, kv.Register, anomKVBase, tests)
}

// TestAnomaliesKVPath: both sites move 40 of n-a's 50 during a partition;
// the protocol honours the vassal's transfer, overdrawing n-a with a
// correction record that says so; concurrent appends are corrected into
// the list. Nothing is an anomaly.
func TestAnomaliesKVPath(t *testing.T) {
	p := pairtest.New(t, kv.Register)
	l := &anomLog{t: t, via: p.TryCall}
	l.mustCall(p.A(), kv.ProcAdd, kv.AddArgs{Key: "n-a", Delta: 50})
	p.Idle()
	p.Partition(true)
	l.mustCall(p.A(), kv.ProcTransfer, kv.TransferArgs{From: "n-a", To: "n-b", Amount: 40})
	l.mustCall(p.B(), kv.ProcTransfer, kv.TransferArgs{From: "n-a", To: "n-c", Amount: 40})
	l.mustCall(p.A(), kv.ProcAppend, kv.AppendArgs{Key: "l-x", Value: "a"})
	l.mustCall(p.B(), kv.ProcAppend, kv.AppendArgs{Key: "l-x", Value: "b"})
	l.maybe(p.B(), kv.ProcAdd, kv.AddArgs{Key: "n-c", Delta: 3}, true)
	p.Partition(false)
	p.Idle()
	for _, db := range []*liege.DB{p.A(), p.B()} {
		state := p.State(db)
		var na int64 = 1
		for _, e := range state {
			if string(e.Key) == string(kv.Key("n-a")) {
				na, _ = e.Value.Int()
			}
		}
		if na != -30 {
			t.Fatalf("%s: n-a holds %d, want -30 (overdrawn by the correction)", db.ID(), na)
		}
		got, err := CountAnomalies(kv.Name, state, l.calls)
		anomWant(t, "site "+db.ID(), got, err, Anomalies{})
	}
	// The state is that of a correct run (checked last: it stops both).
	p.Converged(pairtest.Invariant(kv.Check))

}

// --- the rest ---------------------------------------------------------------

func TestAnomaliesBadInput(t *testing.T) {
	if _, err := CountAnomalies("bank", nil, nil); err == nil || !strings.Contains(err.Error(), `"bank"`) {
		t.Errorf("an unknown application: error %v", err)
	}
	txid := "A/1"
	bad := []oracle.Call{{Site: "A", Proc: atm.ProcDeposit, Args: json.RawMessage(`{"account": 7}`), Status: 200, TxID: &txid}}
	if _, err := CountAnomalies(atm.Name, nil, bad); err == nil || !strings.Contains(err.Error(), "deposit at A (txid A/1)") {
		t.Errorf("undecodable arguments of an acked call: error %v", err)
	}
	// A failed call's arguments are not read.
	bad[0].Status, bad[0].TxID = 400, nil
	if got, err := CountAnomalies(atm.Name, nil, bad); err != nil || got.Total() != 0 {
		t.Errorf("a failed call with bad arguments: %+v, %v", got, err)
	}
	if got, err := CountAnomalies(kv.Name, nil, nil); err != nil || got.Total() != 0 {
		t.Errorf("no state, no calls: %+v, %v", got, err)
	}
}

func TestAnomaliesNearestSubsetSum(t *testing.T) {
	const wide = maxSubsetRange
	tests := []struct {
		target  int64
		effects []int64
		want    int64
	}{
		{0, nil, 0},
		{5, nil, 0},
		{5, []int64{3, 2}, 5},
		{4, []int64{3, 2}, 3}, // 3 and 5 are as near: the smaller
		{1, []int64{3, 2}, 0},
		{9, []int64{3, 2}, 5},
		{-7, []int64{-3, 10, -5}, -8},
		{-2, []int64{-3, 10, -5}, -3},
		{12, []int64{-3, 10, -5}, 10},
		{7, []int64{10, -3}, 7},
		{6, []int64{4, 4, 4}, 4}, // 4 and 8: the smaller
		{0, []int64{0, 0}, 0},
		// Too wide to search: anything in range is explained.
		{7, []int64{wide, wide}, 7},
		{3 * wide, []int64{wide, wide}, 2 * wide},
		{-5, []int64{wide, wide}, 0},
	}
	for _, tc := range tests {
		if got := nearestSubsetSum(tc.target, tc.effects); got != tc.want {
			t.Errorf("nearestSubsetSum(%d, %v) = %d, want %d", tc.target, tc.effects, got, tc.want)
		}
	}
}
