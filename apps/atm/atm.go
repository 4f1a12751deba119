// Package atm is a sample application: bank accounts with a balance, a
// status and a fee schedule, served by cash machines.
//
// Procedures, with their results:
//
//	open_account {account, opening, fees: {withdrawal, overdraft}}  "opened", or "exists" (read-only)
//	deposit      {account, amount}                                  "deposited"          blind Add: deposits never conflict
//	withdraw     {account, amount}                                  Withdrawal: dispensed N, or denied (read-only)
//	transfer     {from, to, amount}                                 "transferred", or "insufficient" (read-only)
//	balance      {account}                                          Balance {balance, status}   read-only
//	statement    {account, limit}                                   Statement: the account's log, oldest first   read-only
//
// # Keys
//
//	("account", account)                               Account: status, fee schedule, overdrafts charged
//	("balance", account)                               integer, changed only by Add
//	("log", account, hlc, n, kind, counterparty)       integer: the amount the entry moved (negative out), by Add
//	("bank", "opening" | "deposits" | "dispensed" | "fees")   integers, by Add: the conservation counters
//
// Every change of a balance is an Add, and so is every log entry and every
// counter: concurrent deposits (even two at the same HLC on the two
// instances, whose log entries land on one key) commute instead of
// conflicting. Only withdraw and transfer read a balance, to authorize the
// debit; no procedure that writes reads a counter or a log entry, since the
// read would conflict with every concurrent Add to it (statement reads the
// log, but a read-only call commits nothing). The counters are for Check,
// which verifies from the state alone that money is conserved.
//
// # Corrections and the consistency rule
//
// A withdrawal's result is what the machine did; cash that came out cannot
// be put back. So when a dispensed withdrawal re-executes as denied at the
// liege (the balance was emptied meanwhile on the other instance), its
// correction debits it anyway, flags the account overdrawn and charges the
// overdraft fee of its schedule. A transfer told "transferred" is honoured
// likewise. The rule Check states: no balance is negative unless its account
// is flagged overdrawn and was charged the fee, and the sum of the balances
// is the opening balances plus the deposits minus the cash dispensed minus
// the fees. The overdrawn flag stays until the bank clears it (no procedure
// does): deposits, being blind, cannot see that the balance recovered.
package atm

import (
	"errors"
	"fmt"
	"slices"

	"github.com/liege-db/liege"
)

// Name is the application's name, as in `liege serve --app atm`.
const Name = "atm"

// Description is a one-line summary of the application.
const Description = "bank accounts and cash machines: deposit, withdraw, transfer; corrections honour dispensed cash as overdrafts"

// Procedure names.
const (
	ProcOpenAccount = "open_account"
	ProcDeposit     = "deposit"
	ProcWithdraw    = "withdraw"
	ProcTransfer    = "transfer"
	ProcBalance     = "balance"
	ProcStatement   = "statement"
)

// procedures lists the procedure names in the order Register adds them.
var procedures = []string{ProcOpenAccount, ProcDeposit, ProcWithdraw, ProcTransfer, ProcBalance, ProcStatement}

// Procedures returns the names of atm's procedures.
func Procedures() []string { return slices.Clone(procedures) }

// Results: what the customer is told (withdraw's outcomes are in
// Withdrawal.Outcome).
const (
	Opened       = "opened"
	Exists       = "exists"
	Deposited    = "deposited"
	Dispensed    = "dispensed"
	Denied       = "denied"
	Transferred  = "transferred"
	Insufficient = "insufficient"
)

// Account statuses.
const (
	StatusOpen      = "open"
	StatusOverdrawn = "overdrawn"
)

// Log entry kinds, and the sign of their amounts.
const (
	LogOpen          = "open"           // + the opening balance
	LogDeposit       = "deposit"        // +
	LogWithdrawal    = "withdrawal"     // − the cash dispensed
	LogWithdrawalFee = "withdrawal-fee" // −
	LogOverdraftFee  = "overdraft-fee"  // −
	LogTransferIn    = "transfer-in"    // +, counterparty: the account debited
	LogTransferOut   = "transfer-out"   // −, counterparty: the account credited
)

