package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/client"
	"github.com/urfave/cli/v2"
)

// `liege ticketing ...` calls the procedures of the ticketing application
// (apps/ticketing) on a running `liege serve --app ticketing`, one
// subcommand per procedure, and says what happened in words. The helpers
// at the end of this file (appSession ...) serve `liege atm` too.

func ticketingCommand() *cli.Command {
	return &cli.Command{
		Name:  "ticketing",
		Usage: "sell seats of events on an instance serving --app ticketing",
		UsageText: `liege ticketing COMMAND [flags] ARGS...
   liege ticketing create-event gala stalls:20x30 balcony:5x12
   liege ticketing availability gala
   liege ticketing buy gala stalls 3 12 ann
   liege ticketing buy-best gala balcony bob
   liege ticketing tickets ann
   liege ticketing refund gala/stalls/3/12/ann
   liege ticketing queue
   liege ticketing resolve 117655615757680640-0`,
		Description: `Calls the procedures of the ticketing application on a running instance
(start one with ` + "`liege serve --dir DIR --id A --app ticketing`" + `; --addr or
LIEGE_ADDR says where it is). An event has sections of numbered seats, rows
1..ROWS of seats 1..SEATS; a ticket id is event/section/row/seat/customer.

A sale the vassal made while cut off from the liege may turn out to double
a sale the liege made: the customer keeps the ticket they were told of, the
seat gets both owners, and an item goes to the customer-service queue
(` + "`liege ticketing queue`" + `) for a person to reseat or refund one of them and
then resolve the item. ` + "`liege txn TXID`" + ` tells what became of a sale.

Every command prints what happened in words; --json prints the instance's
answer as it is. Flags go before the arguments.`,
		Subcommands: []*cli.Command{
			{
				Name:      "create-event",
				Usage:     "create an event with its sections of seats",
				ArgsUsage: "EVENT SECTION:ROWSxSEATS...",
				UsageText: `liege ticketing create-event [flags] EVENT SECTION:ROWSxSEATS...
   liege ticketing create-event gala stalls:20x30 balcony:5x12`,
				Description: `Creates EVENT with one section per SECTION:ROWSxSEATS: stalls:20x30 is
section "stalls", rows 1 to 20 of seats 1 to 30. Every seat starts free.
An event that exists already is left as it is ("exists").`,
				Flags:  clientFlags(),
				Action: runTicketingCreateEvent,
			},
			{
				Name:      "buy",
				Usage:     "buy one seat",
				ArgsUsage: "EVENT SECTION ROW SEAT CUSTOMER",
				UsageText: `liege ticketing buy [flags] EVENT SECTION ROW SEAT CUSTOMER
   liege ticketing buy gala stalls 3 12 ann`,
				Description: `Sells seat SEAT of row ROW of SECTION to CUSTOMER if it is free, and prints
the ticket:

  sold: ticket gala/stalls/3/12/ann, seat stalls row 3 seat 12

or says "taken", committing nothing, if it is sold already.
` + "`liege ticketing availability EVENT`" + ` shows the rows and seats of each section.`,
				Flags:  clientFlags(),
				Action: runTicketingBuy,
			},
			{
				Name:      "buy-best",
				Usage:     "buy the best free seat of a section",
				ArgsUsage: "EVENT SECTION CUSTOMER",
				UsageText: `liege ticketing buy-best [flags] EVENT SECTION CUSTOMER
   liege ticketing buy-best gala balcony bob`,
				Description: `Sells CUSTOMER the best free seat of SECTION (the lowest row, then the
lowest seat number), or says "sold out", committing nothing.`,
				Flags:  clientFlags(),
				Action: runTicketingBuyBest,
			},
			{
				Name:      "refund",
				Usage:     "refund a ticket, freeing its seat",
				ArgsUsage: "TICKET",
				UsageText: `liege ticketing refund [flags] TICKET
   liege ticketing refund gala/stalls/3/12/ann`,
				Description: `Refunds TICKET (an id as "buy" and "tickets" print it): the ticket stays,
marked refunded, and its seat is free again unless another owner holds it.`,
				Flags:  clientFlags(),
				Action: runTicketingRefund,
			},
			{
				Name:      "tickets",
				Usage:     "list a customer's tickets",
				ArgsUsage: "CUSTOMER",
				UsageText: `liege ticketing tickets [flags] CUSTOMER
   liege ticketing tickets ann`,
				Description: `Lists every ticket CUSTOMER bought, refunded ones included.`,
				Flags:       clientFlags(),
				Action:      runTicketingTickets,
			},
			{
				Name:      "availability",
				Usage:     "show an event's sections and free seats",
				ArgsUsage: "EVENT",
				UsageText: `liege ticketing availability [flags] EVENT
   liege ticketing availability gala`,
				Description: `Shows each section of EVENT with its rows and seats, and how many are free.`,
				Flags:       clientFlags(),
				Action:      runTicketingAvailability,
			},
			{
				Name:      "queue",
				Usage:     "list the customer-service queue",
				UsageText: `liege ticketing queue [flags]`,
				Description: `Lists the customer-service work queue, oldest first: the sales, refunds
and events that replication made impossible, each with the seat, tickets
and customers concerned and what to do. When it is done, remove the item
with ` + "`liege ticketing resolve ITEM`" + `.`,
				Flags:  clientFlags(),
				Action: runTicketingQueue,
			},
			{
				Name:      "resolve",
				Usage:     "remove a customer-service item once it is dealt with",
				ArgsUsage: "ITEM",
				UsageText: `liege ticketing resolve [flags] ITEM
   liege ticketing resolve 117655615757680640-0`,
				Description: `Removes item ITEM (an id as "queue" prints it) from the queue. A double
sale's item stays ("still double-booked") until the seat has one owner:
refund the others first.`,
				Flags:  clientFlags(),
				Action: runTicketingResolve,
			},
		},
	}
}

