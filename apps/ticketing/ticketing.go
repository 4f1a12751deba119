// Package ticketing is a sample application: events with sections of
// numbered seats, sold to customers, with refunds and a customer-service
// work queue for the sales that replication made impossible.
//
// Procedures, with their results:
//
//	create_event {event, sections: [{name, rows, seats_per_row}]}  "created", or "exists" (read-only)
//	buy          {event, section, row, number, customer}           Purchase: sold (ticket, seat), or "taken" (read-only)
//	buy_best     {event, section, customer}                        Purchase: sold the first free seat, or "sold out" (read-only)
//	refund       {ticket}                                          "refunded", "already refunded" or "unknown ticket" (both read-only)
//	tickets      {customer}                                        []Ticket, every ticket the customer bought     read-only
//	availability {event}                                           Availability: free seats per section           read-only
//	queue        {}                                                []Item, the customer-service work queue        read-only
//	resolve      {item}                                            "resolved", "still double-booked" or "unknown item" (both read-only)
//
// # Keys
//
//	("event", event)                              Event: the layout
//	("free", event, section, row, number)         true: present exactly while the seat is free
//	("seat", event, section, row, number)         []Owner: present exactly while the seat is sold
//	("ticket", id)                                Ticket
//	("customer", customer, id)                    id: the customer's tickets, for tickets
//	("queue", hlc, n)                             Item: the customer-service work queue, oldest first
//
// Every seat of an event has exactly one of its "free" and "seat" keys. The
// free keys of a section sort by row and then seat number, so buy_best
// finds the best free seat with one ordered scan of the section's free keys:
// the scan records the range of seats it proved sold, so a refund of one of
// them on the other instance (a free key appearing in that range) is a
// conflict, exactly as the sale of the seat it found is.
//
// A ticket id is the seat and the customer, "gala/stalls/3/12/ann", with
// "/2", "/3" ... appended should the customer buy the same seat again after
// a refund. It depends only on the arguments and the state the purchase
// read, never on the clock: a purchase re-executed at the liege on the same
// state yields the same ticket, so it can be reprocessed rather than
// corrected. Names (events, sections, customers) must not contain "/".
//
// # Corrections and the consistency rule
//
// The customer's world cannot be rolled back: a customer told "sold" holds
// a ticket. So the correction of a purchase whose re-execution differs
// honours the ticket it was told of: it sells the seat as told if the seat
// is free on the liege, and otherwise records both owners on the seat and
// puts an action item naming the seat, both tickets and both customers in
// the work queue, for a human to reseat or refund one of them. The queue
// holds one such item per seat: a further sale of the seat adds its owner
// to the open item. Check states
// the rule: no seat has more than one owner unless the queue holds an item
// for it. resolve removes an item once the seat has one owner again.
package ticketing

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/liege-db/liege"
)

// Name is the application's name, as in `liege serve --app ticketing`.
const Name = "ticketing"

// Description is a one-line summary of the application.
const Description = "event ticketing: numbered seats, buy, buy_best, refund; double sales go to a customer-service queue"

// Procedure names.
const (
	ProcCreateEvent  = "create_event"
	ProcBuy          = "buy"
	ProcBuyBest      = "buy_best"
	ProcRefund       = "refund"
	ProcTickets      = "tickets"
	ProcAvailability = "availability"
	ProcQueue        = "queue"
	ProcResolve      = "resolve"
)

// procedures lists the procedure names in the order Register adds them.
var procedures = []string{ProcCreateEvent, ProcBuy, ProcBuyBest, ProcRefund, ProcTickets, ProcAvailability, ProcQueue, ProcResolve}

// Procedures returns the names of ticketing's procedures.
func Procedures() []string { return slices.Clone(procedures) }

// Results: what the caller is told.
const (
	Created         = "created"
	Exists          = "exists"
	Sold            = "sold"
	Taken           = "taken"
	SoldOut         = "sold out"
	Refunded        = "refunded"
	AlreadyRefunded = "already refunded"
	UnknownTicket   = "unknown ticket"
	Resolved        = "resolved"
	StillDouble     = "still double-booked"
	UnknownItem     = "unknown item"
)

// Ticket statuses.
const (
	StatusValid    = "valid"
	StatusRefunded = "refunded"
)