// Conservation counters, at ("bank", name).
const (
	CounterOpening   = "opening"
	CounterDeposits  = "deposits"
	CounterDispensed = "dispensed"
	CounterFees      = "fees"
)

// Key prefixes.
const (
	AccountPrefix = "account"
	BalancePrefix = "balance"
	LogPrefix     = "log"
	BankPrefix    = "bank"
)

// AccountKey returns ("account", account).
func AccountKey(account string) liege.Key { return liege.K(AccountPrefix, account) }

// BalanceKey returns ("balance", account).
func BalanceKey(account string) liege.Key { return liege.K(BalancePrefix, account) }

// LogKey returns ("log", account, hlc, n, kind, counterparty): the n-th
// entry (from 0) the transaction at hlc logged.
func LogKey(account string, hlc, n int64, kind, counterparty string) liege.Key {
	return liege.K(LogPrefix, account, hlc, n, kind, counterparty)
}

// CounterKey returns ("bank", name).
func CounterKey(name string) liege.Key { return liege.K(BankPrefix, name) }

// Fees is an account's fee schedule.
type Fees struct {
	// Withdrawal is charged with every withdrawal; a withdrawal is
	// authorized only if the balance covers the amount and this fee.
	Withdrawal int64 `json:"withdrawal" codec:"withdrawal"`
	// Overdraft is charged when a correction overdraws the account.
	Overdraft int64 `json:"overdraft" codec:"overdraft"`
}

// Account is stored at ("account", account).
type Account struct {
	Status string `json:"status" codec:"status"`
	Fees   Fees   `json:"fees" codec:"fees"`
	// Overdrafts counts the overdraft fees charged (one per overdrawing
	// correction).
	Overdrafts int64 `json:"overdrafts" codec:"overdrafts"`
}

// OpenArgs are the arguments of open_account.
type OpenArgs struct {
	Account string `json:"account" codec:"account"`
	Opening int64  `json:"opening" codec:"opening"`
	Fees    Fees   `json:"fees" codec:"fees"`
}

// AmountArgs are the arguments of deposit and withdraw.
type AmountArgs struct {
	Account string `json:"account" codec:"account"`
	Amount  int64  `json:"amount" codec:"amount"`
}

// TransferArgs are the arguments of transfer.
type TransferArgs struct {
	From   string `json:"from" codec:"from"`
	To     string `json:"to" codec:"to"`
	Amount int64  `json:"amount" codec:"amount"`
}

// AccountArgs are the arguments of balance.
type AccountArgs struct {
	Account string `json:"account" codec:"account"`
}

// StatementArgs are the arguments of statement: the account, and the most
// recent entries to return (0: all).
type StatementArgs struct {
	Account string `json:"account" codec:"account"`
	Limit   int64  `json:"limit" codec:"limit"`
}

// Withdrawal is the result of withdraw: what the machine did.
type Withdrawal struct {
	Outcome string `json:"outcome" codec:"outcome"` // "dispensed" or "denied"
	Amount  int64  `json:"amount" codec:"amount"`   // the cash dispensed; 0 if denied
}

// Balance is the result of balance.
type Balance struct {
	Balance int64  `json:"balance" codec:"balance"`
	Status  string `json:"status" codec:"status"`
}

// LogEntry is one entry of an account's log.
type LogEntry struct {
	// At is the transaction's time, as 2026-11-21T16:18:02.123Z+3.
	At           string `json:"at" codec:"at"`
	Kind         string `json:"kind" codec:"kind"`
	Counterparty string `json:"counterparty,omitempty" codec:"counterparty,omitempty"`
	// Amount is what the entry did to the balance: negative for money out.
	Amount int64 `json:"amount" codec:"amount"`
}

// Statement is the result of statement.
type Statement struct {
	Account string     `json:"account" codec:"account"`
	Entries []LogEntry `json:"entries" codec:"entries"`
}

// Correction is the result of every correction: what it did, and whether
// it overdrew the account.
type Correction struct {
	Action    string `json:"action" codec:"action"`
	Overdrawn bool   `json:"overdrawn" codec:"overdrawn"`
}