// ticketingSession starts a ticketing command.
func ticketingSession(c *cli.Context, min, max int) (*appSession, error) {
	return newAppSession(c, ticketing.Name, min, max, ticketingHint)
}

// noEvent and friends match the procedures' error messages.
var (
	noEventRe   = regexp.MustCompile(`no event "([^"]*)"`)
	noSectionRe = regexp.MustCompile(`event "([^"]*)" has no section "([^"]*)"`)
	noSeatRe    = regexp.MustCompile(`event "([^"]*)" has no seat (\S+)`)
)

// ticketingHint turns a ticketing procedure's error into one that says
// what to do, or returns nil.
func ticketingHint(s *appSession, msg string) error {
	if m := noSeatRe.FindStringSubmatch(msg); m != nil {
		parts := strings.Split(m[2], "/")
		if len(parts) == 4 {
			layout := ""
			if ev, ok := s.event(m[1]); ok {
				found := false
				for _, sec := range ev.Sections {
					if sec.Name == parts[1] {
						found = true
						layout = fmt.Sprintf(" (it has rows 1 to %d of seats 1 to %d)", sec.Rows, sec.SeatsPerRow)
					}
				}
				if !found {
					return fmt.Errorf("event %s has no section %s; `liege ticketing availability %s` lists its sections", m[1], parts[1], m[1])
				}
			}
			return fmt.Errorf("seat %s in row %s of section %s does not exist%s; `liege ticketing availability %s` lists the seats",
				parts[3], parts[2], parts[1], layout, m[1])
		}
	}
	if m := noSectionRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("event %s has no section %s; `liege ticketing availability %s` lists its sections", m[1], m[2], m[1])
	}
	if m := noEventRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("there is no event %s: create it with `liege ticketing create-event %s SECTION:ROWSxSEATS...`", m[1], m[1])
	}
	return nil
}

// event reads an event's layout, if the instance has it.
func (s *appSession) event(name string) (ticketing.Event, bool) {
	var ev ticketing.Event
	res, err := s.cl.Get(s.c.Context, []any{ticketing.EventPrefix, name})
	if err != nil || !res.Found || json.Unmarshal(res.Value, &ev) != nil {
		return ticketing.Event{}, false
	}
	return ev, true
}

