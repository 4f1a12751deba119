package ticketing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/internal/apptest"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// openID opens a fresh instance called id with ticketing registered.
func openID(t *testing.T, id string) *liege.DB { return apptest.Open(t, id, ticketing.Register) }

func open(t *testing.T) *liege.DB { return openID(t, "A") }

// The shared helpers (internal/apptest), under the names these tests use.
var (
	call    = apptest.Call
	word    = apptest.Word
	state   = apptest.State
	lastPos = apptest.LastPos
	wantErr = apptest.WantErr
)

func checkHolds(t *testing.T, db *liege.DB) {
	t.Helper()
	apptest.CheckHolds(t, db, ticketing.Check)
}

// gala is the event most tests use: stalls of 2 rows of 12 seats (so that
// seat 10 must sort after seat 9, not after seat 1) and a balcony of 1 row
// of 3.
var gala = ticketing.CreateEventArgs{Event: "gala", Sections: []ticketing.Section{
	{Name: "stalls", Rows: 2, SeatsPerRow: 12},
	{Name: "balcony", Rows: 1, SeatsPerRow: 3},
}}

func createGala(t *testing.T, db *liege.DB) {
	t.Helper()
	if r, res := word(t, db, ticketing.ProcCreateEvent, gala); r != ticketing.Created || res.ReadOnly() {
		t.Fatalf("create_event: %q, read-only %v", r, res.ReadOnly())
	}
}

func seat(section string, row, n int64) ticketing.Seat {
	return ticketing.Seat{Event: "gala", Section: section, Row: row, Number: n}
}

func buy(t *testing.T, db *liege.DB, s ticketing.Seat, customer string) (ticketing.Purchase, *liege.Result) {
	t.Helper()
	var p ticketing.Purchase
	res := call(t, db, ticketing.ProcBuy, ticketing.BuyArgs{Event: s.Event, Section: s.Section, Row: s.Row, Number: s.Number, Customer: customer}, &p)
	return p, res
}

func buyBest(t *testing.T, db *liege.DB, section, customer string) (ticketing.Purchase, *liege.Result) {
	t.Helper()
	var p ticketing.Purchase
	res := call(t, db, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: section, Customer: customer}, &p)
	return p, res
}

func sold(s ticketing.Seat, customer string) ticketing.Purchase {
	return ticketing.Purchase{Outcome: ticketing.Sold, Ticket: s.String() + "/" + customer, Seat: &s}
}

func tickets(t *testing.T, db *liege.DB, customer string) []ticketing.Ticket {
	t.Helper()
	var ts []ticketing.Ticket
	if res := call(t, db, ticketing.ProcTickets, ticketing.CustomerArgs{Customer: customer}, &ts); !res.ReadOnly() {
		t.Fatal("tickets committed")
	}
	return ts
}

func availability(t *testing.T, db *liege.DB) map[string]int64 {
	t.Helper()
	var a ticketing.Availability
	if res := call(t, db, ticketing.ProcAvailability, ticketing.EventArgs{Event: "gala"}, &a); !res.ReadOnly() {
		t.Fatal("availability committed")
	}
	free := map[string]int64{}
	for _, s := range a.Sections {
		free[s.Section] = s.Free
	}
	return free
}

func owners(t *testing.T, db *liege.DB, s ticketing.Seat) []ticketing.Owner {
	t.Helper()
	e, ok, err := db.Get(context.Background(), ticketing.SeatKey(s))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	var os []ticketing.Owner
	if err := e.Value.Decode(&os); err != nil {
		t.Fatal(err)
	}
	return os
}

func queue(t *testing.T, db *liege.DB) []ticketing.Item {
	t.Helper()
	var q []ticketing.Item
	if res := call(t, db, ticketing.ProcQueue, ticketing.QueueArgs{}, &q); !res.ReadOnly() {
		t.Fatal("queue committed")
	}
	fromState, err := ticketing.Queue(state(t, db))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, fromState) {
		t.Fatalf("the queue procedure says %+v, Queue of the state %+v", q, fromState)
	}
	return q
}

func TestRegisterRegistersEveryProcedure(t *testing.T) {
	apptest.RegistersEveryProcedure(t, "ticketing", ticketing.Register, ticketing.Procedures())
}

