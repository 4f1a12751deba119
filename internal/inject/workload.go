package inject

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/apps/ticketing"
)

// call is one procedure call of the workload.
type call struct {
	proc string
	args any
}

// workload generates an application's calls. Hot calls touch data both
// sites share (they conflict across the link); the others touch data of
// the calling site only.
type workload interface {
	// setup returns the calls that create the data, run at the liege before
	// the load; each must succeed.
	setup() []call
	// next returns the next call of site (0 liege, 1 vassal).
	next(rng *rand.Rand, site int, hot bool) call
	// answered tells the workload what a call returned (2xx only).
	answered(site int, c call, result json.RawMessage)
}

// newWorkload returns the workload of app.
func newWorkload(app string) (workload, error) {
	switch app {
	case ticketing.Name:
		return &ticketingLoad{}, nil
	case atm.Name:
		return &atmLoad{}, nil
	case kv.Name:
		return &kvLoad{}, nil
	}
	return nil, fmt.Errorf("--app %q: liege inject drives ticketing, atm or kv", app)
}

var siteNames = [2]string{"a", "b"}

// ticketingLoad sells seats of one event: a small "vip" section both
// sites sell from (hot), and one large section per site.
type ticketingLoad struct {
	mu      sync.Mutex
	tickets [2][]string // tickets each site sold, for refunds
	n       [2]int
}

const (
	tkEvent    = "gala"
	tkVIPRows  = 4
	tkVIPSeats = 8
	tkRows     = 40
	tkSeats    = 25
)

func (w *ticketingLoad) setup() []call {
	return []call{{ticketing.ProcCreateEvent, ticketing.CreateEventArgs{Event: tkEvent, Sections: []ticketing.Section{
		{Name: "vip", Rows: tkVIPRows, SeatsPerRow: tkVIPSeats},
		{Name: "hall-a", Rows: tkRows, SeatsPerRow: tkSeats},
		{Name: "hall-b", Rows: tkRows, SeatsPerRow: tkSeats},
	}}}}
}

func (w *ticketingLoad) next(rng *rand.Rand, site int, hot bool) call {
	w.mu.Lock()
	w.n[site]++
	n := w.n[site]
	customer := fmt.Sprintf("%s-%d", siteNames[site], n)
	var refund string
	if k := len(w.tickets[site]); k > 0 && rng.IntN(8) == 0 {
		i := rng.IntN(k)
		refund = w.tickets[site][i]
		w.tickets[site] = append(w.tickets[site][:i], w.tickets[site][i+1:]...)
	}
	w.mu.Unlock()
	if refund != "" {
		return call{ticketing.ProcRefund, ticketing.TicketArgs{Ticket: refund}}
	}
	section, rows, seats := "hall-"+siteNames[site], int64(tkRows), int64(tkSeats)
	if hot {
		section, rows, seats = "vip", tkVIPRows, tkVIPSeats
	}
	switch r := rng.IntN(10); {
	case r < 5:
		return call{ticketing.ProcBuy, ticketing.BuyArgs{Event: tkEvent, Section: section,
			Row: 1 + rng.Int64N(rows), Number: 1 + rng.Int64N(seats), Customer: customer}}
	case r < 8:
		return call{ticketing.ProcBuyBest, ticketing.BuyBestArgs{Event: tkEvent, Section: section, Customer: customer}}
	case r < 9:
		return call{ticketing.ProcAvailability, ticketing.EventArgs{Event: tkEvent}}
	default:
		return call{ticketing.ProcTickets, ticketing.CustomerArgs{Customer: fmt.Sprintf("%s-%d", siteNames[site], 1+rng.IntN(n))}}
	}
}

func (w *ticketingLoad) answered(site int, c call, result json.RawMessage) {
	if c.proc != ticketing.ProcBuy && c.proc != ticketing.ProcBuyBest {
		return
	}
	var p ticketing.Purchase
	if json.Unmarshal(result, &p) == nil && p.Ticket != "" {
		w.mu.Lock()
		w.tickets[site] = append(w.tickets[site], p.Ticket)
		w.mu.Unlock()
	}
}

// atmLoad moves money between accounts: a few accounts both sites use
// (hot), and a set per site.
type atmLoad struct{}

const (
	atmHot     = 3
	atmPerSite = 12
	atmOpening = 500
)

