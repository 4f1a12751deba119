package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/apps/ticketing"
)

// An application as the workload (Options.App, on the real engine only):
// the data it starts with, created at the liege before the load, and its
// calls, hot ones on data both sites use (they conflict across the link).
type appLoad interface {
	setup() []Call
	next(rng *rand.Rand, site int, hot bool) Call
}

func newAppLoad(name string) (appLoad, error) {
	switch name {
	case kv.Name:
		return kvLoad{}, nil
	case atm.Name:
		return atmLoad{}, nil
	case ticketing.Name:
		return &ticketingLoad{}, nil
	}
	return nil, fmt.Errorf("the simulator drives the applications kv, atm and ticketing, not %q", name)
}

func siteKey(site int, hot bool, i, hotN, perSite int) string {
	if hot {
		return fmt.Sprintf("shared-%d", i%hotN)
	}
	return fmt.Sprintf("%s-%d", siteNames[site], i%perSite)
}

type kvLoad struct{}

func (kvLoad) setup() []Call {
	var out []Call
	for i := range 4 {
		out = append(out, Call{Proc: kv.ProcAdd, Args: kv.AddArgs{Key: "n-" + siteKey(0, true, i, 4, 8), Delta: 100}})
	}
	for s := range siteNames {
		for i := range 8 {
			out = append(out, Call{Proc: kv.ProcAdd, Args: kv.AddArgs{Key: "n-" + siteKey(s, false, i, 4, 8), Delta: 100}})
		}
	}
	return out
}

func (kvLoad) next(rng *rand.Rand, site int, hot bool) Call {
	n := 8
	if hot {
		n = 4
	}
	k := siteKey(site, hot, rng.IntN(n), 4, 8)
	switch r := rng.IntN(20); {
	case r < 5:
		return Call{Proc: kv.ProcSet, Args: kv.SetArgs{Key: k, Value: fmt.Sprintf("%s%d", siteNames[site], rng.IntN(1000))}}
	case r < 9:
		return Call{Proc: kv.ProcAdd, Args: kv.AddArgs{Key: "n-" + k, Delta: 1 + rng.Int64N(10)}}
	case r < 14:
		to := siteKey(site, hot, rng.IntN(n), 4, 8)
		if to == k {
			to = siteKey(site, false, rng.IntN(8), 4, 8)
		}
		return Call{Proc: kv.ProcTransfer, Args: kv.TransferArgs{From: "n-" + k, To: "n-" + to, Amount: 1 + rng.Int64N(60)}}
	case r < 16:
		return Call{Proc: kv.ProcAppend, Args: kv.AppendArgs{Key: "l-" + k, Value: fmt.Sprint(rng.IntN(1000))}}
	default:
		return Call{Proc: kv.ProcGet, Args: kv.KeyArgs{Key: "n-" + k}}
	}
}

type atmLoad struct{}

func (atmLoad) setup() []Call {
	var out []Call
	open := func(acct string) {
		out = append(out, Call{Proc: atm.ProcOpenAccount, Args: atm.OpenArgs{Account: acct, Opening: 300,
			Fees: atm.Fees{Withdrawal: 1, Overdraft: 25}}})
	}
	for i := range 3 {
		open(siteKey(0, true, i, 3, 6))
	}
	for s := range siteNames {
		for i := range 6 {
			open(siteKey(s, false, i, 3, 6))
		}
	}
	return out
}

func (atmLoad) next(rng *rand.Rand, site int, hot bool) Call {
	n := 6
	if hot {
		n = 3
	}
	acct := siteKey(site, hot, rng.IntN(n), 3, 6)
	amount := 10 + rng.Int64N(200)
	switch r := rng.IntN(20); {
	case r < 6:
		return Call{Proc: atm.ProcDeposit, Args: atm.AmountArgs{Account: acct, Amount: amount}}
	case r < 13:
		return Call{Proc: atm.ProcWithdraw, Args: atm.AmountArgs{Account: acct, Amount: amount}}
	case r < 18:
		to := siteKey(site, hot, rng.IntN(n), 3, 6)
		if to == acct {
			to = siteKey(site, false, rng.IntN(6), 3, 6)
		}
		return Call{Proc: atm.ProcTransfer, Args: atm.TransferArgs{From: acct, To: to, Amount: amount / 2}}
	default:
		return Call{Proc: atm.ProcBalance, Args: atm.AccountArgs{Account: acct}}
	}
}

type ticketingLoad struct{ n [2]int }

func (*ticketingLoad) setup() []Call {
	return []Call{{Proc: ticketing.ProcCreateEvent, Args: ticketing.CreateEventArgs{Event: "gala", Sections: []ticketing.Section{
		{Name: "vip", Rows: 2, SeatsPerRow: 6},
		{Name: "hall-a", Rows: 10, SeatsPerRow: 10},
		{Name: "hall-b", Rows: 10, SeatsPerRow: 10},
	}}}}
}

func (w *ticketingLoad) next(rng *rand.Rand, site int, hot bool) Call {
	w.n[site]++
	customer := fmt.Sprintf("%s-%d", siteNames[site], w.n[site])
	section, rows, seats := "hall-"+[2]string{"a", "b"}[site], int64(10), int64(10)
	if hot {
		section, rows, seats = "vip", 2, 6
	}
	switch r := rng.IntN(10); {
	case r < 5:
		return Call{Proc: ticketing.ProcBuy, Args: ticketing.BuyArgs{Event: "gala", Section: section,
			Row: 1 + rng.Int64N(rows), Number: 1 + rng.Int64N(seats), Customer: customer}}
	case r < 8:
		return Call{Proc: ticketing.ProcBuyBest, Args: ticketing.BuyBestArgs{Event: "gala", Section: section, Customer: customer}}
	case r < 9:
		return Call{Proc: ticketing.ProcAvailability, Args: ticketing.EventArgs{Event: "gala"}}
	default:
		return Call{Proc: ticketing.ProcTickets, Args: ticketing.CustomerArgs{Customer: fmt.Sprintf("%s-%d", siteNames[site], 1+rng.IntN(w.n[site]))}}
	}
}