func TestCreateEventAndAvailability(t *testing.T) {
	db := open(t)
	createGala(t, db)
	if free := availability(t, db); free["stalls"] != 24 || free["balcony"] != 3 || len(free) != 2 {
		t.Fatalf("availability of a new event: %v", free)
	}
	var a ticketing.Availability
	call(t, db, ticketing.ProcAvailability, ticketing.EventArgs{Event: "gala"}, &a)
	if a.Sections[0].Section != "stalls" || a.Sections[0].Seats != 24 || a.Sections[1].Seats != 3 {
		t.Fatalf("availability: %+v", a)
	}
	before := lastPos(t, db)
	other := ticketing.CreateEventArgs{Event: "gala", Sections: []ticketing.Section{{Name: "pit", Rows: 1, SeatsPerRow: 1}}}
	if r, res := word(t, db, ticketing.ProcCreateEvent, other); r != ticketing.Exists || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("creating an existing event: %q, read-only %v", r, res.ReadOnly())
	}
	section := func(name string, rows, seats int64) []ticketing.Section {
		return []ticketing.Section{{Name: name, Rows: rows, SeatsPerRow: seats}}
	}
	wantErr(t, db, ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Sections: section("a", 1, 1)}, "event must not be empty")
	wantErr(t, db, ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Event: "a/b", Sections: section("a", 1, 1)}, `must not contain "/"`)
	wantErr(t, db, ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Event: "x"}, "at least one section")
	wantErr(t, db, ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Event: "x", Sections: section("a", 0, 1)}, "must be positive")
	wantErr(t, db, ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Event: "x", Sections: section("a", 1000, 1000)}, "more than")
	wantErr(t, db, ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Event: "x", Sections: append(section("a", 1, 1), section("a", 1, 1)...)}, "appears twice")
	wantErr(t, db, ticketing.ProcAvailability, ticketing.EventArgs{Event: "nope"}, `no event "nope"`)
	checkHolds(t, db)
}

func TestBuy(t *testing.T) {
	db := open(t)
	createGala(t, db)
	s := seat("stalls", 1, 5)
	p, res := buy(t, db, s, "ann")
	if !reflect.DeepEqual(p, sold(s, "ann")) || p.Ticket != "gala/stalls/1/5/ann" || res.ReadOnly() {
		t.Fatalf("buy: %+v, read-only %v", p, res.ReadOnly())
	}
	// The seat is taken: the answer commits nothing.
	before := lastPos(t, db)
	if p, res := buy(t, db, s, "bob"); !reflect.DeepEqual(p, ticketing.Purchase{Outcome: ticketing.Taken}) || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("buying a taken seat: %+v, read-only %v", p, res.ReadOnly())
	}
	if os := owners(t, db, s); !reflect.DeepEqual(os, []ticketing.Owner{{Ticket: p.Ticket, Customer: "ann"}}) {
		t.Fatalf("owners %+v", os)
	}
	if ts := tickets(t, db, "ann"); len(ts) != 1 || ts[0] != (ticketing.Ticket{ID: p.Ticket, Seat: s, Customer: "ann", Status: ticketing.StatusValid}) {
		t.Fatalf("ann's tickets: %+v", ts)
	}
	if ts := tickets(t, db, "bob"); ts == nil || len(ts) != 0 {
		t.Fatalf("bob's tickets: %#v, want an empty list", ts)
	}
	if free := availability(t, db); free["stalls"] != 23 || free["balcony"] != 3 {
		t.Fatalf("availability: %v", free)
	}
	args := func(section string, row, n int64, customer string) ticketing.BuyArgs {
		return ticketing.BuyArgs{Event: "gala", Section: section, Row: row, Number: n, Customer: customer}
	}
	wantErr(t, db, ticketing.ProcBuy, args("stalls", 3, 1, "cy"), "has no seat gala/stalls/3/1")
	wantErr(t, db, ticketing.ProcBuy, args("stalls", 1, 13, "cy"), "has no seat")
	wantErr(t, db, ticketing.ProcBuy, args("stalls", 0, 1, "cy"), "has no seat")
	wantErr(t, db, ticketing.ProcBuy, args("pit", 1, 1, "cy"), "has no seat")
	wantErr(t, db, ticketing.ProcBuy, ticketing.BuyArgs{Event: "nope", Section: "stalls", Row: 1, Number: 1, Customer: "cy"}, `no event "nope"`)
	wantErr(t, db, ticketing.ProcBuy, args("stalls", 1, 1, ""), "customer must not be empty")
	wantErr(t, db, ticketing.ProcBuy, args("stalls", 1, 1, "c/y"), `must not contain "/"`)
	wantErr(t, db, ticketing.ProcTickets, ticketing.CustomerArgs{}, "must not be empty")
	checkHolds(t, db)
}

func TestBuyBestTakesSeatsInOrder(t *testing.T) {
	db := open(t)
	createGala(t, db)
	buy(t, db, seat("stalls", 1, 2), "early") // the second seat is sold already
	var got []ticketing.Seat
	for range 23 {
		p, res := buyBest(t, db, "stalls", "ann")
		if p.Outcome != ticketing.Sold || p.Seat == nil || res.ReadOnly() {
			t.Fatalf("buy_best: %+v", p)
		}
		got = append(got, *p.Seat)
	}
	var want []ticketing.Seat
	for row := int64(1); row <= 2; row++ {
		for n := int64(1); n <= 12; n++ {
			if row != 1 || n != 2 {
				want = append(want, seat("stalls", row, n))
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("buy_best sold %v, want %v", got, want)
	}
	before := lastPos(t, db)
	if p, res := buyBest(t, db, "stalls", "bob"); !reflect.DeepEqual(p, ticketing.Purchase{Outcome: ticketing.SoldOut}) || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("buy_best in a full section: %+v, read-only %v", p, res.ReadOnly())
	}
	// The balcony is another section: still free.
	if p, _ := buyBest(t, db, "balcony", "bob"); !reflect.DeepEqual(p, sold(seat("balcony", 1, 1), "bob")) {
		t.Fatalf("buy_best in the balcony: %+v", p)
	}
	// A refund frees a seat, which buy_best then finds.
	if r, _ := word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: "gala/stalls/2/3/ann"}); r != ticketing.Refunded {
		t.Fatalf("refund: %q", r)
	}
	if p, _ := buyBest(t, db, "stalls", "cy"); !reflect.DeepEqual(p, sold(seat("stalls", 2, 3), "cy")) {
		t.Fatalf("buy_best after a refund: %+v", p)
	}
	wantErr(t, db, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "pit", Customer: "cy"}, `no section "pit"`)
	wantErr(t, db, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "nope", Section: "stalls", Customer: "cy"}, `no event "nope"`)
	checkHolds(t, db)
}