// Kinds of work-queue items.
const (
	// KindDoubleSale: the seat was sold to several customers; Owners are
	// all of them. Reseat or refund all but one, then resolve the item.
	KindDoubleSale = "double-sale"
	// KindDuplicateSale: the customer was charged twice for one ticket;
	// refund one payment.
	KindDuplicateSale = "duplicate-sale"
	// KindDoubleRefund: the ticket was refunded twice; recover one refund.
	KindDoubleRefund = "double-refund"
	// KindUnknownRefund: a customer was refunded for a ticket the liege
	// never sold.
	KindUnknownRefund = "unknown-refund"
	// KindUnseatable: the customer was sold a seat the liege's layout of
	// the event does not have; no ticket was recorded.
	KindUnseatable = "unseatable"
	// KindEventConflict: the event was created twice with different
	// layouts; the liege's stands.
	KindEventConflict = "event-conflict"
)

var itemKinds = []string{KindDoubleSale, KindDuplicateSale, KindDoubleRefund, KindUnknownRefund, KindUnseatable, KindEventConflict}

// Key prefixes.
const (
	EventPrefix    = "event"
	FreePrefix     = "free"
	SeatPrefix     = "seat"
	TicketPrefix   = "ticket"
	CustomerPrefix = "customer"
	QueuePrefix    = "queue"
)

// MaxSeats bounds the seats of one event: create_event writes them all in
// one transaction.
const MaxSeats = 100_000

// Section is one section of an event's layout: rows numbered 1..Rows of
// seats numbered 1..SeatsPerRow.
type Section struct {
	Name        string `json:"name" codec:"name"`
	Rows        int64  `json:"rows" codec:"rows"`
	SeatsPerRow int64  `json:"seats_per_row" codec:"seats_per_row"`
}

// Event is an event's layout, stored at ("event", name).
type Event struct {
	Name     string    `json:"name" codec:"name"`
	Sections []Section `json:"sections" codec:"sections"`
}

// section returns the named section.
func (e *Event) section(name string) (Section, bool) {
	for _, s := range e.Sections {
		if s.Name == name {
			return s, true
		}
	}
	return Section{}, false
}

// has reports whether the layout has seat s.
func (e *Event) has(s Seat) bool {
	sec, ok := e.section(s.Section)
	return ok && s.Event == e.Name && s.Row >= 1 && s.Row <= sec.Rows && s.Number >= 1 && s.Number <= sec.SeatsPerRow
}

// seats returns the number of seats in the layout.
func (e *Event) seats() int64 {
	var n int64
	for _, s := range e.Sections {
		n += s.Rows * s.SeatsPerRow
	}
	return n
}

// Seat names one seat.
type Seat struct {
	Event   string `json:"event" codec:"event"`
	Section string `json:"section" codec:"section"`
	Row     int64  `json:"row" codec:"row"`
	Number  int64  `json:"number" codec:"number"`
}

// String formats the seat as event/section/row/number.
func (s Seat) String() string {
	return s.Event + "/" + s.Section + "/" + strconv.FormatInt(s.Row, 10) + "/" + strconv.FormatInt(s.Number, 10)
}

// Owner is a holder of a seat: the ticket and its customer.
type Owner struct {
	Ticket   string `json:"ticket" codec:"ticket"`
	Customer string `json:"customer" codec:"customer"`
}

// Ticket is stored at ("ticket", id). A refunded ticket is kept, with
// status "refunded", so that its id is never issued again.
type Ticket struct {
	ID       string `json:"id" codec:"id"`
	Seat     Seat   `json:"seat" codec:"seat"`
	Customer string `json:"customer" codec:"customer"`
	Status   string `json:"status" codec:"status"`
}

// Purchase is the result of buy and buy_best: what the customer was told.
// Ticket and Seat are set only when Outcome is "sold".
type Purchase struct {
	Outcome string `json:"outcome" codec:"outcome"`
	Ticket  string `json:"ticket,omitempty" codec:"ticket,omitempty"`
	Seat    *Seat  `json:"seat,omitempty" codec:"seat,omitempty"`
}

// Availability is the result of availability.
type Availability struct {
	Event    string                `json:"event" codec:"event"`
	Sections []SectionAvailability `json:"sections" codec:"sections"`
}

// SectionAvailability counts a section's seats and the free ones.
type SectionAvailability struct {
	Section string `json:"section" codec:"section"`
	Seats   int64  `json:"seats" codec:"seats"`
	Free    int64  `json:"free" codec:"free"`
}

// Item is a customer-service action item, stored at ("queue", hlc, n). Its
// ID, "<hlc>-<n>", is what resolve takes.
type Item struct {
	ID   string `json:"id" codec:"id"`
	Kind string `json:"kind" codec:"kind"`
	// Seat is the seat concerned (for an event conflict, only its Event).
	Seat Seat `json:"seat" codec:"seat"`
	// Owners are the tickets and customers concerned: for a double sale,
	// every owner of the seat when the item was made.
	Owners []Owner `json:"owners" codec:"owners"`
	// Note says, for a human, what happened and what to do.
	Note string `json:"note" codec:"note"`
	// At is when the item was made, as 2026-11-21T16:18:02.123Z+3.
	At string `json:"at" codec:"at"`
}

