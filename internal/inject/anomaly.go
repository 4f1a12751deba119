package inject

// This file counts the anomalies of a final state (Anomalies): what it costs
// the application, as a user or an auditor would see it, judged against the
// client call log of the run.
//
// The counts are conservative: each is a business error that no run of the
// protocol of DESIGN.md can produce, so the path-consistent run counts none,
// whatever its faults, and the last-writer-wins baseline counts what
// dropping the protocol cost. Calls are judged by their outcome: an acked
// call committed exactly once, a maybe call at most once (either may be
// reprocessed or corrected by the liege, which keeps its effect), a failed
// or read-only one not at all.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/tuple"
)

// maxAnomalyExamples bounds Anomalies.Examples.
const maxAnomalyExamples = 5

// CountAnomalies counts what the final state entries of one site cost app
// (ticketing, atm or kv), given the calls of the run's client call log
// (oracle.CallLog.Calls), with up to 5 examples. Diverged is left to the
// caller. The log must hold every call of the run, setup included, at both
// sites. The rules, per application:
//
// ticketing:
//
//   - DoubleSold: seats that two or more distinct valid tickets are for
//     (whatever the seat's record lists) and no work-queue item names
//     (Item.Seat, any kind).
//   - Vanished: acked buy calls whose customer holds no ticket (of any
//     status) for the seat, acked buy_best calls whose customer holds no
//     ticket in the section, unless a work-queue item names the seat (buy)
//     or the customer in the section (buy_best); and valid tickets of an
//     acked purchase (its seat and customer, or its section and customer)
//     that their seat does not list as an owner, on a seat no other ticket
//     claims and no item names (the seat map lost the sale).
//
// atm (per account; the fee of a withdrawal is the account's withdrawal fee
// in the state, or that of its open_account call if it has no record):
//
//   - UnflaggedNegative: a negative balance whose account is not flagged
//     overdrawn.
//   - expected balance: the acked calls' effects (opening, + deposit, −
//     cash and withdrawal fee, ∓ transfer), minus the overdraft fees the
//     account record says corrections charged (Overdrafts × its fee). An
//     account with no acked open_account call takes its opening from the
//     state's open log entries instead (opened by setup outside the log,
//     or by an unanswered call), and its maybe opens are ignored.
//   - MoneyWrong: accounts whose balance minus expected is not the sum of
//     any subset of the effects of the maybe calls that touch them.
//   - MoneyDrift: the sum of the balances minus the sum of the expected
//     balances, less the nearest sum of a subset of the maybe calls' net
//     effects (transfers net 0): 0 when the unanswered calls explain it.
//
// kv (money keys: the user keys acked or maybe add and transfer calls name,
// except those acked or maybe set, append or delete calls name and those
// holding something other than an integer):
//
//   - UnflaggedNegative: integer keys below 0 that no correction record
//     names overdrawn (whether or not a call names them).
//   - MoneyDrift and MoneyWrong: as for atm over the money keys, the
//     effects being + add delta and ∓ transfer amount.
//   - Vanished: for each key that acked or maybe append calls name and no
//     acked or maybe set, delete, add or transfer call does, each value
//     appended by n acked calls that the final list holds m < n times
//     counts n − m (such a list only grows, and each acked append is in
//     the path exactly once).
//
// A subset sum is searched exactly while the maybe effects span at most
// 2^22 units; beyond, any difference within their range is taken as
// explained. CountAnomalies fails on an unknown application, on a value of
// a key it needs that does not decode, and on the arguments of an acked or
// maybe call that do not decode.
func CountAnomalies(app string, entries []liege.Entry, calls []oracle.Call) (Anomalies, error) {
	switch app {
	case ticketing.Name:
		return ticketingAnomalies(entries, calls)
	case atm.Name:
		return atmAnomalies(entries, calls)
	case kv.Name:
		return kvAnomalies(entries, calls)
	}
	return Anomalies{}, fmt.Errorf("count anomalies: unknown application %q (want %s, %s or %s)", app, atm.Name, kv.Name, ticketing.Name)
}