// buy_best finds its seat with an ordered scan: the record holds the range
// of seats it proved sold, up to and including the one it found, so that a
// refund of a seat in it on the other instance is a conflict (a phantom).
func TestBuyBestRecordsTheRangeItScanned(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	createGala(t, db)
	buy(t, db, seat("stalls", 1, 1), "x")
	buy(t, db, seat("stalls", 1, 2), "y")
	p, res := buyBest(t, db, "stalls", "ann")
	if *p.Seat != seat("stalls", 1, 3) {
		t.Fatalf("buy_best: %+v", p)
	}
	st, err := db.TxnStatus(ctx, res.TxID)
	if err != nil || st.Record == nil {
		t.Fatalf("status %+v %v", st, err)
	}
	r := st.Record
	lo := liege.K(ticketing.FreePrefix, "gala", "stalls")
	want := journal.RangeRead{Lo: lo, Hi: ticketing.FreeKey(seat("stalls", 1, 3)), LoInclusive: true, HiInclusive: true}
	if len(r.Ranges) != 1 || !reflect.DeepEqual(r.Ranges[0], want) {
		t.Fatalf("ranges %+v, want %+v", r.Ranges, want)
	}

	// A refund of seat 1/1, on an instance where it is clock-before the
	// purchase, conflicts with it; the sale of a seat outside the scanned
	// range does not.
	other := openID(t, "B")
	createGala(t, other)
	ticket, _ := buy(t, other, seat("stalls", 1, 1), "x")
	refund := call(t, other, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: ticket.Ticket}, nil)
	_, sale := buy(t, other, seat("stalls", 2, 7), "z")
	records := func(db *liege.DB, id journal.TxID) *detect.Txn {
		st, err := db.TxnStatus(ctx, id)
		if err != nil || st.Record == nil {
			t.Fatalf("status of %s: %+v %v", id, st, err)
		}
		return detect.FromRecord(st.Record)
	}
	best := records(db, res.TxID)
	ref := records(other, refund.TxID)
	ref.HLC = best.HLC - 1 // the refund is clock-before the purchase
	if _, key, ok := detect.Conflict(ref, best); !ok || !bytes.Equal(key, ticketing.FreeKey(seat("stalls", 1, 1))) {
		t.Fatalf("refund of a scanned seat vs buy_best: conflict %v on %s", ok, liege.Key(key))
	}
	if _, _, ok := detect.Conflict(best, ref); !ok {
		t.Fatal("buy_best vs refund of a scanned seat, seen from the other side: no conflict")
	}
	outside := records(other, sale.TxID)
	outside.HLC = best.HLC - 1
	if c, key, ok := detect.Conflict(outside, best); ok {
		t.Fatalf("a sale outside the scanned range conflicts with buy_best: %v on %s", c, liege.Key(key))
	}
}

func TestRefund(t *testing.T) {
	db := open(t)
	createGala(t, db)
	s := seat("balcony", 1, 2)
	p, _ := buy(t, db, s, "ann")
	if r, res := word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: p.Ticket}); r != ticketing.Refunded || res.ReadOnly() {
		t.Fatalf("refund: %q, read-only %v", r, res.ReadOnly())
	}
	if os := owners(t, db, s); os != nil {
		t.Fatalf("a refunded seat has owners %+v", os)
	}
	if free := availability(t, db); free["balcony"] != 3 {
		t.Fatalf("availability after a refund: %v", free)
	}
	before := lastPos(t, db)
	if r, res := word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: p.Ticket}); r != ticketing.AlreadyRefunded || !res.ReadOnly() {
		t.Fatalf("second refund: %q, read-only %v", r, res.ReadOnly())
	}
	if r, res := word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: "gala/balcony/1/2/bob"}); r != ticketing.UnknownTicket || !res.ReadOnly() {
		t.Fatalf("refund of an unknown ticket: %q, read-only %v", r, res.ReadOnly())
	}
	if lastPos(t, db) != before {
		t.Fatal("a refused refund journaled something")
	}
	// Bought again by the same customer: a new ticket id, never the
	// refunded one.
	p2, _ := buy(t, db, s, "ann")
	if p2.Ticket != "gala/balcony/1/2/ann/2" {
		t.Fatalf("second purchase: ticket %q", p2.Ticket)
	}
	ts := tickets(t, db, "ann")
	if len(ts) != 2 || ts[0].ID != p.Ticket || ts[0].Status != ticketing.StatusRefunded || ts[1].ID != p2.Ticket || ts[1].Status != ticketing.StatusValid {
		t.Fatalf("ann's tickets %+v", ts)
	}
	wantErr(t, db, ticketing.ProcRefund, ticketing.TicketArgs{}, "must not be empty")
	checkHolds(t, db)
}