// Register registers atm's procedures, each with its correction, on db.
func Register(db liege.Registrar) error {
	return errors.Join(
		liege.Register(db, liege.Procedure[OpenArgs, string]{Name: ProcOpenAccount, Run: OpenAccount, Correct: CorrectOpenAccount}),
		liege.Register(db, liege.Procedure[AmountArgs, string]{Name: ProcDeposit, Run: Deposit, Correct: CorrectDeposit,
			CollisionProne: true, RoutePrefix: func(a AmountArgs) string { return a.Account }}),
		liege.Register(db, liege.Procedure[AmountArgs, Withdrawal]{Name: ProcWithdraw, Run: Withdraw, Correct: CorrectWithdraw,
			// A shared account both sites debit collides: auto-route
			// withdrawals and transfers, measured per account (DESIGN.md
			// section 13).
			CollisionProne: true, RoutePrefix: func(a AmountArgs) string { return a.Account }}),
		liege.Register(db, liege.Procedure[TransferArgs, string]{Name: ProcTransfer, Run: Transfer, Correct: CorrectTransfer,
			// A transfer writes both accounts: forwarded if either is hot,
			// so one into a shared account does not collide at the liege.
			CollisionProne: true, RoutePrefixes: func(a TransferArgs) []string { return []string{a.From, a.To} }}),
		liege.Register(db, liege.Procedure[AccountArgs, Balance]{Name: ProcBalance, Run: GetBalance, Correct: correctRead[AccountArgs, Balance]}),
		liege.Register(db, liege.Procedure[StatementArgs, Statement]{Name: ProcStatement, Run: GetStatement, Correct: correctRead[StatementArgs, Statement]}),
	)
}

// OpenAccount opens an account with an opening balance and a fee schedule;
// "exists", committing nothing, if the account is open already.
func OpenAccount(tx *liege.Tx, a OpenArgs) (string, error) {
	switch {
	case a.Account == "":
		return "", errors.New("open_account: account must not be empty")
	case a.Opening < 0:
		return "", fmt.Errorf("open_account: opening balance %d is negative", a.Opening)
	case a.Fees.Withdrawal < 0 || a.Fees.Overdraft < 0:
		return "", fmt.Errorf("open_account: fees %+v must not be negative", a.Fees)
	}
	if _, ok := tx.Get(AccountKey(a.Account)); ok {
		return Exists, nil
	}
	tx.Set(AccountKey(a.Account), Account{Status: StatusOpen, Fees: a.Fees})
	b := &book{tx: tx}
	b.move(a.Account, LogOpen, "", a.Opening)
	tx.Add(CounterKey(CounterOpening), a.Opening)
	return Opened, nil
}

// Deposit credits the account. It reads only the account record (that the
// account exists), never the balance: the credit is an Add, so concurrent
// deposits commute.
func Deposit(tx *liege.Tx, a AmountArgs) (string, error) {
	if a.Amount <= 0 {
		return "", fmt.Errorf("deposit: amount %d must be positive", a.Amount)
	}
	if _, err := loadAccount(tx, a.Account); err != nil {
		return "", fmt.Errorf("deposit: %w", err)
	}
	b := &book{tx: tx}
	b.move(a.Account, LogDeposit, "", a.Amount)
	tx.Add(CounterKey(CounterDeposits), a.Amount)
	return Deposited, nil
}

// Withdraw dispenses amount if the balance covers it and the withdrawal fee;
// otherwise it is denied, committing nothing.
func Withdraw(tx *liege.Tx, a AmountArgs) (Withdrawal, error) {
	if a.Amount <= 0 {
		return Withdrawal{}, fmt.Errorf("withdraw: amount %d must be positive", a.Amount)
	}
	acct, err := loadAccount(tx, a.Account)
	if err != nil {
		return Withdrawal{}, fmt.Errorf("withdraw: %w", err)
	}
	bal, err := balance(tx, a.Account)
	if err != nil {
		return Withdrawal{}, fmt.Errorf("withdraw: %w", err)
	}
	need, ok := liege.AddInt64(a.Amount, acct.Fees.Withdrawal)
	if !ok {
		return Withdrawal{}, fmt.Errorf("withdraw: amount %d plus the fee of %d: %w", a.Amount, acct.Fees.Withdrawal, liege.ErrOverflow)
	}
	if bal < need {
		return Withdrawal{Outcome: Denied}, nil
	}
	b := &book{tx: tx}
	b.dispense(a.Account, a.Amount, acct.Fees.Withdrawal)
	return Withdrawal{Outcome: Dispensed, Amount: a.Amount}, nil
}