// Correction is the result of every correction: what it did, and the
// work-queue item it made, if any.
type Correction struct {
	Action string `json:"action" codec:"action"`
	Item   string `json:"item,omitempty" codec:"item,omitempty"`
}

// CreateEventArgs are the arguments of create_event.
type CreateEventArgs struct {
	Event    string    `json:"event" codec:"event"`
	Sections []Section `json:"sections" codec:"sections"`
}

// BuyArgs are the arguments of buy.
type BuyArgs struct {
	Event    string `json:"event" codec:"event"`
	Section  string `json:"section" codec:"section"`
	Row      int64  `json:"row" codec:"row"`
	Number   int64  `json:"number" codec:"number"`
	Customer string `json:"customer" codec:"customer"`
}

// Seat returns the seat the arguments name.
func (a BuyArgs) Seat() Seat {
	return Seat{Event: a.Event, Section: a.Section, Row: a.Row, Number: a.Number}
}

// BuyBestArgs are the arguments of buy_best.
type BuyBestArgs struct {
	Event    string `json:"event" codec:"event"`
	Section  string `json:"section" codec:"section"`
	Customer string `json:"customer" codec:"customer"`
}

// TicketArgs are the arguments of refund.
type TicketArgs struct {
	Ticket string `json:"ticket" codec:"ticket"`
}

// CustomerArgs are the arguments of tickets.
type CustomerArgs struct {
	Customer string `json:"customer" codec:"customer"`
}

// EventArgs are the arguments of availability.
type EventArgs struct {
	Event string `json:"event" codec:"event"`
}

// QueueArgs are the (no) arguments of queue.
type QueueArgs struct{}

// ResolveArgs are the arguments of resolve.
type ResolveArgs struct {
	Item string `json:"item" codec:"item"`
}

// Keys.

// EventKey returns ("event", event).
func EventKey(event string) liege.Key { return liege.K(EventPrefix, event) }

// FreeKey returns ("free", event, section, row, number).
func FreeKey(s Seat) liege.Key { return liege.K(FreePrefix, s.Event, s.Section, s.Row, s.Number) }

// SeatKey returns ("seat", event, section, row, number).
func SeatKey(s Seat) liege.Key { return liege.K(SeatPrefix, s.Event, s.Section, s.Row, s.Number) }

// TicketKey returns ("ticket", id).
func TicketKey(id string) liege.Key { return liege.K(TicketPrefix, id) }

// CustomerKey returns ("customer", customer, id).
func CustomerKey(customer, id string) liege.Key { return liege.K(CustomerPrefix, customer, id) }

// QueueKey returns ("queue", hlc, n).
func QueueKey(hlc, n int64) liege.Key { return liege.K(QueuePrefix, hlc, n) }

// Register registers ticketing's procedures, each with its correction, on db.
func Register(db liege.Registrar) error {
	return errors.Join(
		liege.Register(db, liege.Procedure[CreateEventArgs, string]{Name: ProcCreateEvent, Run: CreateEvent, Correct: CorrectCreateEvent}),
		liege.Register(db, liege.Procedure[BuyArgs, Purchase]{Name: ProcBuy, Run: Buy, Correct: CorrectBuy,
			// A seat both sites sell collides: auto-route buys, measured per
			// section (DESIGN.md section 13).
			CollisionProne: true, RoutePrefix: func(a BuyArgs) string { return a.Event + "/" + a.Section }}),
		liege.Register(db, liege.Procedure[BuyBestArgs, Purchase]{Name: ProcBuyBest, Run: BuyBest, Correct: CorrectBuyBest,
			CollisionProne: true, RoutePrefix: func(a BuyBestArgs) string { return a.Event + "/" + a.Section }}),
		liege.Register(db, liege.Procedure[TicketArgs, string]{Name: ProcRefund, Run: Refund, Correct: CorrectRefund,
			// A refund frees a seat others are buying: per section too.
			CollisionProne: true, RoutePrefix: ticketSection}),
		liege.Register(db, liege.Procedure[CustomerArgs, []Ticket]{Name: ProcTickets, Run: Tickets, Correct: correctRead[CustomerArgs, []Ticket]}),
		liege.Register(db, liege.Procedure[EventArgs, Availability]{Name: ProcAvailability, Run: GetAvailability, Correct: correctRead[EventArgs, Availability]}),
		liege.Register(db, liege.Procedure[QueueArgs, []Item]{Name: ProcQueue, Run: ListQueue, Correct: correctRead[QueueArgs, []Item]}),
		liege.Register(db, liege.Procedure[ResolveArgs, string]{Name: ProcResolve, Run: Resolve, Correct: CorrectResolve}),
	)
}