var (
	record      = apptest.Record
	reconcile   = apptest.Reconcile
	correction  = apptest.Correction[ticketing.Correction]
	mustMarshal = apptest.MustMarshal
)

// Ticket ids depend on the arguments and the state only, so a purchase
// re-executed on a liege where nothing changed gives the same result and is
// reprocessed.
func TestReconcilePurchaseReprocessed(t *testing.T) {
	db := open(t)
	createGala(t, db)
	s := seat("stalls", 1, 1)
	out := reconcile(t, db, record(t, 1, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "stalls", Row: 1, Number: 1, Customer: "bob"}, sold(s, "bob")), enginetest.Reprocessed)
	if out.Result.Kind != journal.KindReprocess {
		t.Fatalf("outcome %+v", out)
	}
	reconcile(t, db, record(t, 2, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "stalls", Customer: "cy"}, sold(seat("stalls", 1, 2), "cy")), enginetest.Reprocessed)
	if os := owners(t, db, s); len(os) != 1 || os[0].Customer != "bob" {
		t.Fatalf("owners %+v", os)
	}
	if os := owners(t, db, seat("stalls", 1, 2)); len(os) != 1 || os[0].Customer != "cy" {
		t.Fatalf("owners %+v", os)
	}
	if len(queue(t, db)) != 0 {
		t.Fatal("a reprocessed sale queued an item")
	}
	checkHolds(t, db)
}

// The seat was sold on the liege meanwhile: the correction records both
// owners and queues an item naming the seat, both tickets and both
// customers. Customer service refunds one ticket and resolves the item.
func TestReconcileBuySeatTakenMeanwhile(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	createGala(t, db)
	s := seat("stalls", 1, 7)
	ann, _ := buy(t, db, s, "ann")
	told := sold(s, "bob")
	r := record(t, 1, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "stalls", Row: 1, Number: 7, Customer: "bob"}, told)
	out := reconcile(t, db, r, enginetest.Corrected)
	var reexec ticketing.Purchase
	if err := journal.Unmarshal(out.Reexecuted, &reexec); err != nil || reexec.Outcome != ticketing.Taken {
		t.Fatalf("re-execution gave %+v (%v), want taken", reexec, err)
	}
	both := []ticketing.Owner{{Ticket: ann.Ticket, Customer: "ann"}, {Ticket: told.Ticket, Customer: "bob"}}
	if os := owners(t, db, s); !reflect.DeepEqual(os, both) {
		t.Fatalf("owners %+v, want %+v", os, both)
	}
	q := queue(t, db)
	if len(q) != 1 {
		t.Fatalf("queue %+v, want one item", q)
	}
	it := q[0]
	if it.Kind != ticketing.KindDoubleSale || it.Seat != s || !reflect.DeepEqual(it.Owners, both) || it.At == "" ||
		!strings.Contains(it.Note, `"bob"`) || !strings.Contains(it.Note, told.Ticket) {
		t.Fatalf("item %+v", it)
	}
	if c := correction(t, out); c.Item != it.ID {
		t.Fatalf("correction %+v, item %s", c, it.ID)
	}
	if ts := tickets(t, db, "bob"); len(ts) != 1 || ts[0].ID != told.Ticket || ts[0].Status != ticketing.StatusValid {
		t.Fatalf("bob's tickets %+v", ts)
	}
	if st, err := db.TxnStatus(ctx, r.TxID()); err != nil || st.State != liege.TxnCorrected {
		t.Fatalf("status %+v %v", st, err)
	}
	checkHolds(t, db)

	// Without the item, the double sale breaks the rule.
	var stripped []liege.Entry
	for _, e := range state(t, db) {
		if !bytes.HasPrefix(e.Key, liege.K(ticketing.QueuePrefix)) {
			stripped = append(stripped, e)
		}
	}
	if v := ticketing.Check(stripped); len(v) != 1 || !strings.Contains(v[0], "has 2 owners") {
		t.Fatalf("Check without the item: %q", v)
	}

	// The item cannot be resolved while the seat has two owners.
	before := lastPos(t, db)
	if r, res := word(t, db, ticketing.ProcResolve, ticketing.ResolveArgs{Item: it.ID}); r != ticketing.StillDouble || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("resolve of a double sale: %q", r)
	}
	if r, _ := word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: told.Ticket}); r != ticketing.Refunded {
		t.Fatalf("refund of bob's ticket: %q", r)
	}
	if os := owners(t, db, s); !reflect.DeepEqual(os, both[:1]) {
		t.Fatalf("owners after the refund %+v", os)
	}
	if r, _ := word(t, db, ticketing.ProcResolve, ticketing.ResolveArgs{Item: it.ID}); r != ticketing.Resolved {
		t.Fatalf("resolve: %q", r)
	}
	if q := queue(t, db); len(q) != 0 {
		t.Fatalf("queue after resolving: %+v", q)
	}
	if r, _ := word(t, db, ticketing.ProcResolve, ticketing.ResolveArgs{Item: it.ID}); r != ticketing.UnknownItem {
		t.Fatalf("resolve again: %q", r)
	}
	wantErr(t, db, ticketing.ProcResolve, ticketing.ResolveArgs{Item: "x"}, "is not <hlc>-<n>")
	checkHolds(t, db)

	// The log is resent: nothing changes.
	if out := reconcile(t, db, r, enginetest.Skipped); out.Result.Pos == 0 {
		t.Fatalf("skipped outcome %+v", out)
	}
}

