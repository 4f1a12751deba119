package main

import (
	"testing"

	"github.com/liege-db/liege/apps/ticketing"
)

func TestMoney(t *testing.T) {
	for n, want := range map[int64]string{0: "€0", 1: "€1", 100: "€100", -77: "-€77"} {
		if got := money(n); got != want {
			t.Errorf("money(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 records"}, {1, "1 record"}, {2, "2 records"}, {58, "58 records"}} {
		if got := plural(tc.n, "record"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for in, want := range map[string]string{"1": "1 record", "2": "2 records", "?": "? records"} {
		if got := pluralText(in, "record"); got != want {
			t.Errorf("pluralText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFormatQueue checks one line per seat naming every owner once, even
// from a queue holding two items for one seat, as queues did before
// items were kept one per seat.
func TestFormatQueue(t *testing.T) {
	vip := ticketing.Seat{Event: "gala", Section: "VIP", Row: 1, Number: 1}
	b17 := ticketing.Seat{Event: "gala", Section: "B", Row: 1, Number: 7}
	ann := ticketing.Owner{Ticket: "gala/VIP/1/1/ann", Customer: "ann"}
	ben := ticketing.Owner{Ticket: "gala/VIP/1/1/ben", Customer: "ben"}
	cy := ticketing.Owner{Ticket: "gala/VIP/1/1/cy", Customer: "cy"}
	dee := ticketing.Owner{Ticket: "gala/B/1/7/dee", Customer: "dee"}
	eve := ticketing.Owner{Ticket: "gala/B/1/7/eve", Customer: "eve"}
	items := []ticketing.Item{
		{ID: "1-0", Kind: ticketing.KindDoubleSale, Seat: vip, Owners: []ticketing.Owner{ann, ben}},
		{ID: "2-0", Kind: ticketing.KindDoubleSale, Seat: b17, Owners: []ticketing.Owner{dee, eve}},
		{ID: "3-0", Kind: ticketing.KindDoubleSale, Seat: vip, Owners: []ticketing.Owner{ann, ben, cy}},
		{ID: "4-0", Kind: ticketing.KindEventConflict, Seat: ticketing.Seat{Event: "gala"}, Note: "event \"gala\" was created twice"},
	}
	want := "customer-service queue (3 items):\n" +
		"  double-sale  seat gala/VIP/1/1: ann (ticket gala/VIP/1/1/ann), ben (ticket gala/VIP/1/1/ben), cy (ticket gala/VIP/1/1/cy)\n" +
		"  double-sale  seat gala/B/1/7: dee (ticket gala/B/1/7/dee), eve (ticket gala/B/1/7/eve)\n" +
		"  event-conflict  event gala: event \"gala\" was created twice\n"
	if got := formatQueue(items); got != want {
		t.Errorf("formatQueue:\n got %q\nwant %q", got, want)
	}
	if got, want := formatQueue(items[1:2]), "customer-service queue (1 item):\n  double-sale  seat gala/B/1/7: dee (ticket gala/B/1/7/dee), eve (ticket gala/B/1/7/eve)\n"; got != want {
		t.Errorf("formatQueue of one item:\n got %q\nwant %q", got, want)
	}
	if got := formatQueue(nil); got != "customer-service queue: empty\n" {
		t.Errorf("formatQueue(nil) = %q", got)
	}
}