// Transfer moves amount between two accounts if from's balance covers it;
// "insufficient", committing nothing, if not.
func Transfer(tx *liege.Tx, a TransferArgs) (string, error) {
	switch {
	case a.From == a.To:
		return "", fmt.Errorf("transfer: from and to are the same account %q", a.From)
	case a.Amount <= 0:
		return "", fmt.Errorf("transfer: amount %d must be positive", a.Amount)
	}
	if _, err := loadAccount(tx, a.From); err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	if _, err := loadAccount(tx, a.To); err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	bal, err := balance(tx, a.From)
	if err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	if bal < a.Amount {
		return Insufficient, nil
	}
	b := &book{tx: tx}
	b.transfer(a.From, a.To, a.Amount)
	return Transferred, nil
}

// GetBalance returns the account's balance and status.
func GetBalance(tx *liege.Tx, a AccountArgs) (Balance, error) {
	acct, err := loadAccount(tx, a.Account)
	if err != nil {
		return Balance{}, fmt.Errorf("balance: %w", err)
	}
	bal, err := balance(tx, a.Account)
	if err != nil {
		return Balance{}, fmt.Errorf("balance: %w", err)
	}
	return Balance{Balance: bal, Status: acct.Status}, nil
}

// GetStatement returns the account's log, oldest entry first: all of it,
// or the Limit most recent entries.
func GetStatement(tx *liege.Tx, a StatementArgs) (Statement, error) {
	if a.Limit < 0 {
		return Statement{}, fmt.Errorf("statement: limit %d is negative", a.Limit)
	}
	if _, err := loadAccount(tx, a.Account); err != nil {
		return Statement{}, fmt.Errorf("statement: %w", err)
	}
	lo := liege.K(LogPrefix, a.Account)
	kvs := tx.Scan(lo, lo.PrefixEnd(), liege.ScanOptions{Limit: int(a.Limit), Desc: a.Limit > 0})
	if a.Limit > 0 {
		slices.Reverse(kvs)
	}
	out := Statement{Account: a.Account, Entries: make([]LogEntry, 0, len(kvs))}
	for _, kv := range kvs {
		e, err := logEntry(kv.Key, kv.Value)
		if err != nil {
			return Statement{}, fmt.Errorf("statement: %w", err)
		}
		out.Entries = append(out.Entries, e.LogEntry)
	}
	return out, nil
}

// CorrectOpenAccount corrects an open_account told "opened" whose
// re-execution said "exists": the account was opened on both instances.
// The customer handed over the opening balance, so it is credited to the
// account (an opening balance, logged and counted as one); the liege's fee
// schedule stands.
func CorrectOpenAccount(tx *liege.Tx, a OpenArgs, told, reexecuted string) (any, error) {
	if told != Opened {
		return Correction{Action: fmt.Sprintf("nothing: the customer was told %q", told)}, nil
	}
	if _, ok := tx.Get(AccountKey(a.Account)); !ok || a.Opening < 0 {
		return Correction{Action: fmt.Sprintf("nothing: re-executed %q and there is no account to credit", reexecuted)}, nil
	}
	b := &book{tx: tx}
	b.move(a.Account, LogOpen, "", a.Opening)
	tx.Add(CounterKey(CounterOpening), a.Opening)
	return Correction{Action: fmt.Sprintf("the account was opened twice; credited the opening balance of %d the customer handed over", a.Opening)}, nil
}

// CorrectDeposit corrects a deposit told "deposited". A deposit reads only
// the account record, so its re-execution differs only if the account is
// missing on the liege; the money was handed over, so the account is made
// (open, no fees) and credited.
func CorrectDeposit(tx *liege.Tx, a AmountArgs, told, reexecuted string) (any, error) {
	if told != Deposited || a.Amount <= 0 || a.Account == "" {
		return Correction{Action: fmt.Sprintf("nothing: the customer was told %q of a deposit of %d", told, a.Amount)}, nil
	}
	if _, ok := tx.Get(AccountKey(a.Account)); !ok {
		tx.Set(AccountKey(a.Account), Account{Status: StatusOpen})
	}
	b := &book{tx: tx}
	b.move(a.Account, LogDeposit, "", a.Amount)
	tx.Add(CounterKey(CounterDeposits), a.Amount)
	return Correction{Action: fmt.Sprintf("credited the deposit of %d (re-executed %q)", a.Amount, reexecuted)}, nil
}