// buy_best re-executes to another seat. The customer keeps the seat they
// were told of: sold as told if it is free on the liege, a double sale if
// not.
func TestReconcileBuyBestAnotherSeat(t *testing.T) {
	db := open(t)
	createGala(t, db)
	args := ticketing.BuyBestArgs{Event: "gala", Section: "stalls", Customer: "bob"}

	// The liege sold 1/1 meanwhile: re-execution finds 1/2, but bob was
	// told 1/1.
	ann, _ := buyBest(t, db, "stalls", "ann")
	out := reconcile(t, db, record(t, 1, ticketing.ProcBuyBest, args, sold(seat("stalls", 1, 1), "bob")), enginetest.Corrected)
	var reexec ticketing.Purchase
	if err := journal.Unmarshal(out.Reexecuted, &reexec); err != nil || !reflect.DeepEqual(reexec, sold(seat("stalls", 1, 2), "bob")) {
		t.Fatalf("re-executed %+v %v", reexec, err)
	}
	if os := owners(t, db, seat("stalls", 1, 1)); len(os) != 2 || os[0].Ticket != ann.Ticket || os[1].Customer != "bob" {
		t.Fatalf("owners of 1/1: %+v", os)
	}
	if os := owners(t, db, seat("stalls", 1, 2)); os != nil {
		t.Fatalf("the discarded re-execution sold 1/2: %+v", os)
	}
	if q := queue(t, db); len(q) != 1 || q[0].Kind != ticketing.KindDoubleSale {
		t.Fatalf("queue %+v", q)
	}
	checkHolds(t, db)

	// cy was told 2/5 (on the vassal the seats before it were sold); on
	// the liege 1/2 is free, so re-execution picks it, but 2/5 is free too:
	// cy gets 2/5 as told, and nothing is queued.
	out = reconcile(t, db, record(t, 2, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "stalls", Customer: "cy"}, sold(seat("stalls", 2, 5), "cy")), enginetest.Corrected)
	if c := correction(t, out); c.Item != "" || !strings.Contains(c.Action, "as the customer was told") {
		t.Fatalf("correction %+v", c)
	}
	if os := owners(t, db, seat("stalls", 2, 5)); len(os) != 1 || os[0].Customer != "cy" {
		t.Fatalf("owners of 2/5: %+v", os)
	}
	if os := owners(t, db, seat("stalls", 1, 2)); os != nil {
		t.Fatalf("owners of 1/2: %+v", os)
	}
	if q := queue(t, db); len(q) != 1 {
		t.Fatalf("queue %+v", q)
	}
	// A customer told "sold out" holds nothing: nothing is sold.
	before := availability(t, db)
	reconcile(t, db, record(t, 3, ticketing.ProcBuyBest, args, ticketing.Purchase{Outcome: ticketing.SoldOut}), enginetest.Corrected)
	if after := availability(t, db); !reflect.DeepEqual(before, after) {
		t.Fatalf("correcting a sold-out answer changed availability %v -> %v", before, after)
	}
	checkHolds(t, db)
}

// The customer bought the seat on both instances: one ticket, two payments.
func TestReconcileDuplicateSale(t *testing.T) {
	db := open(t)
	createGala(t, db)
	s := seat("balcony", 1, 1)
	buy(t, db, s, "ann")
	out := reconcile(t, db, record(t, 1, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "balcony", Row: 1, Number: 1, Customer: "ann"}, sold(s, "ann")), enginetest.Corrected)
	c := correction(t, out)
	q := queue(t, db)
	if len(q) != 1 || q[0].Kind != ticketing.KindDuplicateSale || q[0].ID != c.Item || len(owners(t, db, s)) != 1 {
		t.Fatalf("queue %+v, owners %+v", q, owners(t, db, s))
	}
	checkHolds(t, db)
}