// sectionSpec parses SECTION:ROWSxSEATS.
func sectionSpec(s string) (ticketing.Section, error) {
	bad := func(why string) (ticketing.Section, error) {
		return ticketing.Section{}, fmt.Errorf("section %q: %s; write each section as NAME:ROWSxSEATS, e.g. stalls:20x30 (20 rows of 30 seats)", s, why)
	}
	name, dims, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return bad("no NAME: before the size")
	}
	r, n, ok := strings.Cut(strings.ToLower(dims), "x")
	if !ok {
		return bad("no x between the rows and the seats per row")
	}
	rows, err1 := strconv.ParseInt(r, 10, 64)
	seats, err2 := strconv.ParseInt(n, 10, 64)
	if err1 != nil || err2 != nil || rows < 1 || seats < 1 {
		return bad("the rows and seats per row must be positive whole numbers")
	}
	return ticketing.Section{Name: name, Rows: rows, SeatsPerRow: seats}, nil
}

func runTicketingCreateEvent(c *cli.Context) error {
	s, err := ticketingSession(c, 2, -1)
	if err != nil {
		return err
	}
	args := ticketing.CreateEventArgs{Event: c.Args().First()}
	var total int64
	var desc []string
	for _, a := range c.Args().Tail() {
		sec, err := sectionSpec(a)
		if err != nil {
			return err
		}
		args.Sections = append(args.Sections, sec)
		total += sec.Rows * sec.SeatsPerRow
		desc = append(desc, fmt.Sprintf("%s (%s of %s)", sec.Name, plural(int(sec.Rows), "row"), plural(int(sec.SeatsPerRow), "seat")))
	}
	var out string
	res, err := s.call(ticketing.ProcCreateEvent, args, &out)
	if err != nil || c.Bool("json") {
		return err
	}
	switch out {
	case ticketing.Created:
		s.printf("created: event %s with %s: %d seats\n", args.Event, strings.Join(desc, ", "), total)
	case ticketing.Exists:
		s.printf("exists: event %s exists already, and nothing was changed; `liege ticketing availability %s` shows it\n", args.Event, args.Event)
	default:
		s.printf("%s\n", out)
	}
	s.committed(res)
	return nil
}

func runTicketingBuy(c *cli.Context) error {
	s, err := ticketingSession(c, 5, 5)
	if err != nil {
		return err
	}
	a := c.Args().Slice()
	row, err := positive("ROW", a[2], c)
	if err != nil {
		return err
	}
	seat, err := positive("SEAT", a[3], c)
	if err != nil {
		return err
	}
	args := ticketing.BuyArgs{Event: a[0], Section: a[1], Row: row, Number: seat, Customer: a[4]}
	var p ticketing.Purchase
	res, err := s.call(ticketing.ProcBuy, args, &p)
	if err != nil || c.Bool("json") {
		return err
	}
	if p.Outcome == ticketing.Taken {
		s.printf("taken: seat %s row %d seat %d of %s is sold already, and nothing was bought; `liege ticketing buy-best %s %s %s` buys the best free seat\n",
			args.Section, row, seat, args.Event, args.Event, args.Section, args.Customer)
	} else {
		s.printf("%s\n", describePurchase(p))
	}
	s.committed(res)
	return nil
}

func runTicketingBuyBest(c *cli.Context) error {
	s, err := ticketingSession(c, 3, 3)
	if err != nil {
		return err
	}
	a := c.Args().Slice()
	args := ticketing.BuyBestArgs{Event: a[0], Section: a[1], Customer: a[2]}
	var p ticketing.Purchase
	res, err := s.call(ticketing.ProcBuyBest, args, &p)
	if err != nil || c.Bool("json") {
		return err
	}
	if p.Outcome == ticketing.SoldOut {
		s.printf("sold out: section %s of %s has no free seat, and nothing was bought; `liege ticketing availability %s` shows the other sections\n",
			args.Section, args.Event, args.Event)
	} else {
		s.printf("%s\n", describePurchase(p))
	}
	s.committed(res)
	return nil
}

// describePurchase says what a customer was told.
func describePurchase(p ticketing.Purchase) string {
	if p.Outcome == ticketing.Sold && p.Seat != nil {
		return fmt.Sprintf("sold: ticket %s, %s", p.Ticket, describeSeat(*p.Seat))
	}
	return p.Outcome
}

// describeSeat names a seat within its event: "seat A row 1 seat 3".
func describeSeat(s ticketing.Seat) string {
	return fmt.Sprintf("seat %s row %d seat %d", s.Section, s.Row, s.Number)
}