// checkName refuses an empty name or one with a "/" (ticket ids join
// names with "/").
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s must not be empty", what)
	case strings.Contains(s, "/"):
		return fmt.Errorf("%s %q must not contain \"/\"", what, s)
	}
	return nil
}

// checkLayout validates create_event's arguments.
func checkLayout(a CreateEventArgs) error {
	if err := checkName("event", a.Event); err != nil {
		return err
	}
	if len(a.Sections) == 0 {
		return errors.New("an event needs at least one section")
	}
	var total int64
	seen := map[string]bool{}
	for _, s := range a.Sections {
		if err := checkName("section", s.Name); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("section %q appears twice", s.Name)
		}
		seen[s.Name] = true
		if s.Rows < 1 || s.SeatsPerRow < 1 {
			return fmt.Errorf("section %q: rows (%d) and seats per row (%d) must be positive", s.Name, s.Rows, s.SeatsPerRow)
		}
		if s.Rows > MaxSeats || s.SeatsPerRow > MaxSeats {
			return fmt.Errorf("section %q: more than %d seats", s.Name, MaxSeats)
		}
		total += s.Rows * s.SeatsPerRow
		if total > MaxSeats {
			return fmt.Errorf("event %q has more than %d seats", a.Event, MaxSeats)
		}
	}
	return nil
}

// CreateEvent stores the event's layout and marks every seat free. An event
// that exists already is left alone: "exists", committing nothing.
func CreateEvent(tx *liege.Tx, a CreateEventArgs) (string, error) {
	if err := checkLayout(a); err != nil {
		return "", fmt.Errorf("create_event: %w", err)
	}
	if _, ok := tx.Get(EventKey(a.Event)); ok {
		return Exists, nil
	}
	tx.Set(EventKey(a.Event), Event{Name: a.Event, Sections: a.Sections})
	for _, s := range a.Sections {
		for row := int64(1); row <= s.Rows; row++ {
			for n := int64(1); n <= s.SeatsPerRow; n++ {
				tx.Set(FreeKey(Seat{Event: a.Event, Section: s.Name, Row: row, Number: n}), true)
			}
		}
	}
	return Created, nil
}

// Buy sells the seat the arguments name if it is free; "taken", committing
// nothing, if not. A seat the event does not have is an error.
func Buy(tx *liege.Tx, a BuyArgs) (Purchase, error) {
	if err := checkName("customer", a.Customer); err != nil {
		return Purchase{}, fmt.Errorf("buy: %w", err)
	}
	seat := a.Seat()
	ev, err := loadEvent(tx, a.Event)
	if err != nil {
		return Purchase{}, fmt.Errorf("buy: %w", err)
	}
	if !ev.has(seat) {
		return Purchase{}, fmt.Errorf("buy: event %q has no seat %s", a.Event, seat)
	}
	// The free key is all a purchase needs to read: a seat of the layout
	// without one is sold. Its absence matters as much as its presence.
	if _, free := tx.Get(FreeKey(seat)); !free {
		return Purchase{Outcome: Taken}, nil
	}
	return sell(tx, seat, a.Customer), nil
}

// BuyBest sells the customer the best free seat of the section: the lowest
// row, then the lowest number. It finds it with an ordered scan of the
// section's free keys, limited to one key, which records the range of seats
// it proved sold. "sold out", committing nothing, if the section has none.
func BuyBest(tx *liege.Tx, a BuyBestArgs) (Purchase, error) {
	if err := checkName("customer", a.Customer); err != nil {
		return Purchase{}, fmt.Errorf("buy_best: %w", err)
	}
	ev, err := loadEvent(tx, a.Event)
	if err != nil {
		return Purchase{}, fmt.Errorf("buy_best: %w", err)
	}
	if _, ok := ev.section(a.Section); !ok {
		return Purchase{}, fmt.Errorf("buy_best: event %q has no section %q", a.Event, a.Section)
	}
	lo := liege.K(FreePrefix, a.Event, a.Section)
	first := tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{Limit: 1})
	if len(first) == 0 {
		return Purchase{Outcome: SoldOut}, nil
	}
	seat, err := SeatOf(first[0].Key, FreePrefix)
	if err != nil {
		return Purchase{}, fmt.Errorf("buy_best: %w", err)
	}
	return sell(tx, seat, a.Customer), nil
}