// Bought, refunded and bought again: the ticket the customer holds is valid
// again.
func TestReconcileRevivesRefundedTicket(t *testing.T) {
	db := open(t)
	createGala(t, db)
	s := seat("balcony", 1, 3)
	p, _ := buy(t, db, s, "ann")
	word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: p.Ticket})
	out := reconcile(t, db, record(t, 1, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "balcony", Row: 1, Number: 3, Customer: "ann"}, sold(s, "ann")), enginetest.Corrected)
	var reexec ticketing.Purchase
	if err := journal.Unmarshal(out.Reexecuted, &reexec); err != nil || reexec.Ticket != p.Ticket+"/2" {
		t.Fatalf("re-executed %+v %v", reexec, err)
	}
	ts := tickets(t, db, "ann")
	if len(ts) != 1 || ts[0].ID != p.Ticket || ts[0].Status != ticketing.StatusValid {
		t.Fatalf("ann's tickets %+v", ts)
	}
	if os := owners(t, db, s); len(os) != 1 || os[0].Ticket != p.Ticket {
		t.Fatalf("owners %+v", os)
	}
	if len(queue(t, db)) != 0 {
		t.Fatal("queued an item")
	}
	checkHolds(t, db)
}

func TestReconcileRefunds(t *testing.T) {
	db := open(t)
	createGala(t, db)
	p, _ := buy(t, db, seat("stalls", 2, 2), "ann")
	word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: p.Ticket})
	// Refunded on both instances.
	out := reconcile(t, db, record(t, 1, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: p.Ticket}, ticketing.Refunded), enginetest.Corrected)
	var reexec string
	if err := journal.Unmarshal(out.Reexecuted, &reexec); err != nil || reexec != ticketing.AlreadyRefunded {
		t.Fatalf("re-executed %q %v", reexec, err)
	}
	// Refunded a ticket the liege never sold.
	reconcile(t, db, record(t, 2, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: "gala/stalls/1/1/zed"}, ticketing.Refunded), enginetest.Corrected)
	q := queue(t, db)
	if len(q) != 2 || q[0].Kind != ticketing.KindDoubleRefund || q[0].Owners[0] != (ticketing.Owner{Ticket: p.Ticket, Customer: "ann"}) ||
		q[1].Kind != ticketing.KindUnknownRefund || q[1].Owners[0].Ticket != "gala/stalls/1/1/zed" {
		t.Fatalf("queue %+v", q)
	}
	// Items that are not double sales resolve at once.
	if r, _ := word(t, db, ticketing.ProcResolve, ticketing.ResolveArgs{Item: q[0].ID}); r != ticketing.Resolved {
		t.Fatalf("resolve: %q", r)
	}
	checkHolds(t, db)
}

func TestReconcileCreateEvent(t *testing.T) {
	db := open(t)
	createGala(t, db)
	// Created on both instances with the same layout: nothing to do.
	out := reconcile(t, db, record(t, 1, ticketing.ProcCreateEvent, gala, ticketing.Created), enginetest.Corrected)
	if c := correction(t, out); c.Item != "" {
		t.Fatalf("correction %+v", c)
	}
	// With another layout: the liege's stands, and the conflict is queued.
	other := ticketing.CreateEventArgs{Event: "gala", Sections: []ticketing.Section{{Name: "pit", Rows: 1, SeatsPerRow: 50}}}
	out = reconcile(t, db, record(t, 2, ticketing.ProcCreateEvent, other, ticketing.Created), enginetest.Corrected)
	q := queue(t, db)
	if c := correction(t, out); len(q) != 1 || q[0].ID != c.Item || q[0].Kind != ticketing.KindEventConflict || q[0].Seat.Event != "gala" {
		t.Fatalf("queue %+v", q)
	}
	// A sale of a seat only the other layout has cannot be seated.
	out = reconcile(t, db, record(t, 3, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "pit", Row: 1, Number: 40, Customer: "bob"},
		sold(seat("pit", 1, 40), "bob")), enginetest.Corrected)
	if out.ReexecError == nil || !strings.Contains(out.ReexecError.Error(), "has no seat") {
		t.Fatalf("re-execution error %v", out.ReexecError)
	}
	if q := queue(t, db); len(q) != 2 || q[1].Kind != ticketing.KindUnseatable {
		t.Fatalf("queue %+v", q)
	}
	if ts := tickets(t, db, "bob"); len(ts) != 0 {
		t.Fatalf("bob's tickets %+v", ts)
	}
	checkHolds(t, db)
}

// The whole path: the vassal sells a seat the liege sold too, rolls back,
// and the liege reconciles its log.
func TestVassalRollbackAndReconcile(t *testing.T) {
	ctx := context.Background()
	lg, vassal := openID(t, "A"), openID(t, "B")
	createGala(t, lg)
	createGala(t, vassal)
	buyBest(t, lg, "stalls", "ann")               // the liege sells 1/1 to ann
	_, bob := buyBest(t, vassal, "stalls", "bob") // the vassal, unaware, sells 1/1 to bob
	buy(t, vassal, seat("balcony", 1, 1), "cy")   // and a balcony seat nobody else sold
	res, err := vassal.RollbackTo(ctx, bob.Pos, "conflict with A")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := range lf.Records {
		r := &lf.Records[i]
		if !r.Kind.IsTxn() || r.Origin != "B" {
			continue
		}
		out, err := enginetest.Reconcile(ctx, lg, r)
		if err != nil {
			t.Fatal(err)
		}
		actions = append(actions, out.Action)
	}
	if !slices.Equal(actions, []string{enginetest.Corrected, enginetest.Reprocessed}) {
		t.Fatalf("actions %v", actions)
	}
	if q := queue(t, lg); len(q) != 1 || q[0].Seat != seat("stalls", 1, 1) || len(q[0].Owners) != 2 {
		t.Fatalf("queue %+v", q)
	}
	checkHolds(t, lg)
	checkHolds(t, vassal)
}