// CorrectWithdraw corrects a withdrawal. A machine that dispensed cash
// cannot take it back: when the withdrawal re-executes as denied (the
// balance was emptied meanwhile on the other instance), the correction
// debits the cash and the withdrawal fee anyway, and as that overdraws the
// account, flags it overdrawn and charges the overdraft fee. A withdrawal
// the machine denied dispensed nothing, and nothing is done.
func CorrectWithdraw(tx *liege.Tx, a AmountArgs, told, reexecuted Withdrawal) (any, error) {
	if told.Outcome != Dispensed || told.Amount <= 0 || a.Account == "" {
		return Correction{Action: fmt.Sprintf("nothing: the machine dispensed nothing (%s)", told.Outcome)}, nil
	}
	acct, bal, err := accountForCorrection(tx, a.Account)
	if err != nil {
		return nil, err
	}
	b := &book{tx: tx}
	b.dispense(a.Account, told.Amount, acct.Fees.Withdrawal)
	after := bal - told.Amount - acct.Fees.Withdrawal
	c := Correction{Action: fmt.Sprintf("debited the %d dispensed and the fee of %d (re-executed: %s)", told.Amount, acct.Fees.Withdrawal, show(reexecuted))}
	if after < 0 {
		b.overdraw(a.Account, acct)
		c.Overdrawn = true
		c.Action += fmt.Sprintf(", overdrawing the account to %d, and charged the overdraft fee of %d", after, acct.Fees.Overdraft)
	}
	return c, nil
}

// CorrectTransfer corrects a transfer told "transferred" whose
// re-execution said "insufficient": the customer was told the money moved
// (and the payee may have spent it), so it moves anyway, and if that
// overdraws from, from is flagged overdrawn and charged the overdraft fee.
func CorrectTransfer(tx *liege.Tx, a TransferArgs, told, reexecuted string) (any, error) {
	if told != Transferred || a.Amount <= 0 || a.From == "" || a.To == "" || a.From == a.To {
		return Correction{Action: fmt.Sprintf("nothing: the customer was told %q", told)}, nil
	}
	from, bal, err := accountForCorrection(tx, a.From)
	if err != nil {
		return nil, err
	}
	if _, ok := tx.Get(AccountKey(a.To)); !ok {
		tx.Set(AccountKey(a.To), Account{Status: StatusOpen})
	}
	b := &book{tx: tx}
	b.transfer(a.From, a.To, a.Amount)
	c := Correction{Action: fmt.Sprintf("moved %d from %q to %q as the customer was told (re-executed %q)", a.Amount, a.From, a.To, reexecuted)}
	if bal-a.Amount < 0 {
		b.overdraw(a.From, from)
		c.Overdrawn = true
		c.Action += fmt.Sprintf(", overdrawing %q to %d, and charged the overdraft fee of %d", a.From, bal-a.Amount, from.Fees.Overdraft)
	}
	return c, nil
}

// correctRead corrects a read-only procedure. It writes nothing, so it
// never commits, never rolls off and is never re-executed: this cannot run
// in the normal course, and a read changes nothing to undo.
func correctRead[A, R any](*liege.Tx, A, R, R) (any, error) {
	return Correction{Action: "nothing: a read changes no state"}, nil
}

// accountForCorrection reads the account a correction must debit, and its
// balance before the correction. An account missing on the liege (which
// re-execution reports as an error) is made, open with no fees: the money
// must be accounted for somewhere.
func accountForCorrection(tx *liege.Tx, account string) (Account, int64, error) {
	var acct Account
	if v, ok := tx.Get(AccountKey(account)); !ok {
		acct = Account{Status: StatusOpen}
		tx.Set(AccountKey(account), acct)
	} else if err := v.Decode(&acct); err != nil {
		return Account{}, 0, fmt.Errorf("account %q does not decode: %w", account, err)
	}
	// Read the balance before the correction writes it: a Get after our
	// own Add would still be a read, but of a value we made ourselves.
	bal, err := balance(tx, account)
	return acct, bal, err
}