// sell sells a free seat to customer: a new ticket, the seat's owner, and
// the seat no longer free.
func sell(tx *liege.Tx, seat Seat, customer string) Purchase {
	id := newTicketID(tx, seat, customer)
	tx.Delete(FreeKey(seat))
	tx.Set(SeatKey(seat), []Owner{{Ticket: id, Customer: customer}})
	issue(tx, Ticket{ID: id, Seat: seat, Customer: customer, Status: StatusValid})
	return Purchase{Outcome: Sold, Ticket: id, Seat: &seat}
}

// newTicketID returns the first unused id of seat/customer, seat/customer/2
// ...: a function of the arguments and the state, so that re-execution on
// the same state issues the same ticket.
func newTicketID(tx *liege.Tx, seat Seat, customer string) string {
	base := seat.String() + "/" + customer
	for k := 1; ; k++ {
		id := base
		if k > 1 {
			id += "/" + strconv.Itoa(k)
		}
		if _, used := tx.Get(TicketKey(id)); !used {
			return id
		}
	}
}

// issue stores ticket t and indexes it under its customer.
func issue(tx *liege.Tx, t Ticket) {
	tx.Set(TicketKey(t.ID), t)
	tx.Set(CustomerKey(t.Customer, t.ID), t.ID)
}

// ticketSection is a refund's routing prefix: the event and section of
// the ticket's seat (its id begins with the seat), as buy's.
func ticketSection(a TicketArgs) string {
	parts := strings.SplitN(a.Ticket, "/", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// Refund refunds a valid ticket: the ticket is marked refunded and leaves
// its seat's owners; a seat left without owners is free again.
func Refund(tx *liege.Tx, a TicketArgs) (string, error) {
	if a.Ticket == "" {
		return "", errors.New("refund: ticket must not be empty")
	}
	t, ok, err := loadTicket(tx, a.Ticket)
	switch {
	case err != nil:
		return "", fmt.Errorf("refund: %w", err)
	case !ok:
		return UnknownTicket, nil
	case t.Status == StatusRefunded:
		return AlreadyRefunded, nil
	}
	owners, err := loadOwners(tx, t.Seat)
	if err != nil {
		return "", fmt.Errorf("refund: %w", err)
	}
	i := slices.IndexFunc(owners, func(o Owner) bool { return o.Ticket == t.ID })
	if i < 0 {
		return "", fmt.Errorf("refund: ticket %q is not among the owners of seat %s (the state breaks the consistency rule)", t.ID, t.Seat)
	}
	owners = slices.Delete(owners, i, i+1)
	if len(owners) == 0 {
		tx.Delete(SeatKey(t.Seat))
		tx.Set(FreeKey(t.Seat), true)
	} else {
		tx.Set(SeatKey(t.Seat), owners)
	}
	t.Status = StatusRefunded
	tx.Set(TicketKey(t.ID), t)
	return Refunded, nil
}

// Tickets returns every ticket the customer bought, refunded ones included,
// in id order.
func Tickets(tx *liege.Tx, a CustomerArgs) ([]Ticket, error) {
	if a.Customer == "" {
		return nil, errors.New("tickets: customer must not be empty")
	}
	lo := liege.K(CustomerPrefix, a.Customer)
	out := []Ticket{}
	for _, kv := range tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{}) {
		id, err := kv.Value.Str()
		if err != nil {
			return nil, fmt.Errorf("tickets: %s: %w", kv.Key, err)
		}
		t, ok, err := loadTicket(tx, id)
		if err != nil || !ok {
			return nil, fmt.Errorf("tickets: %s names ticket %q, which does not load (found %v, %v)", kv.Key, id, ok, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// GetAvailability counts the seats and the free seats of each section of
// the event, in layout order.
func GetAvailability(tx *liege.Tx, a EventArgs) (Availability, error) {
	ev, err := loadEvent(tx, a.Event)
	if err != nil {
		return Availability{}, fmt.Errorf("availability: %w", err)
	}
	out := Availability{Event: ev.Name, Sections: []SectionAvailability{}}
	for _, s := range ev.Sections {
		lo := liege.K(FreePrefix, ev.Name, s.Name)
		free := tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{})
		out.Sections = append(out.Sections, SectionAvailability{Section: s.Name, Seats: s.Rows * s.SeatsPerRow, Free: int64(len(free))})
	}
	return out, nil
}

// ListQueue returns the customer-service work queue, oldest item first.
func ListQueue(tx *liege.Tx, _ QueueArgs) ([]Item, error) {
	lo := liege.K(QueuePrefix)
	out := []Item{}
	for _, kv := range tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{}) {
		var it Item
		if err := kv.Value.Decode(&it); err != nil {
			return nil, fmt.Errorf("queue: item %s does not decode: %w", kv.Key, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// Queue returns the customer-service work queue held in a state (as from
// db.Scan), oldest item first: the same list as the queue procedure.
func Queue(entries []liege.Entry) ([]Item, error) {
	out := []Item{}
	lo := liege.K(QueuePrefix)
	hi := lo.PrefixEnd()
	for _, e := range entries {
		if string(e.Key) < string(lo) || string(e.Key) >= string(hi) {
			continue
		}
		var it Item
		if err := e.Value.Decode(&it); err != nil {
			return nil, fmt.Errorf("queue item %s does not decode: %w", e.Key, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// Resolve removes a work-queue item, once what it asks for is done: a
// double sale's seat must have at most one owner again (refund the others
// first), or the item stays and the result is "still double-booked".
func Resolve(tx *liege.Tx, a ResolveArgs) (string, error) {
	key, err := parseItemID(a.Item)
	if err != nil {
		return "", fmt.Errorf("resolve: %w", err)
	}
	v, ok := tx.Get(key)
	if !ok {
		return UnknownItem, nil
	}
	var it Item
	if err := v.Decode(&it); err != nil {
		return "", fmt.Errorf("resolve: item %s does not decode: %w", a.Item, err)
	}
	if it.Kind == KindDoubleSale {
		owners, err := loadOwners(tx, it.Seat)
		if err != nil {
			return "", fmt.Errorf("resolve: %w", err)
		}
		if len(owners) > 1 {
			return StillDouble, nil
		}
	}
	tx.Delete(key)
	return Resolved, nil
}

// CorrectCreateEvent corrects a create_event told "created" whose
// re-execution said "exists": the event was created on both instances. If
// the liege's layout is the one the organiser was told of, nothing is
// wrong; otherwise the liege's layout stands (seats may be sold in it
// already) and an item asks a human to sort it out with the organiser.
func CorrectCreateEvent(tx *liege.Tx, a CreateEventArgs, told, reexecuted string) (any, error) {
	if told != Created {
		return Correction{Action: "nothing: the organiser was told no event was created"}, nil
	}
	v, ok := tx.Get(EventKey(a.Event))
	if !ok {
		return Correction{Action: fmt.Sprintf("nothing: the event does not exist and re-executing its creation gave %s", show(reexecuted))}, nil
	}
	var ev Event
	if err := v.Decode(&ev); err != nil {
		return nil, fmt.Errorf("event %q does not decode: %w", a.Event, err)
	}
	if slices.Equal(ev.Sections, a.Sections) {
		return Correction{Action: "nothing: the event exists with the layout the organiser was told of"}, nil
	}
	id := addItem(tx, Item{
		Kind: KindEventConflict, Seat: Seat{Event: a.Event},
		Note: fmt.Sprintf("event %q was created twice; the organiser was told layout %s, the liege's layout %s stands", a.Event, show(a.Sections), show(ev.Sections)),
	})
	return Correction{Action: "kept the liege's layout and queued the conflict", Item: id}, nil
}

// CorrectBuy corrects a buy; see honourSale.
func CorrectBuy(tx *liege.Tx, a BuyArgs, told, reexecuted Purchase) (any, error) {
	return honourSale(tx, a.Customer, told, reexecuted)
}

// CorrectBuyBest corrects a buy_best; see honourSale. Re-execution may have
// found another seat (a refund on the liege freed a better one, or the one
// the customer was told of was sold there): the customer keeps the seat
// they were told of.
func CorrectBuyBest(tx *liege.Tx, a BuyBestArgs, told, reexecuted Purchase) (any, error) {
	return honourSale(tx, a.Customer, told, reexecuted)
}

// honourSale is the correction of a purchase. A customer told "taken" or
// "sold out" holds nothing, so nothing is done. A customer told "sold"
// holds the ticket told of, which the liege must honour:
//
//   - the seat is free on the liege: it is sold to them as told;
//   - the seat is sold on the liege: the ticket is recorded anyway, the
//     seat gets both owners, and an item naming the seat, both tickets and
//     both customers goes to the work queue (the consistency rule allows a
//     double sale only with that item);
//   - the liege already holds that very ticket, valid: the customer bought
//     it on both instances and paid twice, which an item says;
//   - the liege holds it refunded (bought, refunded and bought again): it
//     is valid again, and seated as above;
//   - the liege's layout has no such seat: an item says so.
func honourSale(tx *liege.Tx, customer string, told, reexecuted Purchase) (any, error) {
	if told.Outcome != Sold || told.Seat == nil || told.Ticket == "" {
		return Correction{Action: fmt.Sprintf("nothing: the customer was told %s and holds no ticket", show(told))}, nil
	}
	seat := *told.Seat
	owner := Owner{Ticket: told.Ticket, Customer: customer}
	t, held, err := loadTicket(tx, told.Ticket)
	if err != nil {
		return nil, err
	}
	if held && t.Status == StatusValid {
		id := addItem(tx, Item{
			Kind: KindDuplicateSale, Seat: seat, Owners: []Owner{owner},
			Note: fmt.Sprintf("customer %q bought ticket %q twice (re-executed: %s); refund one payment", customer, told.Ticket, show(reexecuted)),
		})
		return Correction{Action: "the ticket was already valid; queued the duplicate payment", Item: id}, nil
	}
	ev, err := loadEvent(tx, seat.Event)
	if err != nil || !ev.has(seat) {
		id := addItem(tx, Item{
			Kind: KindUnseatable, Seat: seat, Owners: []Owner{owner},
			Note: fmt.Sprintf("customer %q was sold seat %s as ticket %q, which the event's layout lacks (re-executed: %s); offer another seat or a refund", customer, seat, told.Ticket, show(reexecuted)),
		})
		return Correction{Action: "no such seat; queued the sale", Item: id}, nil
	}
	issue(tx, Ticket{ID: told.Ticket, Seat: seat, Customer: customer, Status: StatusValid})
	if _, free := tx.Get(FreeKey(seat)); free {
		tx.Delete(FreeKey(seat))
		tx.Set(SeatKey(seat), []Owner{owner})
		return Correction{Action: fmt.Sprintf("sold seat %s as ticket %q, as the customer was told (re-executed: %s)", seat, told.Ticket, show(reexecuted))}, nil
	}
	owners, err := loadOwners(tx, seat)
	if err != nil {
		return nil, err
	}
	owners = append(owners, owner)
	tx.Set(SeatKey(seat), owners)
	note := fmt.Sprintf("seat %s is sold %d times: customer %q was told ticket %q (re-executed: %s); reseat or refund all but one owner, then resolve", seat, len(owners), customer, told.Ticket, show(reexecuted))
	// One item per seat: a seat sold a third time updates the item its
	// second sale made, so customer service sees every owner in one place.
	key, it, open, err := doubleSaleItem(tx, seat)
	if err != nil {
		return nil, err
	}
	if open {
		it.Owners, it.Note = owners, note
		tx.Set(key, it)
		return Correction{Action: fmt.Sprintf("recorded ticket %q as a further owner of seat %s and added it to the seat's double-sale item", told.Ticket, seat), Item: it.ID}, nil
	}
	id := addItem(tx, Item{Kind: KindDoubleSale, Seat: seat, Owners: owners, Note: note})
	return Correction{Action: fmt.Sprintf("recorded ticket %q as a further owner of seat %s and queued the double sale", told.Ticket, seat), Item: id}, nil
}

// doubleSaleItem returns the work queue's unresolved double-sale item for
// seat, if there is one, with its key.
func doubleSaleItem(tx *liege.Tx, seat Seat) (liege.Key, Item, bool, error) {
	lo := liege.K(QueuePrefix)
	for _, kv := range tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{}) {
		var it Item
		if err := kv.Value.Decode(&it); err != nil {
			return nil, Item{}, false, fmt.Errorf("queue item %s does not decode: %w", kv.Key, err)
		}
		if it.Kind == KindDoubleSale && it.Seat == seat {
			return kv.Key, it, true, nil
		}
	}
	return nil, Item{}, false, nil
}

// CorrectRefund corrects a refund told "refunded": the customer has the
// money back. Re-executed "already refunded", the ticket was refunded on
// both instances; re-executed "unknown ticket", the liege never sold it.
// Either way money went out that should not have, which an item says; the
// state needs no change.
func CorrectRefund(tx *liege.Tx, a TicketArgs, told, reexecuted string) (any, error) {
	if told != Refunded {
		return Correction{Action: fmt.Sprintf("nothing: the customer was told %s and got no money", show(told))}, nil
	}
	t, ok, err := loadTicket(tx, a.Ticket)
	if err != nil {
		return nil, err
	}
	it := Item{Kind: KindUnknownRefund, Owners: []Owner{{Ticket: a.Ticket}},
		Note: fmt.Sprintf("ticket %q was refunded but the liege has no such ticket (re-executed: %s); recover the refund", a.Ticket, show(reexecuted))}
	if ok {
		it = Item{Kind: KindDoubleRefund, Seat: t.Seat, Owners: []Owner{{Ticket: t.ID, Customer: t.Customer}},
			Note: fmt.Sprintf("ticket %q of customer %q was refunded twice (re-executed: %s); recover one refund", t.ID, t.Customer, show(reexecuted))}
	}
	return Correction{Action: "queued the extra refund", Item: addItem(tx, it)}, nil
}

// CorrectResolve corrects a resolve told "resolved". Re-executed "unknown
// item", it was resolved on both instances: nothing to do. Re-executed
// "still double-booked", the seat has several owners on the liege, so the
// item must stay (the consistency rule needs it): nothing is done, and the
// item stays in the queue for whoever resolved it.
func CorrectResolve(_ *liege.Tx, _ ResolveArgs, told, reexecuted string) (any, error) {
	if told != Resolved {
		return Correction{Action: fmt.Sprintf("nothing: the caller was told %s", show(told))}, nil
	}
	return Correction{Action: fmt.Sprintf("nothing: re-executed %s, so the item stays as the liege has it", show(reexecuted))}, nil
}

// correctRead corrects a read-only procedure. It writes nothing, so it
// never commits, never rolls off and is never re-executed: this cannot run
// in the normal course, and a read changes nothing to undo.
func correctRead[A, R any](*liege.Tx, A, R, R) (any, error) {
	return Correction{Action: "nothing: a read changes no state"}, nil
}

// addItem stores it in the work queue at the first free ("queue", HLC, n)
// and returns its id. The HLC alone is unique among one instance's
// transactions; n keeps items apart should two corrections ever share one.
func addItem(tx *liege.Tx, it Item) string {
	h := int64(tx.HLC())
	it.At = liege.Timestamp(h).String()
	if it.Owners == nil {
		it.Owners = []Owner{}
	}
	for n := int64(0); ; n++ {
		k := QueueKey(h, n)
		if _, taken := tx.Get(k); !taken {
			it.ID = strconv.FormatInt(h, 10) + "-" + strconv.FormatInt(n, 10)
			tx.Set(k, it)
			return it.ID
		}
	}
}

// parseItemID returns the key of item id "<hlc>-<n>".
func parseItemID(id string) (liege.Key, error) {
	h, n, ok := strings.Cut(id, "-")
	hv, err1 := strconv.ParseInt(h, 10, 64)
	nv, err2 := strconv.ParseInt(n, 10, 64)
	if !ok || err1 != nil || err2 != nil || hv < 0 || nv < 0 {
		return nil, fmt.Errorf("item id %q is not <hlc>-<n>", id)
	}
	return QueueKey(hv, nv), nil
}

// loadEvent reads an event's layout; an unknown event is an error.
func loadEvent(tx *liege.Tx, name string) (Event, error) {
	if err := checkName("event", name); err != nil {
		return Event{}, err
	}
	v, ok := tx.Get(EventKey(name))
	if !ok {
		return Event{}, fmt.Errorf("no event %q", name)
	}
	var ev Event
	if err := v.Decode(&ev); err != nil {
		return Event{}, fmt.Errorf("event %q does not decode: %w", name, err)
	}
	return ev, nil
}

// loadTicket reads a ticket.
func loadTicket(tx *liege.Tx, id string) (Ticket, bool, error) {
	v, ok := tx.Get(TicketKey(id))
	if !ok {
		return Ticket{}, false, nil
	}
	var t Ticket
	if err := v.Decode(&t); err != nil {
		return Ticket{}, false, fmt.Errorf("ticket %q does not decode: %w", id, err)
	}
	return t, true, nil
}

// loadOwners reads a seat's owners; none if it is not sold.
func loadOwners(tx *liege.Tx, s Seat) ([]Owner, error) {
	v, ok := tx.Get(SeatKey(s))
	if !ok {
		return nil, nil
	}
	var owners []Owner
	if err := v.Decode(&owners); err != nil {
		return nil, fmt.Errorf("seat %s does not decode: %w", s, err)
	}
	return owners, nil
}

// show formats a value for a note.
func show(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "an error"
		}
		return strconv.Quote(x)
	case Purchase:
		if x.Outcome == Sold && x.Seat != nil {
			return fmt.Sprintf("sold %s as %q", x.Seat, x.Ticket)
		}
		if x.Outcome == "" {
			return "an error"
		}
		return strconv.Quote(x.Outcome)
	}
	return fmt.Sprintf("%+v", v)
}