// example adds an example to a, up to maxAnomalyExamples.
func (a *Anomalies) example(format string, args ...any) {
	if len(a.Examples) < maxAnomalyExamples {
		a.Examples = append(a.Examples, fmt.Sprintf(format, args...))
	}
}

// anomalyCall is a call that may have committed: acked (exactly once) or
// maybe (at most once).
type anomalyCall struct {
	c     *oracle.Call
	acked bool
}

// committable returns the acked and maybe calls of calls, in log order.
func committable(calls []oracle.Call) []anomalyCall {
	var out []anomalyCall
	for i := range calls {
		switch calls[i].Outcome() {
		case oracle.OutcomeAcked:
			out = append(out, anomalyCall{&calls[i], true})
		case oracle.OutcomeMaybe:
			out = append(out, anomalyCall{&calls[i], false})
		}
	}
	return out
}

// args decodes the call's arguments (JSON, as sent).
func (ac anomalyCall) args(out any) error {
	if len(ac.c.Args) == 0 {
		return fmt.Errorf("count anomalies: %s has no arguments", ac)
	}
	if err := json.Unmarshal(ac.c.Args, out); err != nil {
		return fmt.Errorf("count anomalies: the arguments of %s do not decode: %w", ac, err)
	}
	return nil
}

// String names the call: "deposit at A (txid A/18)", "deposit at B (maybe)".
func (ac anomalyCall) String() string {
	if ac.c.TxID != nil && *ac.c.TxID != "" {
		return fmt.Sprintf("%s at %s (txid %s)", ac.c.Proc, ac.c.Site, *ac.c.TxID)
	}
	return fmt.Sprintf("%s at %s (%s)", ac.c.Proc, ac.c.Site, ac.c.Outcome())
}

// unpackKey returns the key's tuple and its first element, "" if it has no
// string first element.
func unpackKey(k liege.Key) (tuple.Tuple, string) {
	t, err := tuple.Unpack(k)
	if err != nil || len(t) == 0 {
		return nil, ""
	}
	p, _ := t[0].(string)
	return t, p
}

// tupleStr returns t[i] if it is a string.
func tupleStr(t tuple.Tuple, i int) (string, bool) {
	if i >= len(t) {
		return "", false
	}
	s, ok := t[i].(string)
	return s, ok
}

// --- ticketing -------------------------------------------------------------

// ticketClaim is a ticket claiming a seat.
type ticketClaim struct{ ticket, customer string }

// ticketFamily is a customer's tickets for one seat; ticketSection a
// customer's tickets in one section of an event.
type (
	ticketFamily struct {
		seat     ticketing.Seat
		customer string
	}
	ticketSection struct{ event, section, customer string }
)

func sectionOf(s ticketing.Seat, customer string) ticketSection {
	return ticketSection{s.Event, s.Section, customer}
}