func atmAccount(site int, hot bool, i int) string {
	if hot {
		return fmt.Sprintf("shared-%d", i%atmHot)
	}
	return fmt.Sprintf("%s-%d", siteNames[site], i%atmPerSite)
}

func (w *atmLoad) setup() []call {
	var out []call
	for i := 0; i < atmHot; i++ {
		out = append(out, call{atm.ProcOpenAccount, atm.OpenArgs{Account: atmAccount(0, true, i), Opening: atmOpening, Fees: atm.Fees{Withdrawal: 1, Overdraft: 25}}})
	}
	for s := range siteNames {
		for i := 0; i < atmPerSite; i++ {
			out = append(out, call{atm.ProcOpenAccount, atm.OpenArgs{Account: atmAccount(s, false, i), Opening: atmOpening, Fees: atm.Fees{Withdrawal: 1, Overdraft: 25}}})
		}
	}
	return out
}

func (w *atmLoad) next(rng *rand.Rand, site int, hot bool) call {
	n := atmPerSite
	if hot {
		n = atmHot
	}
	acct := atmAccount(site, hot, rng.IntN(n))
	amount := 10 + rng.Int64N(200)
	switch r := rng.IntN(20); {
	case r < 6:
		return call{atm.ProcDeposit, atm.AmountArgs{Account: acct, Amount: amount}}
	case r < 13:
		return call{atm.ProcWithdraw, atm.AmountArgs{Account: acct, Amount: amount}}
	case r < 17:
		to := atmAccount(site, hot, rng.IntN(n))
		if to == acct {
			to = atmAccount(site, false, rng.IntN(atmPerSite))
		}
		return call{atm.ProcTransfer, atm.TransferArgs{From: acct, To: to, Amount: amount / 2}}
	case r < 19:
		return call{atm.ProcBalance, atm.AccountArgs{Account: acct}}
	default:
		return call{atm.ProcStatement, atm.StatementArgs{Account: acct, Limit: 5}}
	}
}

func (w *atmLoad) answered(int, call, json.RawMessage) {}

// kvLoad reads and writes plain keys and integer balances: a few keys both
// sites use (hot), and a set per site.
type kvLoad struct{}

const (
	kvHot     = 4
	kvPerSite = 16
	kvOpening = 100
)

func kvKey(site int, hot bool, i int) string {
	if hot {
		return fmt.Sprintf("shared-%d", i%kvHot)
	}
	return fmt.Sprintf("%s-%d", siteNames[site], i%kvPerSite)
}

func (w *kvLoad) setup() []call {
	var out []call
	for i := 0; i < kvHot; i++ {
		out = append(out, call{kv.ProcAdd, kv.AddArgs{Key: "n-" + kvKey(0, true, i), Delta: kvOpening}})
	}
	for s := range siteNames {
		for i := 0; i < kvPerSite; i++ {
			out = append(out, call{kv.ProcAdd, kv.AddArgs{Key: "n-" + kvKey(s, false, i), Delta: kvOpening}})
		}
	}
	return out
}

func (w *kvLoad) next(rng *rand.Rand, site int, hot bool) call {
	n := kvPerSite
	if hot {
		n = kvHot
	}
	k := kvKey(site, hot, rng.IntN(n))
	switch r := rng.IntN(20); {
	case r < 5:
		return call{kv.ProcSet, kv.SetArgs{Key: k, Value: fmt.Sprintf("%s%d", siteNames[site], rng.IntN(1000))}}
	case r < 9:
		return call{kv.ProcAdd, kv.AddArgs{Key: "n-" + k, Delta: 1 + rng.Int64N(10)}}
	case r < 13:
		to := kvKey(site, hot, rng.IntN(n))
		if to == k {
			to = kvKey(site, false, rng.IntN(kvPerSite))
		}
		return call{kv.ProcTransfer, kv.TransferArgs{From: "n-" + k, To: "n-" + to, Amount: 1 + rng.Int64N(30)}}
	case r < 14:
		return call{kv.ProcAppend, kv.AppendArgs{Key: "l-" + k, Value: fmt.Sprintf("%s%d", siteNames[site], rng.IntN(1000))}}
	case r < 17:
		return call{kv.ProcGet, kv.KeyArgs{Key: k}}
	default:
		return call{kv.ProcGet, kv.KeyArgs{Key: "n-" + k}}
	}
}

func (w *kvLoad) answered(int, call, json.RawMessage) {}
