package ticketing_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/journal"
)

// Two-instance scenarios: a liege A and a vassal B selling the same seat
// while the link between them is cut. The customers' world cannot be
// rolled back, so after the link heals the vassal's sale must be honoured
// by a correction that records both owners and queues the double sale.

// galaLayout is a small event: section A, 2 rows of 4 seats.
var galaLayout = ticketing.CreateEventArgs{Event: "gala", Sections: []ticketing.Section{{Name: "A", Rows: 2, SeatsPerRow: 4}}}

// newGala starts a pair, creates the gala on the liege and waits until the
// vassal has it.
func newGala(t *testing.T, opts ...pairtest.Option) *pairtest.Pair {
	t.Helper()
	p := pairtest.New(t, ticketing.Register, opts...)
	if got := decodeResult[string](t, p.Call(p.A(), ticketing.ProcCreateEvent, galaLayout)); got != ticketing.Created {
		t.Fatalf("create_event: %q", got)
	}
	p.Idle()
	return p
}

func decodeResult[R any](t *testing.T, r *liege.Result) R {
	t.Helper()
	var out R
	if err := r.Decode(&out); err != nil {
		t.Fatalf("decode the result of %v: %v", r.TxID, err)
	}
	return out
}

// wantSold checks that a purchase was told "sold" for seat s.
func wantSold(t *testing.T, site string, p ticketing.Purchase, s ticketing.Seat) {
	t.Helper()
	if p.Outcome != ticketing.Sold || p.Seat == nil || *p.Seat != s || p.Ticket == "" {
		t.Fatalf("the purchase at %s was told %+v, want sold %s", site, p, s)
	}
}

// wantDoubleSale checks the outcome of two sales of seat s, told as
// tickets a (the liege's) and b (the vassal's, TxID bID): the vassal's
// purchase was corrected on both instances, the seat has both owners on
// both, and the work queue holds one double-sale item naming the seat,
// both tickets and both customers.
func wantDoubleSale(t *testing.T, p *pairtest.Pair, s ticketing.Seat, a, b ticketing.Owner, bID journal.TxID) {
	t.Helper()
	for _, db := range []*liege.DB{p.A(), p.B()} {
		if st := p.Status(db, bID); st != liege.TxnCorrected {
			t.Errorf("%s reports the vassal's purchase %v as %s, want corrected", db.ID(), bID, st)
		}
		state := p.State(db)
		items, err := ticketing.Queue(state)
		if err != nil {
			t.Fatalf("%s: %v", db.ID(), err)
		}
		if len(items) != 1 {
			t.Fatalf("%s: the work queue holds %d items, want 1: %+v", db.ID(), len(items), items)
		}
		it := items[0]
		if it.Kind != ticketing.KindDoubleSale || it.Seat != s {
			t.Errorf("%s: the item is %s of seat %s, want %s of %s", db.ID(), it.Kind, it.Seat, ticketing.KindDoubleSale, s)
		}
		for _, o := range []ticketing.Owner{a, b} {
			if !slices.Contains(it.Owners, o) {
				t.Errorf("%s: the item's owners %+v do not name ticket %q of customer %q", db.ID(), it.Owners, o.Ticket, o.Customer)
			}
		}
		if it.Note == "" {
			t.Errorf("%s: the item does not say what to do", db.ID())
		}
		// The queue procedure lists the same item.
		if got := decodeResult[[]ticketing.Item](t, p.Call(db, ticketing.ProcQueue, ticketing.QueueArgs{})); len(got) != 1 || got[0].ID != it.ID {
			t.Errorf("%s: the queue procedure lists %+v, want item %s", db.ID(), got, it.ID)
		}
		// Both customers hold their ticket, valid.
		for _, o := range []ticketing.Owner{a, b} {
			tks := decodeResult[[]ticketing.Ticket](t, p.Call(db, ticketing.ProcTickets, ticketing.CustomerArgs{Customer: o.Customer}))
			if len(tks) != 1 || tks[0].ID != o.Ticket || tks[0].Status != ticketing.StatusValid || tks[0].Seat != s {
				t.Errorf("%s: customer %s holds %+v, want valid ticket %q of %s", db.ID(), o.Customer, tks, o.Ticket, s)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if n := len(ticketing.Check(p.State(p.A()))); n != 0 {
		t.Fatalf("the liege's state breaks the rule: %v", ticketing.Check(p.State(p.A())))
	}
}

func TestReplicatedDoubleSale(t *testing.T) {
	p := newGala(t)
	seat := ticketing.Seat{Event: "gala", Section: "A", Row: 1, Number: 3}
	buy := func(db *liege.DB, customer string) (ticketing.Purchase, *liege.Result) {
		t.Helper()
		r := p.Call(db, ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "A", Row: 1, Number: 3, Customer: customer})
		return decodeResult[ticketing.Purchase](t, r), r
	}

	p.Partition(true)
	ann, _ := buy(p.A(), "ann")
	bob, bobTx := buy(p.B(), "bob")
	wantSold(t, "the liege", ann, seat)
	wantSold(t, "the vassal", bob, seat)
	p.Partition(false)
	p.Idle()

	wantDoubleSale(t, p, seat,
		ticketing.Owner{Ticket: ann.Ticket, Customer: "ann"},
		ticketing.Owner{Ticket: bob.Ticket, Customer: "bob"}, bobTx.TxID)
	// The seat is sold to both, the rest of the event is free.
	av := decodeResult[ticketing.Availability](t, p.Call(p.B(), ticketing.ProcAvailability, ticketing.EventArgs{Event: "gala"}))
	if len(av.Sections) != 1 || av.Sections[0].Free != 7 {
		t.Errorf("availability on the vassal: %+v, want 7 of 8 free", av)
	}
	p.Converged(pairtest.Invariant(ticketing.Check))
}

// TestReplicatedBuyBest: buy_best at both sites at once, during a
// partition, both picking the first free seat. The sale conflicts on the
// seat's keys, and buy_best's scan of the section's free keys makes it a
// range-read conflict as well; the outcome is the same as for buy.
func TestReplicatedBuyBest(t *testing.T) {
	p := newGala(t)
	// Sell the first seat on the liege, so that the best free seat is the
	// second: the scans start below it and cover a sold seat.
	first := decodeResult[ticketing.Purchase](t, p.Call(p.A(), ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "A", Row: 1, Number: 1, Customer: "cy"}))
	wantSold(t, "the liege", first, ticketing.Seat{Event: "gala", Section: "A", Row: 1, Number: 1})
	p.Idle()
	seat := ticketing.Seat{Event: "gala", Section: "A", Row: 1, Number: 2}

	p.Partition(true)
	var wg sync.WaitGroup
	results := make([]*liege.Result, 2)
	errs := make([]error, 2)
	for i, site := range []struct {
		db       *liege.DB
		customer string
	}{{p.A(), "ann"}, {p.B(), "bob"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = p.TryCall(site.db, ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "A", Customer: site.customer})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("buy_best %d: %v", i, err)
		}
	}
	ann, bob := decodeResult[ticketing.Purchase](t, results[0]), decodeResult[ticketing.Purchase](t, results[1])
	wantSold(t, "the liege", ann, seat)
	wantSold(t, "the vassal", bob, seat)
	p.Partition(false)
	p.Idle()

	wantDoubleSale(t, p, seat,
		ticketing.Owner{Ticket: ann.Ticket, Customer: "ann"},
		ticketing.Owner{Ticket: bob.Ticket, Customer: "bob"}, results[1].TxID)
	// The first customer's seat is untouched.
	tks := decodeResult[[]ticketing.Ticket](t, p.Call(p.B(), ticketing.ProcTickets, ticketing.CustomerArgs{Customer: "cy"}))
	if len(tks) != 1 || tks[0].ID != first.Ticket {
		t.Errorf("cy holds %+v, want %q", tks, first.Ticket)
	}
	p.Converged(pairtest.Invariant(ticketing.Check))
}