func ticketingAnomalies(entries []liege.Entry, calls []oracle.Call) (Anomalies, error) {
	var a Anomalies
	tickets := map[string]ticketing.Ticket{}
	owners := map[ticketing.Seat][]ticketing.Owner{}
	free := map[ticketing.Seat]bool{}
	for _, e := range entries {
		t, prefix := unpackKey(e.Key)
		switch prefix {
		case ticketing.SeatPrefix, ticketing.FreePrefix:
			s, err := ticketing.SeatOf(e.Key, prefix)
			if err != nil {
				continue // not a seat key: Check reports it
			}
			if prefix == ticketing.FreePrefix {
				free[s] = true
				continue
			}
			var os []ticketing.Owner
			if err := e.Value.Decode(&os); err != nil {
				return a, fmt.Errorf("count anomalies: the owners of seat %s do not decode: %w", s, err)
			}
			owners[s] = os
		case ticketing.TicketPrefix:
			id, ok := tupleStr(t, 1)
			if !ok || len(t) != 2 {
				continue
			}
			var tk ticketing.Ticket
			if err := e.Value.Decode(&tk); err != nil {
				return a, fmt.Errorf("count anomalies: ticket %q does not decode: %w", id, err)
			}
			tk.ID = id
			tickets[id] = tk
		}
	}
	items, err := ticketing.Queue(entries)
	if err != nil {
		return a, fmt.Errorf("count anomalies: %w", err)
	}
	itemSeat := map[ticketing.Seat]bool{}
	itemSection := map[ticketSection]bool{}
	for _, it := range items {
		itemSeat[it.Seat] = true
		for _, o := range it.Owners {
			itemSection[sectionOf(it.Seat, o.Customer)] = true
		}
	}

	// Claims: the valid tickets of each seat (whatever the seat's record
	// lists: a merge may have overwritten it with one of them).
	claims := map[ticketing.Seat][]ticketClaim{}
	perFamily := map[ticketFamily]int{}
	perSection := map[ticketSection]int{}
	for _, id := range slices.Sorted(maps.Keys(tickets)) {
		tk := tickets[id]
		perFamily[ticketFamily{tk.Seat, tk.Customer}]++
		perSection[sectionOf(tk.Seat, tk.Customer)]++
		if tk.Status == ticketing.StatusValid {
			claims[tk.Seat] = append(claims[tk.Seat], ticketClaim{id, tk.Customer})
		}
	}
	seats := make([]ticketing.Seat, 0, len(claims))
	for s := range claims {
		seats = append(seats, s)
	}
	sortSeats(seats)
	for _, s := range seats {
		cs := claims[s]
		if len(cs) < 2 || itemSeat[s] {
			continue
		}
		a.DoubleSold++
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = fmt.Sprintf("%q (%s)", c.ticket, c.customer)
		}
		a.example("ticketing: seat %s is claimed by %d tickets, %s, and no work-queue item names it", s, len(cs), strings.Join(names, ", "))
	}

	// The acked purchases.
	ackedFamily := map[ticketFamily]int{}
	ackedSection := map[ticketSection]int{}
	var families []ticketFamily
	var sections []ticketSection
	for _, ac := range committable(calls) {
		if !ac.acked {
			continue
		}
		switch ac.c.Proc {
		case ticketing.ProcBuy:
			var args ticketing.BuyArgs
			if err := ac.args(&args); err != nil {
				return a, err
			}
			f := ticketFamily{args.Seat(), args.Customer}
			if ackedFamily[f] == 0 {
				families = append(families, f)
			}
			ackedFamily[f]++
		case ticketing.ProcBuyBest:
			var args ticketing.BuyBestArgs
			if err := ac.args(&args); err != nil {
				return a, err
			}
			sec := ticketSection{args.Event, args.Section, args.Customer}
			if ackedSection[sec] == 0 {
				sections = append(sections, sec)
			}
			ackedSection[sec]++
		}
	}
	for _, f := range families {
		if perFamily[f] > 0 || itemSeat[f.seat] {
			continue
		}
		n := ackedFamily[f]
		a.Vanished += n
		a.example("ticketing: customer %q was sold seat %s (acknowledged buy calls: %d) but holds no ticket for it, and no work-queue item names it", f.customer, f.seat, n)
	}
	for _, sec := range sections {
		if perSection[sec] > 0 || itemSection[sec] {
			continue
		}
		n := ackedSection[sec]
		a.Vanished += n
		a.example("ticketing: customer %q was sold a seat in %s/%s (acknowledged buy_best calls: %d) but holds no ticket there, and no work-queue item names them", sec.customer, sec.event, sec.section, n)
	}
	for _, id := range slices.Sorted(maps.Keys(tickets)) {
		tk := tickets[id]
		s := tk.Seat
		switch {
		case tk.Status != ticketing.StatusValid,
			slices.ContainsFunc(owners[s], func(o ticketing.Owner) bool { return o.Ticket == id }),
			len(claims[s]) > 1, itemSeat[s],
			ackedFamily[ticketFamily{s, tk.Customer}] == 0 && ackedSection[sectionOf(s, tk.Customer)] == 0:
			continue
		}
		a.Vanished++
		where := "neither free nor sold"
		switch {
		case free[s]:
			where = "free"
		case len(owners[s]) > 0:
			where = fmt.Sprintf("sold to %+v", owners[s])
		}
		a.example("ticketing: customer %q holds valid ticket %q, but its seat %s is %s", tk.Customer, id, s, where)
	}
	return a, nil
}

