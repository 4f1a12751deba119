package atm

import (
	"fmt"
	"slices"

	"github.com/liege-db/liege"
)

// maxViolations bounds what Check reports: the first ones and a count.
const maxViolations = 100

// counters lists the conservation counters.
var counters = []string{CounterOpening, CounterDeposits, CounterDispensed, CounterFees}

// Check is atm's consistency rule over a whole state:
//
//   - no balance is negative unless its account is flagged overdrawn and
//     was charged the overdraft fee (its log holds an overdraft-fee entry
//     for every overdraft the account counts, and it counts at least one);
//   - money is conserved: the sum of the balances is the opening balances
//     plus the deposits minus the cash dispensed minus the fees, as the
//     ("bank", ...) counters have them;
//
// and the bookkeeping behind it:
//
//   - every key is one of atm's and every value decodes; every balance and
//     log entry belongs to an account;
//   - each account's log adds up to its balance, and the log entries of
//     each kind add up to their counter (openings, deposits, cash
//     dispensed, fees); every transfer-out entry is matched by a
//     transfer-in entry of the same amount.
//
// It returns the violations, sorted (at most 100 and a count of the rest),
// none if the rule holds.
func Check(entries []liege.Entry) []string {
	var out []string
	report := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	accounts := map[string]Account{}
	balances := map[string]int64{}
	logSums := map[string]int64{}
	logged := map[string]bool{}
	overdraftFees := map[string]int64{}
	byKind := map[string]int64{}
	count := map[string]int64{}
	type pair struct {
		from, to string
		hlc      int64
	}
	transfers := map[pair]int64{}

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
		name := ""
		if len(t) == 2 {
			name, _ = t[1].(string)
		}
		switch prefix {
		case AccountPrefix:
			var a Account
			switch {
			case name == "":
				report("key %s is not (%q, <account>)", e.Key, AccountPrefix)
			case e.Value.Decode(&a) != nil:
				report("account %q does not decode", name)
			default:
				if a.Status != StatusOpen && a.Status != StatusOverdrawn {
					report("account %q has status %q", name, a.Status)
				}
				if a.Fees.Withdrawal < 0 || a.Fees.Overdraft < 0 || a.Overdrafts < 0 {
					report("account %q has negative fees or overdrafts: %+v", name, a)
				}
				accounts[name] = a
			}
		case BalancePrefix:
			if name == "" {
				report("key %s is not (%q, <account>)", e.Key, BalancePrefix)
				continue
			}
			n, err := e.Value.Int()
			if err != nil {
				report("balance of %q: %v", name, err)
				continue
			}
			balances[name] = n
		case LogPrefix:
			le, err := logEntry(e.Key, e.Value)
			if err != nil {
				report("%v", err)
				continue
			}
			logged[le.Account] = true
			logSums[le.Account] += le.Amount
			byKind[le.Kind] += le.Amount
			transfer := le.Kind == LogTransferIn || le.Kind == LogTransferOut
			if transfer == (le.Counterparty == "") {
				report("log entry %s: a transfer, and only a transfer, names a counterparty", e.Key)
			}
			switch le.Kind {
			case LogOpen, LogDeposit, LogTransferIn:
				if le.Amount < 0 {
					report("log entry %s: a %s of %d is negative", e.Key, le.Kind, le.Amount)
				}
			case LogWithdrawal, LogWithdrawalFee, LogOverdraftFee, LogTransferOut:
				if le.Amount > 0 {
					report("log entry %s: a %s of %d is positive", e.Key, le.Kind, le.Amount)
				}
			default:
				report("log entry %s has unknown kind %q", e.Key, le.Kind)
			}
			switch le.Kind {
			case LogOverdraftFee:
				overdraftFees[le.Account]++
			case LogTransferOut:
				transfers[pair{le.Account, le.Counterparty, le.HLC}] += le.Amount
			case LogTransferIn:
				transfers[pair{le.Counterparty, le.Account, le.HLC}] += le.Amount
			}
		case BankPrefix:
			if !slices.Contains(counters, name) {
				report("key %s is not a counter (%q, one of %q)", e.Key, BankPrefix, counters)
				continue
			}
			n, err := e.Value.Int()
			if err != nil {
				report("counter %q: %v", name, err)
				continue
			}
			count[name] = n
		default:
			report("key %s is outside atm's key space", e.Key)
		}
	}

	for name := range balances {
		if _, ok := accounts[name]; !ok {
			report("balance of %q belongs to no account", name)
		}
	}
	for name := range logged {
		if _, ok := accounts[name]; !ok {
			report("log of %q belongs to no account", name)
		}
	}
	var total int64
	for name, a := range accounts {
		bal := balances[name]
		total += bal
		if logSums[name] != bal {
			report("account %q: the log adds up to %d, but the balance is %d", name, logSums[name], bal)
		}
		if overdraftFees[name] != a.Overdrafts {
			report("account %q counts %d overdrafts but its log charges %d overdraft fees", name, a.Overdrafts, overdraftFees[name])
		}
		if bal < 0 && (a.Status != StatusOverdrawn || a.Overdrafts == 0) {
			report("balance of %q is %d, negative, but the account is %s and was charged %d overdraft fees", name, bal, a.Status, a.Overdrafts)
		}
	}
	for p, sum := range transfers {
		if sum != 0 {
			report("transfer from %q to %q at HLC %d: its transfer-out and transfer-in entries do not match (net %d)", p.from, p.to, p.hlc, sum)
		}
	}
	kinds := []struct {
		counter string
		logged  int64
	}{
		{CounterOpening, byKind[LogOpen]},
		{CounterDeposits, byKind[LogDeposit]},
		{CounterDispensed, -byKind[LogWithdrawal]},
		{CounterFees, -byKind[LogWithdrawalFee] - byKind[LogOverdraftFee]},
	}
	for _, k := range kinds {
		if count[k.counter] != k.logged {
			report("counter %q is %d, but the logs add up to %d", k.counter, count[k.counter], k.logged)
		}
	}
	if want := count[CounterOpening] + count[CounterDeposits] - count[CounterDispensed] - count[CounterFees]; total != want {
		report("money is not conserved: the balances add up to %d, but opening %d + deposits %d - dispensed %d - fees %d = %d",
			total, count[CounterOpening], count[CounterDeposits], count[CounterDispensed], count[CounterFees], want)
	}

	slices.Sort(out)
	if len(out) > maxViolations {
		extra := len(out) - maxViolations
		out = append(out[:maxViolations], fmt.Sprintf("... and %d more violations", extra))
	}
	return out
}