// TestReplicatedRefundAndBuyBest: a refund on the liege frees a seat that
// buy_best on the vassal scanned past (a phantom in its range read): the
// vassal's purchase is re-executed on the liege, finds the freed, better
// seat, and is corrected to honour the seat the customer was told of,
// which is free on the liege: no double sale, no queue item.
func TestReplicatedRefundAndBuyBest(t *testing.T) {
	// The refund must be clock-before the purchase: a purchase before it
	// saw seat 1/1 sold, which the path allows. Both instances share a
	// clock moved by hand.
	var ms atomic.Int64
	ms.Store(time.Now().UnixMilli())
	p := newGala(t, pairtest.WithClock(func() time.Time { return time.UnixMilli(ms.Load()) }))
	cy := decodeResult[ticketing.Purchase](t, p.Call(p.A(), ticketing.ProcBuy, ticketing.BuyArgs{Event: "gala", Section: "A", Row: 1, Number: 1, Customer: "cy"}))
	p.Idle()

	p.Partition(true)
	if got := decodeResult[string](t, p.Call(p.A(), ticketing.ProcRefund, ticketing.TicketArgs{Ticket: cy.Ticket})); got != ticketing.Refunded {
		t.Fatalf("refund: %q", got)
	}
	ms.Add(1)
	bob := decodeResult[ticketing.Purchase](t, p.Call(p.B(), ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: "gala", Section: "A", Customer: "bob"}))
	bobTx := p.Acked()[len(p.Acked())-1]
	seat := ticketing.Seat{Event: "gala", Section: "A", Row: 1, Number: 2}
	wantSold(t, "the vassal", bob, seat)
	p.Partition(false)
	p.Idle()

	for _, db := range []*liege.DB{p.A(), p.B()} {
		if st := p.Status(db, bobTx); st != liege.TxnCorrected {
			t.Errorf("%s reports the vassal's purchase %v as %s, want corrected", db.ID(), bobTx, st)
		}
		items, err := ticketing.Queue(p.State(db))
		if err != nil || len(items) != 0 {
			t.Errorf("%s: the work queue holds %+v (%v), want nothing", db.ID(), items, err)
		}
		tks := decodeResult[[]ticketing.Ticket](t, p.Call(db, ticketing.ProcTickets, ticketing.CustomerArgs{Customer: "bob"}))
		if len(tks) != 1 || tks[0].Seat != seat || tks[0].Status != ticketing.StatusValid {
			t.Errorf("%s: bob holds %+v, want a valid ticket for %s", db.ID(), tks, seat)
		}
	}
	p.Converged(pairtest.Invariant(ticketing.Check))
}
