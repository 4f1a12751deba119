package ticketing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/liege-db/liege"
)

// maxViolations bounds what Check reports: the first ones and a count.
const maxViolations = 100

// Check is ticketing's consistency rule over a whole state:
//
//   - no seat has more than one owner unless the work queue holds
//     double-sale items for the seat that, together, name every one of its
//     tickets;
//
// and the bookkeeping it rests on:
//
//   - every key is one of ticketing's and every value decodes;
//   - every seat of every event's layout is either free or sold, never
//     both, and there are no seats outside the layouts;
//   - a sold seat's owners are distinct valid tickets of that seat and
//     customer; every valid ticket owns its seat, and no refunded one does;
//   - the customer index names exactly the tickets, under their customers;
//   - work-queue items are well formed.
//
// It returns the violations, sorted (at most 100 and a count of the rest),
// none if the rule holds.
func Check(entries []liege.Entry) []string {
	var out []string
	report := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	events := map[string]Event{}
	free := map[Seat]bool{}
	sold := map[Seat][]Owner{}
	tickets := map[string]Ticket{}
	type indexEntry struct{ customer, id string }
	indexed := map[indexEntry]bool{}
	var items []Item

	for _, e := range entries {
		t, err := liege.Key(e.Key).Unpack()
		if err != nil {
			report("key %x does not decode as a tuple: %v", []byte(e.Key), err)
			continue
		}
		prefix := ""
		if len(t) > 0 {
			prefix, _ = t[0].(string)
		}
		switch prefix {
		case EventPrefix:
			name, ok := str(t, 1)
			var ev Event
			switch {
			case !ok || len(t) != 2:
				report("key %s is not (%q, <event>)", e.Key, EventPrefix)
			case e.Value.Decode(&ev) != nil:
				report("event %s does not decode", e.Key)
			case ev.Name != name:
				report("event %s is named %q", e.Key, ev.Name)
			default:
				if err := checkLayout(CreateEventArgs{Event: ev.Name, Sections: ev.Sections}); err != nil {
					report("event %s: %v", e.Key, err)
				}
				events[name] = ev
			}
		case FreePrefix, SeatPrefix:
			s, err := SeatOf(e.Key, prefix)
			if err != nil {
				report("%v", err)
				continue
			}
			if prefix == FreePrefix {
				free[s] = true
				continue
			}
			var owners []Owner
			if err := e.Value.Decode(&owners); err != nil {
				report("seat %s: owners do not decode: %v", s, err)
				continue
			}
			sold[s] = owners
		case TicketPrefix:
			id, ok := str(t, 1)
			var tk Ticket
			switch {
			case !ok || len(t) != 2:
				report("key %s is not (%q, <id>)", e.Key, TicketPrefix)
			case e.Value.Decode(&tk) != nil:
				report("ticket %s does not decode", e.Key)
			case tk.ID != id:
				report("ticket %s has id %q", e.Key, tk.ID)
			case tk.Status != StatusValid && tk.Status != StatusRefunded:
				report("ticket %q has status %q", id, tk.Status)
			default:
				tickets[id] = tk
			}
		case CustomerPrefix:
			c, ok1 := str(t, 1)
			id, ok2 := str(t, 2)
			if !ok1 || !ok2 || len(t) != 3 {
				report("key %s is not (%q, <customer>, <ticket id>)", e.Key, CustomerPrefix)
				continue
			}
			if v, err := e.Value.Str(); err != nil || v != id {
				report("customer index %s holds %q, not the ticket id", e.Key, v)
			}
			indexed[indexEntry{c, id}] = true
		case QueuePrefix:
			if len(t) != 3 || !isInt(t[1]) || !isInt(t[2]) {
				report("key %s is not (%q, <HLC>, <n>)", e.Key, QueuePrefix)
				continue
			}
			var it Item
			if err := e.Value.Decode(&it); err != nil {
				report("queue item %s does not decode: %v", e.Key, err)
				continue
			}
			if want := fmt.Sprintf("%d-%d", t[1], t[2]); it.ID != want {
				report("queue item %s has id %q, want %q", e.Key, it.ID, want)
			}
			if !slices.Contains(itemKinds, it.Kind) {
				report("queue item %s has unknown kind %q", e.Key, it.Kind)
			}
			if it.Note == "" {
				report("queue item %s does not say what to do", e.Key)
			}
			if _, err := liege.ParseTimestamp(it.At); err != nil {
				report("queue item %s has a malformed time: %v", e.Key, err)
			}
			items = append(items, it)
		default:
			report("key %s is outside ticketing's key space", e.Key)
		}
	}

	// Seats against the layouts: each seat free or sold, not both.
	covered := map[string]int64{}
	for s := range free {
		if ev, ok := events[s.Event]; !ok || !ev.has(s) {
			report("free seat %s is not in any event's layout", s)
			continue
		}
		if _, ok := sold[s]; ok {
			report("seat %s is both free and sold", s)
		}
		covered[s.Event]++
	}
	for s := range sold {
		if ev, ok := events[s.Event]; !ok || !ev.has(s) {
			report("sold seat %s is not in any event's layout", s)
			continue
		}
		if !free[s] {
			covered[s.Event]++
		}
	}
	for name, ev := range events {
		if covered[name] == ev.seats() {
			continue
		}
		missing := 0
		for _, sec := range ev.Sections {
			for row := int64(1); row <= sec.Rows; row++ {
				for n := int64(1); n <= sec.SeatsPerRow; n++ {
					s := Seat{Event: name, Section: sec.Name, Row: row, Number: n}
					if _, ok := sold[s]; !ok && !free[s] {
						if missing++; missing <= 3 {
							report("seat %s is neither free nor sold", s)
						}
					}
				}
			}
		}
		if missing > 3 {
			report("event %q: %d more seats are neither free nor sold", name, missing-3)
		}
	}

	// Owners against tickets.
	for s, owners := range sold {
		if len(owners) == 0 {
			report("seat %s is sold to nobody", s)
		}
		seen := map[string]bool{}
		for _, o := range owners {
			if seen[o.Ticket] {
				report("seat %s names ticket %q twice", s, o.Ticket)
			}
			seen[o.Ticket] = true
			tk, ok := tickets[o.Ticket]
			switch {
			case !ok:
				report("seat %s is owned by ticket %q, which does not exist", s, o.Ticket)
			case tk.Status != StatusValid:
				report("seat %s is owned by ticket %q, which is %s", s, o.Ticket, tk.Status)
			case tk.Seat != s || tk.Customer != o.Customer:
				report("seat %s is owned by ticket %q of %q, but the ticket is for seat %s of %q", s, o.Ticket, o.Customer, tk.Seat, tk.Customer)
			}
		}
	}
	for id, tk := range tickets {
		if !indexed[indexEntry{tk.Customer, id}] {
			report("ticket %q is missing from customer %q's index", id, tk.Customer)
		}
		if tk.Status != StatusValid {
			continue
		}
		if !slices.ContainsFunc(sold[tk.Seat], func(o Owner) bool { return o.Ticket == id }) {
			report("valid ticket %q does not own its seat %s", id, tk.Seat)
		}
	}
	for ie := range indexed {
		if tk, ok := tickets[ie.id]; !ok || tk.Customer != ie.customer {
			report("customer %q's index names ticket %q, which is not theirs", ie.customer, ie.id)
		}
	}

	// The rule: a seat with several owners needs double-sale items naming
	// every one of its tickets.
	named := map[Seat]map[string]bool{}
	for _, it := range items {
		if it.Kind != KindDoubleSale {
			continue
		}
		if named[it.Seat] == nil {
			named[it.Seat] = map[string]bool{}
		}
		for _, o := range it.Owners {
			named[it.Seat][o.Ticket] = true
		}
	}
	for s, owners := range sold {
		if len(owners) < 2 {
			continue
		}
		var unnamed []string
		for _, o := range owners {
			if !named[s][o.Ticket] {
				unnamed = append(unnamed, strconv.Quote(o.Ticket))
			}
		}
		if len(unnamed) > 0 {
			report("seat %s has %d owners, and no double-sale item in the work queue names %s", s, len(owners), strings.Join(unnamed, " or "))
		}
	}

	slices.Sort(out)
	if len(out) > maxViolations {
		extra := len(out) - maxViolations
		out = append(out[:maxViolations], fmt.Sprintf("... and %d more violations", extra))
	}
	return out
}

// SeatOf decodes a (prefix, event, section, row, number) key: prefix is
// FreePrefix or SeatPrefix.
func SeatOf(key liege.Key, prefix string) (Seat, error) {
	t, err := liege.Key(key).Unpack()
	if err == nil && len(t) == 5 && t[0] == prefix {
		ev, ok1 := str(t, 1)
		sec, ok2 := str(t, 2)
		row, ok3 := t[3].(int64)
		n, ok4 := t[4].(int64)
		if ok1 && ok2 && ok3 && ok4 {
			return Seat{Event: ev, Section: sec, Row: row, Number: n}, nil
		}
	}
	return Seat{}, fmt.Errorf("key %s is not (%q, <event>, <section>, <row>, <number>)", key, prefix)
}

// str returns t[i] if it is a string.
func str(t []any, i int) (string, bool) {
	if i >= len(t) {
		return "", false
	}
	s, ok := t[i].(string)
	return s, ok
}

func isInt(x any) bool {
	_, ok := x.(int64)
	return ok
}