func sortSeats(seats []ticketing.Seat) {
	slices.SortFunc(seats, func(x, y ticketing.Seat) int {
		switch {
		case x.Event != y.Event:
			return strings.Compare(x.Event, y.Event)
		case x.Section != y.Section:
			return strings.Compare(x.Section, y.Section)
		case x.Row != y.Row:
			return cmp.Compare(x.Row, y.Row)
		}
		return cmp.Compare(x.Number, y.Number)
	})
}

// --- money (atm, kv) -------------------------------------------------------

// ledger is the money of one site judged against the calls: per account
// (atm) or money key (kv), the balance, what the acked calls give, and the
// effects of the maybe calls; and the maybe calls' net effects on the total.
type ledger struct {
	balance  map[string]int64
	expected map[string]int64
	maybe    map[string][]int64
	// maybeNet are the maybe calls' net effects on the sum (non-zero).
	maybeNet []int64
}

func newLedger() *ledger {
	return &ledger{balance: map[string]int64{}, expected: map[string]int64{}, maybe: map[string][]int64{}}
}

// call books one call's effects on accounts: an acked call's into
// expected, a maybe call's as possible effects.
func (l *ledger) call(acked bool, effects map[string]int64) {
	var net int64
	for acct, e := range effects {
		net += e
		if acked {
			l.expected[acct] += e
		} else if e != 0 {
			l.maybe[acct] = append(l.maybe[acct], e)
		}
	}
	if !acked && net != 0 {
		l.maybeNet = append(l.maybeNet, net)
	}
}