func runTicketingRefund(c *cli.Context) error {
	s, err := ticketingSession(c, 1, 1)
	if err != nil {
		return err
	}
	id := c.Args().First()
	var out string
	res, err := s.call(ticketing.ProcRefund, ticketing.TicketArgs{Ticket: id}, &out)
	if err != nil || c.Bool("json") {
		return err
	}
	switch out {
	case ticketing.Refunded:
		s.printf("refunded: ticket %s; its seat is free again unless another owner holds it\n", id)
	case ticketing.AlreadyRefunded:
		s.printf("already refunded: ticket %s was refunded before, and nothing was changed\n", id)
	case ticketing.UnknownTicket:
		customer := "CUSTOMER"
		if parts := strings.Split(id, "/"); len(parts) >= 5 {
			customer = parts[4]
		}
		s.printf("unknown ticket: there is no ticket %s, and nothing was changed; `liege ticketing tickets %s` lists a customer's tickets\n", id, customer)
	default:
		s.printf("%s\n", out)
	}
	s.committed(res)
	return nil
}

func runTicketingTickets(c *cli.Context) error {
	s, err := ticketingSession(c, 1, 1)
	if err != nil {
		return err
	}
	customer := c.Args().First()
	var tks []ticketing.Ticket
	if _, err := s.call(ticketing.ProcTickets, ticketing.CustomerArgs{Customer: customer}, &tks); err != nil || c.Bool("json") {
		return err
	}
	if len(tks) == 0 {
		s.printf("customer %s has no tickets\n", customer)
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 8, 2, ' ', 0)
	for _, t := range tks {
		fmt.Fprintf(tw, "%s\t%s of %s\t%s\n", t.ID, describeSeat(t.Seat), t.Seat.Event, t.Status)
	}
	return tw.Flush()
}