// book writes the money movements of one transaction: each moves a balance
// by Add, and logs it by Add at ("log", account, hlc, n, kind,
// counterparty), n counting the transaction's entries so that a statement
// lists them in the order they were made. The key is not unique across
// instances (both may log at one HLC): two such entries land on one key
// and add up, which keeps every sum right and conflicts with nothing.
type book struct {
	tx *liege.Tx
	n  int64
}

// move changes account's balance by amount and logs it.
func (b *book) move(account, kind, counterparty string, amount int64) {
	b.tx.Add(BalanceKey(account), amount)
	b.tx.Add(LogKey(account, int64(b.tx.HLC()), b.n, kind, counterparty), amount)
	b.n++
}

// dispense debits a withdrawal and its fee, and counts them.
func (b *book) dispense(account string, amount, fee int64) {
	b.move(account, LogWithdrawal, "", -amount)
	b.tx.Add(CounterKey(CounterDispensed), amount)
	if fee > 0 {
		b.move(account, LogWithdrawalFee, "", -fee)
		b.tx.Add(CounterKey(CounterFees), fee)
	}
}

// transfer moves amount from one account to another.
func (b *book) transfer(from, to string, amount int64) {
	b.move(from, LogTransferOut, to, -amount)
	b.move(to, LogTransferIn, from, amount)
}

// overdraw flags the account overdrawn and charges its overdraft fee (an
// entry is logged even for a zero fee: it records the overdraft).
func (b *book) overdraw(account string, acct Account) {
	acct.Status = StatusOverdrawn
	acct.Overdrafts++
	b.tx.Set(AccountKey(account), acct)
	b.move(account, LogOverdraftFee, "", -acct.Fees.Overdraft)
	b.tx.Add(CounterKey(CounterFees), acct.Fees.Overdraft)
}

// loadAccount reads an account record; an unknown account is an error.
func loadAccount(tx *liege.Tx, account string) (Account, error) {
	if account == "" {
		return Account{}, errors.New("account must not be empty")
	}
	v, ok := tx.Get(AccountKey(account))
	if !ok {
		return Account{}, fmt.Errorf("no account %q", account)
	}
	var acct Account
	if err := v.Decode(&acct); err != nil {
		return Account{}, fmt.Errorf("account %q does not decode: %w", account, err)
	}
	return acct, nil
}

// balance reads an account's balance; absent is 0.
func balance(tx *liege.Tx, account string) (int64, error) {
	v, ok := tx.Get(BalanceKey(account))
	if !ok {
		return 0, nil
	}
	n, err := v.Int()
	if err != nil {
		return 0, fmt.Errorf("balance of %q: %w", account, err)
	}
	return n, nil
}

// entry is a decoded log key and value.
type entry struct {
	Account string
	HLC     int64
	LogEntry
}

// logEntry decodes a ("log", account, hlc, n, kind, counterparty) key and
// its amount.
func logEntry(key liege.Key, v liege.Value) (entry, error) {
	t, err := liege.Key(key).Unpack()
	if err == nil && len(t) == 6 && t[0] == LogPrefix {
		acct, ok1 := t[1].(string)
		h, ok2 := t[2].(int64)
		_, ok5 := t[3].(int64)
		kind, ok3 := t[4].(string)
		cp, ok4 := t[5].(string)
		if ok1 && ok2 && ok3 && ok4 && ok5 {
			n, err := v.Int()
			if err != nil {
				return entry{}, fmt.Errorf("log entry %s: %w", key, err)
			}
			return entry{Account: acct, HLC: h, LogEntry: LogEntry{At: liege.Timestamp(h).String(), Kind: kind, Counterparty: cp, Amount: n}}, nil
		}
	}
	return entry{}, fmt.Errorf("key %s is not (%q, <account>, <HLC>, <n>, <kind>, <counterparty>)", key, LogPrefix)
}

// show formats a withdrawal for a correction's action.
func show(w Withdrawal) string {
	switch w.Outcome {
	case Dispensed:
		return fmt.Sprintf("dispensed %d", w.Amount)
	case "":
		return "an error"
	}
	return w.Outcome
}