func TestCheckFindsViolations(t *testing.T) {
	db := open(t)
	createGala(t, db)
	ann, _ := buy(t, db, seat("stalls", 1, 1), "ann")
	reconcile(t, db, record(t, 1, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "stalls", Row: 1, Number: 1, Customer: "bob"}, sold(seat("stalls", 1, 1), "bob")), enginetest.Corrected)
	good := state(t, db)
	if v := ticketing.Check(good); len(v) > 0 {
		t.Fatal(v)
	}
	ticket := func(id string, s ticketing.Seat, customer, status string) liege.Value {
		return mustMarshal(t, ticketing.Ticket{ID: id, Seat: s, Customer: customer, Status: status})
	}
	without := func(k liege.Key) func([]liege.Entry) []liege.Entry {
		return func(es []liege.Entry) []liege.Entry {
			return slices.DeleteFunc(es, func(e liege.Entry) bool { return bytes.Equal(e.Key, k) })
		}
	}
	with := func(k liege.Key, v liege.Value) func([]liege.Entry) []liege.Entry {
		return func(es []liege.Entry) []liege.Entry {
			es = slices.DeleteFunc(es, func(e liege.Entry) bool { return bytes.Equal(e.Key, k) })
			return append(es, liege.Entry{Key: k, Value: v})
		}
	}
	q, err := ticketing.Queue(good)
	if err != nil || len(q) != 1 {
		t.Fatalf("queue %+v %v", q, err)
	}
	var itemKey liege.Key
	for _, e := range good {
		if bytes.HasPrefix(e.Key, liege.K(ticketing.QueuePrefix)) {
			itemKey = e.Key
		}
	}
	partial := q[0]
	partial.Owners = partial.Owners[:1]
	bad := q[0]
	bad.Kind = "lost-cat"
	cases := []struct {
		name   string
		change func([]liege.Entry) []liege.Entry
		want   string
	}{
		{"no item", without(itemKey), `has 2 owners, and no double-sale item in the work queue names "gala/stalls/1/1/ann" or "gala/stalls/1/1/bob"`},
		{"item names one ticket", with(itemKey, mustMarshal(t, partial)), `work queue names "gala/stalls/1/1/bob"`},
		{"item of unknown kind", with(itemKey, mustMarshal(t, bad)), `unknown kind "lost-cat"`},
		{"free and sold", with(ticketing.FreeKey(seat("stalls", 1, 1)), mustMarshal(t, true)), "both free and sold"},
		{"neither", without(ticketing.FreeKey(seat("stalls", 2, 12))), "seat gala/stalls/2/12 is neither free nor sold"},
		{"outside the layout", with(ticketing.FreeKey(seat("stalls", 3, 1)), mustMarshal(t, true)), "not in any event's layout"},
		{"refunded owner", with(ticketing.TicketKey(ann.Ticket), ticket(ann.Ticket, seat("stalls", 1, 1), "ann", ticketing.StatusRefunded)), "which is refunded"},
		{"ticket for another seat", with(ticketing.TicketKey(ann.Ticket), ticket(ann.Ticket, seat("stalls", 1, 2), "ann", ticketing.StatusValid)), "but the ticket is for seat gala/stalls/1/2"},
		{"valid ticket without a seat", with(ticketing.TicketKey("t"), ticket("t", seat("stalls", 2, 1), "ann", ticketing.StatusValid)), `valid ticket "t" does not own its seat`},
		{"unindexed ticket", without(ticketing.CustomerKey("ann", ann.Ticket)), `missing from customer "ann"'s index`},
		{"index of another's ticket", with(ticketing.CustomerKey("cy", ann.Ticket), mustMarshal(t, ann.Ticket)), `customer "cy"'s index names ticket`},
		{"bad status", with(ticketing.TicketKey("t"), ticket("t", seat("stalls", 2, 1), "ann", "lost")), `status "lost"`},
		{"foreign key", with(liege.K("kv", "x"), mustMarshal(t, 1)), "outside ticketing's key space"},
		{"undecodable seat", with(ticketing.SeatKey(seat("stalls", 1, 1)), mustMarshal(t, "ann")), "owners do not decode"},
		{"bad tuple", with(liege.Key{0xff}, mustMarshal(t, 1)), "does not decode as a tuple"},
	}
	for _, c := range cases {
		v := ticketing.Check(c.change(slices.Clone(good)))
		if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, c.want) }) {
			t.Errorf("%s: violations %q lack %q", c.name, v, c.want)
		}
	}
	// Many violations are summarised.
	var many []liege.Entry
	for i := range 150 {
		many = append(many, liege.Entry{Key: liege.K("x", i), Value: mustMarshal(t, 1)})
	}
	if v := ticketing.Check(many); len(v) != 101 || !strings.Contains(v[100], "and 50 more") {
		t.Errorf("150 violations reported as %d lines, last %q", len(v), v[len(v)-1])
	}
}