func runTicketingAvailability(c *cli.Context) error {
	s, err := ticketingSession(c, 1, 1)
	if err != nil {
		return err
	}
	var av ticketing.Availability
	if _, err := s.call(ticketing.ProcAvailability, ticketing.EventArgs{Event: c.Args().First()}, &av); err != nil || c.Bool("json") {
		return err
	}
	layout := map[string]ticketing.Section{}
	if ev, ok := s.event(av.Event); ok {
		for _, sec := range ev.Sections {
			layout[sec.Name] = sec
		}
	}
	var seats, free int64
	for _, sec := range av.Sections {
		seats += sec.Seats
		free += sec.Free
	}
	s.printf("%s: %d of %d seats free\n", av.Event, free, seats)
	tw := tabwriter.NewWriter(s.out, 0, 8, 2, ' ', 0)
	for _, sec := range av.Sections {
		size := fmt.Sprintf("%d seats", sec.Seats)
		if l, ok := layout[sec.Section]; ok {
			size = fmt.Sprintf("rows 1-%d of seats 1-%d", l.Rows, l.SeatsPerRow)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d of %d free\n", sec.Section, size, sec.Free, sec.Seats)
	}
	return tw.Flush()
}

func runTicketingQueue(c *cli.Context) error {
	s, err := ticketingSession(c, 0, 0)
	if err != nil {
		return err
	}
	var items []ticketing.Item
	if _, err := s.call(ticketing.ProcQueue, ticketing.QueueArgs{}, &items); err != nil || c.Bool("json") {
		return err
	}
	if len(items) == 0 {
		s.printf("the customer-service queue is empty\n")
		return nil
	}
	for i, it := range items {
		if i > 0 {
			s.printf("\n")
		}
		what := "event " + it.Seat.Event
		if it.Seat.Section != "" {
			what = describeSeat(it.Seat) + " of " + it.Seat.Event
		}
		s.printf("item %s: %s, %s, at %s\n", it.ID, it.Kind, what, it.At)
		var owners []string
		for _, o := range it.Owners {
			if o.Customer != "" {
				owners = append(owners, fmt.Sprintf("ticket %s of %s", o.Ticket, o.Customer))
			} else {
				owners = append(owners, "ticket "+o.Ticket)
			}
		}
		if len(owners) > 0 {
			s.printf("  %s\n", strings.Join(owners, "; "))
		}
		s.printf("  %s\n", it.Note)
		s.printf("  when done: liege ticketing resolve %s\n", it.ID)
	}
	return nil
}

func runTicketingResolve(c *cli.Context) error {
	s, err := ticketingSession(c, 1, 1)
	if err != nil {
		return err
	}
	id := c.Args().First()
	var out string
	res, err := s.call(ticketing.ProcResolve, ticketing.ResolveArgs{Item: id}, &out)
	if err != nil || c.Bool("json") {
		return err
	}
	switch out {
	case ticketing.Resolved:
		s.printf("resolved: item %s left the queue\n", id)
	case ticketing.StillDouble:
		s.printf("still double-booked: the item's seat has several owners, so item %s stays; refund all but one (`liege ticketing refund TICKET`), then resolve it\n", id)
	case ticketing.UnknownItem:
		s.printf("unknown item: the queue has no item %s (resolved already?); `liege ticketing queue` lists the items\n", id)
	default:
		s.printf("%s\n", out)
	}
	s.committed(res)
	return nil
}

// ---- shared by the application commands (ticketing, atm) -------------------

// appSession is a session calling the procedures of one application.
type appSession struct {
	*session
	app string
	// hint turns a procedure's error message into one that says what to
	// do, or returns nil to leave it to session.explain.
	hint func(s *appSession, msg string) error
}

func newAppSession(c *cli.Context, app string, min, max int, hint func(*appSession, string) error) (*appSession, error) {
	s, err := newSession(c, min, max)
	if err != nil {
		return nil, err
	}
	return &appSession{session: s, app: app, hint: hint}, nil
}

// servesRe finds the application in an unknown_procedure message.
var servesRe = regexp.MustCompile(`serves app (\S+) with`)

// call calls proc with args and decodes its result into out; with --json
// it prints the answer as it is. Its errors say what to do.
func (s *appSession) call(proc string, args, out any) (*client.CallResult, error) {
	res, err := s.cl.Call(s.c.Context, proc, args, nil)
	if err != nil {
		return nil, s.appError(proc, err)
	}
	if s.c.Bool("json") {
		return res, s.printRaw(res.Raw)
	}
	if err := json.Unmarshal(res.Result, out); err != nil {
		what := "committed nothing"
		if res.TxID != "" {
			what = "committed as " + res.TxID
		}
		return nil, fmt.Errorf("%s %s, but its result %s is not what `liege %s` expects (%v): does the instance at %s run another version of the application?",
			proc, what, compactJSON(res.Result), s.app, err, s.addr)
	}
	return res, nil
}

// appError explains an error of a call of proc.
func (s *appSession) appError(proc string, err error) error {
	var ce *client.ConnError
	var dns *net.DNSError
	if errors.As(err, &ce) && (errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns)) {
		return fmt.Errorf("no liege instance at %s: start one with `liege serve --dir DIR --id A --app %s` or pass --addr (or set LIEGE_ADDR) (%v)", s.addr, s.app, ce.Err)
	}
	var e *client.Error
	if errors.As(err, &e) {
		switch e.Code {
		case client.CodeUnknownProcedure:
			serves := "another application"
			if m := servesRe.FindStringSubmatch(e.Message); m != nil {
				serves = "app " + m[1]
			} else if st, err := s.cl.Status(s.c.Context); err == nil && st.App != "" {
				serves = "app " + st.App
			}
			return fmt.Errorf("the instance at %s serves %s, not %s (it has no procedure %s); start it with --app %s, as in `liege serve --dir DIR --id A --app %s`, or pass the --addr of one that serves %s",
				s.addr, serves, s.app, proc, s.app, s.app, s.app)
		case client.CodeProcedureError:
			if s.hint != nil {
				if h := s.hint(s, e.Message); h != nil {
					return h
				}
			}
		}
	}
	return s.explain(err)
}

// printf prints to the command's output.
func (s *appSession) printf(format string, args ...any) {
	fmt.Fprintf(s.out, format, args...)
}

// committed reports on stderr the transaction a call committed, and the
// session token.
func (s *appSession) committed(res *client.CallResult) {
	if res.TxID != "" {
		fmt.Fprintf(s.errw, "committed as %s: `liege txn %s` tells what became of it\n", res.TxID, res.TxID)
	}
	s.printToken(res.Token)
}

// positive parses a positive whole number argument.
func positive(what, v string, c *cli.Context) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s %q is not a positive whole number; usage: %s", what, v, strings.SplitN(c.Command.UsageText, "\n", 2)[0])
	}
	return n, nil
}