// judge counts MoneyWrong and MoneyDrift over the accounts, with examples
// (what names the application and "account" or "key").
func (l *ledger) judge(a *Anomalies, what, noun string, accounts []string) {
	var total, expected int64
	var wrong []string
	for _, acct := range accounts {
		bal, exp := l.balance[acct], l.expected[acct]
		total += bal
		expected += exp
		diff := bal - exp
		if near := nearestSubsetSum(diff, l.maybe[acct]); near != diff {
			a.MoneyWrong++
			wrong = append(wrong, fmt.Sprintf("%s: %s %q holds %d, but its acknowledged calls give %d: %+d that none of its %d unanswered calls explain",
				what, noun, acct, bal, exp, diff-near, len(l.maybe[acct])))
		}
	}
	diff := total - expected
	a.MoneyDrift = diff - nearestSubsetSum(diff, l.maybeNet)
	if a.MoneyDrift != 0 {
		verb := "created"
		if a.MoneyDrift < 0 {
			verb = "destroyed"
		}
		a.example("%s: %d money %s: the balances add up to %d, the acknowledged calls give %d, and the %d unanswered calls explain at most %d of the difference",
			what, abs(a.MoneyDrift), verb, total, expected, len(l.maybeNet), diff-a.MoneyDrift)
	}
	for _, w := range wrong {
		a.example("%s", w)
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// maxSubsetRange bounds the range of sums nearestSubsetSum searches
// exactly.
const maxSubsetRange = 1 << 22

// nearestSubsetSum returns the sum of a subset of effects nearest to target
// (target itself if a subset sums to it; the empty subset sums to 0; of two
// sums equally near, the smaller). While the sums span more than
// maxSubsetRange, it treats every value between the least and the greatest
// sum as reachable.
func nearestSubsetSum(target int64, effects []int64) int64 {
	var lo, hi int64 // the least and greatest subset sums
	overflow := false
	for _, e := range effects {
		switch {
		case e > 0 && hi > maxSubsetRange-e, e < 0 && lo < -maxSubsetRange-e:
			overflow = true
		case e > 0:
			hi += e
		default:
			lo += e
		}
	}
	if overflow || hi-lo > maxSubsetRange {
		var plo, phi int64
		for _, e := range effects {
			if e > 0 {
				phi = satAdd(phi, e)
			} else {
				plo = satAdd(plo, e)
			}
		}
		return min(max(target, plo), phi)
	}
	// Bit i of reach: some subset sums to lo+i.
	reach := new(big.Int).SetBit(new(big.Int), int(-lo), 1)
	shifted := new(big.Int)
	for _, e := range effects {
		switch {
		case e > 0:
			shifted.Lsh(reach, uint(e))
		case e < 0:
			shifted.Rsh(reach, uint(-e))
		default:
			continue
		}
		reach.Or(reach, shifted)
	}
	has := func(s int64) bool { return s >= lo && s <= hi && reach.Bit(int(s-lo)) == 1 }
	switch {
	case target > hi:
		for s := hi; ; s-- {
			if has(s) {
				return s
			}
		}
	case target < lo:
		for s := lo; ; s++ {
			if has(s) {
				return s
			}
		}
	}
	for d := int64(0); ; d++ {
		if has(target - d) {
			return target - d
		}
		if has(target + d) {
			return target + d
		}
	}
}

// satAdd adds, saturating at the int64 bounds.
func satAdd(x, y int64) int64 {
	s := x + y
	switch {
	case x > 0 && y > 0 && s < 0:
		return 1<<63 - 1
	case x < 0 && y < 0 && s >= 0:
		return -1 << 63
	}
	return s
}

// --- atm -------------------------------------------------------------------

func atmAnomalies(entries []liege.Entry, calls []oracle.Call) (Anomalies, error) {
	var a Anomalies
	l := newLedger()
	records := map[string]atm.Account{}
	openLog := map[string]int64{}
	accounts := map[string]bool{}
	for _, e := range entries {
		t, prefix := unpackKey(e.Key)
		switch prefix {
		case atm.AccountPrefix:
			name, ok := tupleStr(t, 1)
			if !ok || len(t) != 2 {
				continue
			}
			var rec atm.Account
			if err := e.Value.Decode(&rec); err != nil {
				return a, fmt.Errorf("count anomalies: account %q does not decode: %w", name, err)
			}
			records[name] = rec
			accounts[name] = true
		case atm.BalancePrefix:
			name, ok := tupleStr(t, 1)
			if !ok || len(t) != 2 {
				continue
			}
			n, err := e.Value.Int()
			if err != nil {
				return a, fmt.Errorf("count anomalies: the balance of %q: %w", name, err)
			}
			l.balance[name] = n
			accounts[name] = true
		case atm.LogPrefix:
			name, ok1 := tupleStr(t, 1)
			kind, ok2 := tupleStr(t, 4)
			if !ok1 || !ok2 || len(t) != 6 || kind != atm.LogOpen {
				continue
			}
			n, err := e.Value.Int()
			if err != nil {
				return a, fmt.Errorf("count anomalies: log entry %s: %w", e.Key, err)
			}
			openLog[name] += n
		}
	}

	// Decode the calls, and find the accounts opened by an acked call and
	// the fee schedules the calls asked for.
	type decoded struct {
		anomalyCall
		open     atm.OpenArgs
		amount   atm.AmountArgs
		transfer atm.TransferArgs
	}
	var ds []decoded
	ackedOpen := map[string]bool{}
	openFees := map[string]atm.Fees{}
	for _, ac := range committable(calls) {
		d := decoded{anomalyCall: ac}
		var err error
		switch ac.c.Proc {
		case atm.ProcOpenAccount:
			if err = ac.args(&d.open); err == nil {
				accounts[d.open.Account] = true
				ackedOpen[d.open.Account] = ackedOpen[d.open.Account] || ac.acked
				if _, ok := openFees[d.open.Account]; !ok || ac.acked {
					openFees[d.open.Account] = d.open.Fees
				}
			}
		case atm.ProcDeposit, atm.ProcWithdraw:
			if err = ac.args(&d.amount); err == nil {
				accounts[d.amount.Account] = true
			}
		case atm.ProcTransfer:
			if err = ac.args(&d.transfer); err == nil {
				accounts[d.transfer.From] = true
				accounts[d.transfer.To] = true
			}
		default:
			continue
		}
		if err != nil {
			return a, err
		}
		ds = append(ds, d)
	}
	fees := func(acct string) atm.Fees {
		if rec, ok := records[acct]; ok {
			return rec.Fees
		}
		return openFees[acct]
	}
	for _, d := range ds {
		switch d.c.Proc {
		case atm.ProcOpenAccount:
			if ackedOpen[d.open.Account] && d.open.Opening >= 0 {
				l.call(d.acked, map[string]int64{d.open.Account: d.open.Opening})
			}
		case atm.ProcDeposit:
			if d.amount.Amount > 0 {
				l.call(d.acked, map[string]int64{d.amount.Account: d.amount.Amount})
			}
		case atm.ProcWithdraw:
			if d.amount.Amount <= 0 {
				continue // refused: nothing moved
			}
			l.call(d.acked, map[string]int64{d.amount.Account: -d.amount.Amount - fees(d.amount.Account).Withdrawal})
		case atm.ProcTransfer:
			if d.transfer.From == d.transfer.To || d.transfer.Amount <= 0 {
				continue // refused: nothing moved
			}
			l.call(d.acked, map[string]int64{d.transfer.From: -d.transfer.Amount, d.transfer.To: d.transfer.Amount})
		}
	}
	names := slices.Sorted(maps.Keys(accounts))
	for _, acct := range names {
		if !ackedOpen[acct] {
			l.expected[acct] += openLog[acct]
		}
		if rec, ok := records[acct]; ok {
			l.expected[acct] -= rec.Overdrafts * rec.Fees.Overdraft
		}
	}
	var negatives []string
	for _, acct := range names {
		bal := l.balance[acct]
		if bal >= 0 {
			continue
		}
		rec, ok := records[acct]
		if ok && rec.Status == atm.StatusOverdrawn {
			continue
		}
		a.UnflaggedNegative++
		status := "has no account record"
		if ok {
			status = "is " + rec.Status + ", not flagged overdrawn"
		}
		negatives = append(negatives, fmt.Sprintf("atm: account %q has balance %d and %s", acct, bal, status))
	}
	for _, n := range negatives {
		a.example("%s", n)
	}
	l.judge(&a, "atm", "account", names)
	return a, nil
}

// --- kv --------------------------------------------------------------------

func kvAnomalies(entries []liege.Entry, calls []oracle.Call) (Anomalies, error) {
	var a Anomalies
	ints := map[string]int64{}
	lists := map[string][]string{}
	listed := map[string]bool{}
	other := map[string]bool{} // holds a string, or what no procedure writes
	overdrawn := map[string]bool{}
	for _, e := range entries {
		t, prefix := unpackKey(e.Key)
		switch prefix {
		case kv.DataPrefix:
			k, ok := tupleStr(t, 1)
			if !ok || len(t) != 2 {
				continue
			}
			if n, err := e.Value.Int(); err == nil {
				ints[k] = n
				continue
			}
			var l []string
			if _, err := e.Value.Str(); err != nil && e.Value.Decode(&l) == nil {
				lists[k], listed[k] = l, true
				continue
			}
			other[k] = true
		case kv.CorrectionPrefix:
			var rec kv.CorrectionRecord
			if err := e.Value.Decode(&rec); err != nil {
				return a, fmt.Errorf("count anomalies: correction record %s does not decode: %w", e.Key, err)
			}
			for _, k := range rec.Overdrawn {
				overdrawn[k] = true
			}
		}
	}

	type decoded struct {
		anomalyCall
		add      kv.AddArgs
		transfer kv.TransferArgs
		app      kv.AppendArgs
	}
	var ds []decoded
	money := map[string]bool{}   // named by add or transfer
	written := map[string]bool{} // named by set or delete
	appended := map[string]bool{}
	for _, ac := range committable(calls) {
		d := decoded{anomalyCall: ac}
		var err error
		switch ac.c.Proc {
		case kv.ProcAdd:
			if err = ac.args(&d.add); err == nil {
				money[d.add.Key] = true
			}
		case kv.ProcTransfer:
			if err = ac.args(&d.transfer); err == nil {
				money[d.transfer.From] = true
				money[d.transfer.To] = true
			}
		case kv.ProcAppend:
			if err = ac.args(&d.app); err == nil {
				appended[d.app.Key] = true
			}
		case kv.ProcSet, kv.ProcDelete:
			var k kv.KeyArgs
			if err = ac.args(&k); err == nil {
				written[k.Key] = true
			}
			continue
		default:
			continue
		}
		if err != nil {
			return a, err
		}
		ds = append(ds, d)
	}
	isMoney := func(k string) bool {
		return money[k] && !written[k] && !appended[k] && !other[k] && !listed[k]
	}

	l := newLedger()
	ackedAppends := map[string]map[string]int{}
	for _, d := range ds {
		switch d.c.Proc {
		case kv.ProcAdd:
			if isMoney(d.add.Key) && d.add.Delta >= 0 {
				l.call(d.acked, map[string]int64{d.add.Key: d.add.Delta})
			}
		case kv.ProcTransfer:
			t := d.transfer
			if t.From == t.To || t.From == "" || t.To == "" || t.Amount <= 0 {
				continue // refused: nothing moved
			}
			effects := map[string]int64{}
			if isMoney(t.From) {
				effects[t.From] = -t.Amount
			}
			if isMoney(t.To) {
				effects[t.To] = t.Amount
			}
			l.call(d.acked, effects)
		case kv.ProcAppend:
			if d.acked {
				if ackedAppends[d.app.Key] == nil {
					ackedAppends[d.app.Key] = map[string]int{}
				}
				ackedAppends[d.app.Key][d.app.Value]++
			}
		}
	}

	var negatives []string
	for _, k := range slices.Sorted(maps.Keys(ints)) {
		if n := ints[k]; n < 0 && !overdrawn[k] {
			a.UnflaggedNegative++
			negatives = append(negatives, fmt.Sprintf("kv: key %q holds %d, and no correction record names it overdrawn", k, n))
		}
	}
	for _, n := range negatives {
		a.example("%s", n)
	}
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(money)) {
		if isMoney(k) {
			keys = append(keys, k)
			l.balance[k] = ints[k]
		}
	}
	l.judge(&a, "kv", "key", keys)

	for _, k := range slices.Sorted(maps.Keys(ackedAppends)) {
		if written[k] || money[k] || other[k] {
			continue
		}
		held := map[string]int{}
		for _, v := range lists[k] {
			held[v]++
		}
		for _, v := range slices.Sorted(maps.Keys(ackedAppends[k])) {
			if n, m := ackedAppends[k][v], held[v]; m < n {
				a.Vanished += n - m
				a.example("kv: %d acknowledged appends of %q to key %q, but its list (%d values) holds it %d times", n, v, k, len(lists[k]), m)
			}
		}
	}
	return a, nil
}