// JSON (over HTTP) and msgpack (in the journal) name the arguments alike.
func TestArgsJSONAndMsgpackAgree(t *testing.T) {
	db := open(t)
	cases := map[string]string{
		ticketing.ProcCreateEvent:  `{"event":"gala","sections":[{"name":"stalls","rows":2,"seats_per_row":12}]}`,
		ticketing.ProcBuy:          `{"event":"gala","section":"stalls","row":1,"number":1,"customer":"ann"}`,
		ticketing.ProcBuyBest:      `{"event":"gala","section":"stalls","customer":"bob"}`,
		ticketing.ProcRefund:       `{"ticket":"gala/stalls/1/1/ann"}`,
		ticketing.ProcTickets:      `{"customer":"ann"}`,
		ticketing.ProcAvailability: `{"event":"gala"}`,
		ticketing.ProcQueue:        `{}`,
		ticketing.ProcResolve:      `{"item":"1-0"}`,
	}
	for _, proc := range ticketing.Procedures() {
		args, err := db.NewArgs(proc)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(cases[proc]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(args); err != nil {
			t.Fatalf("%s: %v", proc, err)
		}
		if _, err := db.Call(context.Background(), proc, args); err != nil {
			t.Fatalf("%s: %v", proc, err)
		}
	}
	if ts := tickets(t, db, "ann"); len(ts) != 1 || ts[0].Status != ticketing.StatusRefunded {
		t.Fatalf("ann's tickets %+v", ts)
	}
	checkHolds(t, db)
}

func TestAppsRegistry(t *testing.T) {
	a, err := apps.Lookup(ticketing.Name)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != ticketing.Name || a.Description == "" || a.Register == nil || a.Check == nil {
		t.Fatalf("apps.Lookup(ticketing) = %+v", a)
	}
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := a.Register(db); err != nil {
		t.Fatal(err)
	}
	createGala(t, db)
	buyBest(t, db, "stalls", "ann")
	if v := a.Check(state(t, db)); len(v) > 0 {
		t.Fatal(v)
	}
}

// A seat sold three times has one double-sale item naming all three
// owners, not one item per further sale.
func TestReconcileThirdSaleUpdatesTheSeatsItem(t *testing.T) {
	db := open(t)
	createGala(t, db)
	s := seat("stalls", 1, 7)
	ann, _ := buy(t, db, s, "ann")
	toldBob, toldCy := sold(s, "bob"), sold(s, "cy")
	outBob := reconcile(t, db, record(t, 1, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "stalls", Row: 1, Number: 7, Customer: "bob"}, toldBob), enginetest.Corrected)
	outCy := reconcile(t, db, record(t, 2, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "stalls", Row: 1, Number: 7, Customer: "cy"}, toldCy), enginetest.Corrected)
	all := []ticketing.Owner{{Ticket: ann.Ticket, Customer: "ann"}, {Ticket: toldBob.Ticket, Customer: "bob"}, {Ticket: toldCy.Ticket, Customer: "cy"}}
	if os := owners(t, db, s); !reflect.DeepEqual(os, all) {
		t.Fatalf("owners %+v, want %+v", os, all)
	}
	q := queue(t, db)
	if len(q) != 1 {
		t.Fatalf("queue %+v, want one item for the seat", q)
	}
	it := q[0]
	if it.Kind != ticketing.KindDoubleSale || it.Seat != s || !reflect.DeepEqual(it.Owners, all) ||
		!strings.Contains(it.Note, "sold 3 times") || !strings.Contains(it.Note, `"cy"`) {
		t.Fatalf("item %+v", it)
	}
	if cb, cc := correction(t, outBob), correction(t, outCy); cb.Item != it.ID || cc.Item != it.ID {
		t.Fatalf("corrections %+v and %+v, want both to name item %s", cb, cc, it.ID)
	}
	checkHolds(t, db)

	// Once resolved, a later double sale of the seat makes a new item.
	for _, o := range all[1:] {
		if r, _ := word(t, db, ticketing.ProcRefund, ticketing.TicketArgs{Ticket: o.Ticket}); r != ticketing.Refunded {
			t.Fatalf("refund of %s: %q", o.Ticket, r)
		}
	}
	if r, _ := word(t, db, ticketing.ProcResolve, ticketing.ResolveArgs{Item: it.ID}); r != ticketing.Resolved {
		t.Fatalf("resolve: %q", r)
	}
	toldDee := sold(s, "dee")
	reconcile(t, db, record(t, 3, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "stalls", Row: 1, Number: 7, Customer: "dee"}, toldDee), enginetest.Corrected)
	if q := queue(t, db); len(q) != 1 || q[0].ID == it.ID || len(q[0].Owners) != 2 {
		t.Fatalf("queue after a new double sale %+v, want one new item with two owners", q)
	}
	checkHolds(t, db)
}
