package atm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/internal/apptest"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// openID opens a fresh instance called id with atm registered.
func openID(t *testing.T, id string) *liege.DB { return apptest.Open(t, id, atm.Register) }

func open(t *testing.T) *liege.DB { return openID(t, "A") }

// The shared helpers (internal/apptest), under the names these tests use.
var (
	call    = apptest.Call
	word    = apptest.Word
	state   = apptest.State
	lastPos = apptest.LastPos
	wantErr = apptest.WantErr
)

func checkHolds(t *testing.T, db *liege.DB) {
	t.Helper()
	apptest.CheckHolds(t, db, atm.Check)
}

var fees = atm.Fees{Withdrawal: 2, Overdraft: 25}

func openAccount(t *testing.T, db *liege.DB, account string, opening int64) {
	t.Helper()
	if r, res := word(t, db, atm.ProcOpenAccount, atm.OpenArgs{Account: account, Opening: opening, Fees: fees}); r != atm.Opened || res.ReadOnly() {
		t.Fatalf("open_account %q: %q, read-only %v", account, r, res.ReadOnly())
	}
}

func deposit(t *testing.T, db *liege.DB, account string, amount int64) *liege.Result {
	t.Helper()
	r, res := word(t, db, atm.ProcDeposit, atm.AmountArgs{Account: account, Amount: amount})
	if r != atm.Deposited {
		t.Fatalf("deposit: %q", r)
	}
	return res
}

func withdraw(t *testing.T, db *liege.DB, account string, amount int64) (atm.Withdrawal, *liege.Result) {
	t.Helper()
	var w atm.Withdrawal
	res := call(t, db, atm.ProcWithdraw, atm.AmountArgs{Account: account, Amount: amount}, &w)
	return w, res
}

func balance(t *testing.T, db *liege.DB, account string) atm.Balance {
	t.Helper()
	var b atm.Balance
	if res := call(t, db, atm.ProcBalance, atm.AccountArgs{Account: account}, &b); !res.ReadOnly() {
		t.Fatal("balance committed")
	}
	return b
}

func statement(t *testing.T, db *liege.DB, account string, limit int64) []atm.LogEntry {
	t.Helper()
	var s atm.Statement
	if res := call(t, db, atm.ProcStatement, atm.StatementArgs{Account: account, Limit: limit}, &s); !res.ReadOnly() {
		t.Fatal("statement committed")
	}
	if s.Account != account {
		t.Fatalf("statement of %q", s.Account)
	}
	return s.Entries
}

// kinds summarises a statement as kind:amount[:counterparty] strings.
func kinds(es []atm.LogEntry) []string {
	var out []string
	for _, e := range es {
		s := fmt.Sprintf("%s:%d", e.Kind, e.Amount)
		if e.Counterparty != "" {
			s += ":" + e.Counterparty
		}
		if e.At == "" {
			s += ":no-time"
		}
		out = append(out, s)
	}
	return out
}

func counter(t *testing.T, db *liege.DB, name string) int64 {
	t.Helper()
	e, ok, err := db.Get(context.Background(), atm.CounterKey(name))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	n, err := e.Value.Int()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func account(t *testing.T, db *liege.DB, name string) atm.Account {
	t.Helper()
	e, ok, err := db.Get(context.Background(), atm.AccountKey(name))
	if err != nil || !ok {
		t.Fatalf("account %q: found %v, %v", name, ok, err)
	}
	var a atm.Account
	if err := e.Value.Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRegisterRegistersEveryProcedure(t *testing.T) {
	apptest.RegistersEveryProcedure(t, "atm", atm.Register, atm.Procedures())
}

func TestOpenDepositWithdraw(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 100)
	if b := balance(t, db, "alice"); b != (atm.Balance{Balance: 100, Status: atm.StatusOpen}) {
		t.Fatalf("balance %+v", b)
	}
	before := lastPos(t, db)
	if r, res := word(t, db, atm.ProcOpenAccount, atm.OpenArgs{Account: "alice", Opening: 5}); r != atm.Exists || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("opening an open account: %q", r)
	}
	if res := deposit(t, db, "alice", 50); res.ReadOnly() {
		t.Fatal("deposit committed nothing")
	}
	if w, res := withdraw(t, db, "alice", 100); w != (atm.Withdrawal{Outcome: atm.Dispensed, Amount: 100}) || res.ReadOnly() {
		t.Fatalf("withdraw: %+v", w)
	}
	if b := balance(t, db, "alice"); b.Balance != 48 {
		t.Fatalf("balance after withdrawing 100 with a fee of 2: %+v", b)
	}
	// 47 and its fee of 2 are more than 48: denied, committing nothing.
	before = lastPos(t, db)
	if w, res := withdraw(t, db, "alice", 47); w != (atm.Withdrawal{Outcome: atm.Denied}) || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("overdrawing withdrawal: %+v, read-only %v", w, res.ReadOnly())
	}
	if w, _ := withdraw(t, db, "alice", 46); w.Outcome != atm.Dispensed {
		t.Fatalf("withdrawing the whole balance: %+v", w)
	}
	if b := balance(t, db, "alice"); b.Balance != 0 {
		t.Fatalf("balance %+v", b)
	}
	want := []string{"open:100", "deposit:50", "withdrawal:-100", "withdrawal-fee:-2", "withdrawal:-46", "withdrawal-fee:-2"}
	if got := kinds(statement(t, db, "alice", 0)); !slices.Equal(got, want) {
		t.Fatalf("statement %v, want %v", got, want)
	}
	if got := kinds(statement(t, db, "alice", 3)); !slices.Equal(got, want[3:]) {
		t.Fatalf("statement of the last 3: %v, want %v", got, want[3:])
	}
	if c := [4]int64{counter(t, db, atm.CounterOpening), counter(t, db, atm.CounterDeposits), counter(t, db, atm.CounterDispensed), counter(t, db, atm.CounterFees)}; c != [4]int64{100, 50, 146, 4} {
		t.Fatalf("counters %v", c)
	}
	wantErr(t, db, atm.ProcOpenAccount, atm.OpenArgs{Opening: 1}, "must not be empty")
	wantErr(t, db, atm.ProcOpenAccount, atm.OpenArgs{Account: "bob", Opening: -1}, "negative")
	wantErr(t, db, atm.ProcOpenAccount, atm.OpenArgs{Account: "bob", Fees: atm.Fees{Overdraft: -1}}, "must not be negative")
	wantErr(t, db, atm.ProcDeposit, atm.AmountArgs{Account: "alice", Amount: 0}, "must be positive")
	wantErr(t, db, atm.ProcDeposit, atm.AmountArgs{Account: "bob", Amount: 1}, `no account "bob"`)
	wantErr(t, db, atm.ProcWithdraw, atm.AmountArgs{Account: "alice", Amount: -1}, "must be positive")
	wantErr(t, db, atm.ProcWithdraw, atm.AmountArgs{Account: "bob", Amount: 1}, `no account "bob"`)
	wantErr(t, db, atm.ProcBalance, atm.AccountArgs{Account: "bob"}, `no account "bob"`)
	wantErr(t, db, atm.ProcStatement, atm.StatementArgs{Account: "bob"}, `no account "bob"`)
	wantErr(t, db, atm.ProcStatement, atm.StatementArgs{Account: "alice", Limit: -1}, "negative")
	checkHolds(t, db)
}

func TestTransfer(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 30)
	openAccount(t, db, "bob", 0)
	if r, res := word(t, db, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "bob", Amount: 20}); r != atm.Transferred || res.ReadOnly() {
		t.Fatalf("transfer: %q", r)
	}
	before := lastPos(t, db)
	if r, res := word(t, db, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "bob", Amount: 11}); r != atm.Insufficient || !res.ReadOnly() || lastPos(t, db) != before {
		t.Fatalf("overdrawing transfer: %q", r)
	}
	if a, b := balance(t, db, "alice").Balance, balance(t, db, "bob").Balance; a != 10 || b != 20 {
		t.Fatalf("alice %d bob %d", a, b)
	}
	if got := kinds(statement(t, db, "bob", 0)); !slices.Equal(got, []string{"open:0", "transfer-in:20:alice"}) {
		t.Fatalf("bob's statement %v", got)
	}
	if got := kinds(statement(t, db, "alice", 1)); !slices.Equal(got, []string{"transfer-out:-20:bob"}) {
		t.Fatalf("alice's statement %v", got)
	}
	wantErr(t, db, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "alice", Amount: 1}, "same account")
	wantErr(t, db, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "bob", Amount: 0}, "must be positive")
	wantErr(t, db, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "cy", Amount: 1}, `no account "cy"`)
	wantErr(t, db, atm.ProcTransfer, atm.TransferArgs{From: "cy", To: "bob", Amount: 1}, `no account "cy"`)
	checkHolds(t, db)
}

// txn returns the conflict-predicate view of a committed transaction.
func txn(t *testing.T, db *liege.DB, id journal.TxID) *detect.Txn {
	t.Helper()
	st, err := db.TxnStatus(context.Background(), id)
	if err != nil || st.Record == nil {
		t.Fatalf("status of %s: %+v %v", id, st, err)
	}
	return detect.FromRecord(st.Record)
}

// conflicts evaluates the predicate both ways, with a clock-before b.
func conflicts(a, b *detect.Txn) bool {
	b.HLC = a.HLC + 1
	_, _, ab := detect.Conflict(a, b)
	_, _, ba := detect.Conflict(b, a)
	if ab != ba {
		panic("the two instances disagree")
	}
	return ab
}

// Deposits are blind Adds: they read the account record but not the
// balance, so concurrent deposits on the two instances never conflict, in
// either clock order. A withdrawal reads the balance, so a deposit
// clock-before it on the other instance does conflict (it should have seen
// the money); withdrawals from different accounts do not, though both add
// to the same counters.
func TestConflicts(t *testing.T) {
	a, b := openID(t, "A"), openID(t, "B")
	for _, db := range []*liege.DB{a, b} {
		openAccount(t, db, "alice", 100)
		openAccount(t, db, "bob", 100)
	}
	da := deposit(t, a, "alice", 10)
	db := deposit(t, b, "alice", 20)
	r := txn(t, a, da.TxID)
	for _, rd := range r.Reads {
		if bytes.Equal(rd, atm.BalanceKey("alice")) {
			t.Fatal("a deposit read the balance")
		}
	}
	if !slices.ContainsFunc(r.Writes, func(w detect.Write) bool { return bytes.Equal(w.Key, atm.BalanceKey("alice")) && w.Add }) {
		t.Fatalf("a deposit did not Add to the balance: %+v", r.Writes)
	}
	if conflicts(txn(t, a, da.TxID), txn(t, b, db.TxID)) || conflicts(txn(t, b, db.TxID), txn(t, a, da.TxID)) {
		t.Fatal("concurrent deposits conflict")
	}
	_, wb := withdraw(t, b, "alice", 30)
	if !conflicts(txn(t, a, da.TxID), txn(t, b, wb.TxID)) {
		t.Fatal("a deposit clock-before a withdrawal it did not see does not conflict with it")
	}
	_, wa := withdraw(t, a, "bob", 30)
	if conflicts(txn(t, a, wa.TxID), txn(t, b, wb.TxID)) || conflicts(txn(t, b, wb.TxID), txn(t, a, wa.TxID)) {
		t.Fatal("withdrawals from different accounts conflict")
	}
	_, wa2 := withdraw(t, a, "alice", 30)
	if !conflicts(txn(t, a, wa2.TxID), txn(t, b, wb.TxID)) {
		t.Fatal("concurrent withdrawals from one account do not conflict")
	}
}

func TestConcurrentTrafficConservesMoney(t *testing.T) {
	db := open(t)
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		openAccount(t, db, n, 50)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct, other := names[i%4], names[(i+1)%4]
			var err error
			switch i % 3 {
			case 0:
				_, err = db.Call(context.Background(), atm.ProcDeposit, atm.AmountArgs{Account: acct, Amount: int64(i)})
			case 1:
				_, err = db.Call(context.Background(), atm.ProcWithdraw, atm.AmountArgs{Account: acct, Amount: int64(i)})
			case 2:
				_, err = db.Call(context.Background(), atm.ProcTransfer, atm.TransferArgs{From: acct, To: other, Amount: int64(i)})
			}
			if err != nil && !strings.Contains(err.Error(), "must be positive") {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	checkHolds(t, db)
	for _, n := range names {
		if b := balance(t, db, n); b.Balance < 0 {
			t.Fatalf("%s: %+v", n, b)
		}
	}
}

var (
	record      = apptest.Record
	reconcile   = apptest.Reconcile
	correction  = apptest.Correction[atm.Correction]
	mustMarshal = apptest.MustMarshal
)

// The machine dispensed 50, but on the liege the balance was emptied
// meanwhile: the correction debits the cash and the fee anyway, flags the
// account overdrawn and charges the overdraft fee.
func TestReconcileWithdrawBalanceEmptiedMeanwhile(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 100)
	withdraw(t, db, "alice", 80) // the liege's withdrawal: 18 left
	told := atm.Withdrawal{Outcome: atm.Dispensed, Amount: 50}
	out := reconcile(t, db, record(t, 1, atm.ProcWithdraw, atm.AmountArgs{Account: "alice", Amount: 50}, told), enginetest.Corrected)
	var reexec atm.Withdrawal
	if err := journal.Unmarshal(out.Reexecuted, &reexec); err != nil || reexec != (atm.Withdrawal{Outcome: atm.Denied}) {
		t.Fatalf("re-executed %+v %v", reexec, err)
	}
	if c := correction(t, out); !c.Overdrawn || !strings.Contains(c.Action, "overdraft fee of 25") {
		t.Fatalf("correction %+v", c)
	}
	if b := balance(t, db, "alice"); b != (atm.Balance{Balance: 18 - 50 - 2 - 25, Status: atm.StatusOverdrawn}) {
		t.Fatalf("balance %+v", b)
	}
	if a := account(t, db, "alice"); a.Overdrafts != 1 || a.Fees != fees {
		t.Fatalf("account %+v", a)
	}
	if got := kinds(statement(t, db, "alice", 3)); !slices.Equal(got, []string{"withdrawal:-50", "withdrawal-fee:-2", "overdraft-fee:-25"}) {
		t.Fatalf("statement %v", got)
	}
	if d, f := counter(t, db, atm.CounterDispensed), counter(t, db, atm.CounterFees); d != 130 || f != 29 {
		t.Fatalf("dispensed %d fees %d", d, f)
	}
	checkHolds(t, db)

	// The overdrawn account is denied cash until it is refilled.
	if w, _ := withdraw(t, db, "alice", 1); w.Outcome != atm.Denied {
		t.Fatalf("withdrawal from an overdrawn account: %+v", w)
	}
	deposit(t, db, "alice", 100)
	if w, _ := withdraw(t, db, "alice", 1); w.Outcome != atm.Dispensed {
		t.Fatalf("withdrawal after a refill: %+v", w)
	}
	checkHolds(t, db)

	// The negative balance is acceptable only flagged and charged.
	st := state(t, db)
	unflagged := atm.Account{Status: atm.StatusOpen, Fees: fees, Overdrafts: 1}
	uncharged := atm.Account{Status: atm.StatusOverdrawn, Fees: fees}
	negative := mustMarshal(t, int64(-10))
	for name, change := range map[string]struct {
		acct atm.Account
		want string
	}{
		"unflagged": {unflagged, "negative, but the account is open"},
		"uncharged": {uncharged, "counts 0 overdrafts but its log charges 1"},
	} {
		es := replace(slices.Clone(st), atm.AccountKey("alice"), mustMarshal(t, change.acct))
		es = replace(es, atm.BalanceKey("alice"), negative)
		if v := atm.Check(es); !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, change.want) }) {
			t.Errorf("%s: violations %q lack %q", name, v, change.want)
		}
	}
}

func replace(es []liege.Entry, k liege.Key, v liege.Value) []liege.Entry {
	es = slices.DeleteFunc(es, func(e liege.Entry) bool { return bytes.Equal(e.Key, k) })
	return append(es, liege.Entry{Key: k, Value: v})
}

func TestReconcileWithdrawReprocessed(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 100)
	withdraw(t, db, "alice", 20)
	reconcile(t, db, record(t, 1, atm.ProcWithdraw, atm.AmountArgs{Account: "alice", Amount: 50}, atm.Withdrawal{Outcome: atm.Dispensed, Amount: 50}), enginetest.Reprocessed)
	if b := balance(t, db, "alice"); b != (atm.Balance{Balance: 100 - 22 - 52, Status: atm.StatusOpen}) {
		t.Fatalf("balance %+v", b)
	}
	// A withdrawal the machine denied dispensed nothing: even if the
	// liege would have paid, nothing is debited.
	out := reconcile(t, db, record(t, 2, atm.ProcWithdraw, atm.AmountArgs{Account: "alice", Amount: 5}, atm.Withdrawal{Outcome: atm.Denied}), enginetest.Corrected)
	if c := correction(t, out); c.Overdrawn || !strings.Contains(c.Action, "nothing") {
		t.Fatalf("correction %+v", c)
	}
	if b := balance(t, db, "alice"); b.Balance != 26 {
		t.Fatalf("balance %+v", b)
	}
	checkHolds(t, db)
}

// A withdrawal re-executed where the account is unknown (an error): the
// cash is still accounted for, on an account made for it.
func TestReconcileWithdrawUnknownAccount(t *testing.T) {
	db := open(t)
	out := reconcile(t, db, record(t, 1, atm.ProcWithdraw, atm.AmountArgs{Account: "zed", Amount: 5}, atm.Withdrawal{Outcome: atm.Dispensed, Amount: 5}), enginetest.Corrected)
	if out.ReexecError == nil || !correction(t, out).Overdrawn {
		t.Fatalf("outcome %+v", out)
	}
	if b := balance(t, db, "zed"); b != (atm.Balance{Balance: -5, Status: atm.StatusOverdrawn}) {
		t.Fatalf("balance %+v", b)
	}
	checkHolds(t, db)
}

func TestReconcileTransferInsufficient(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 10)
	openAccount(t, db, "bob", 0)
	out := reconcile(t, db, record(t, 1, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "bob", Amount: 15}, atm.Transferred), enginetest.Corrected)
	if c := correction(t, out); !c.Overdrawn {
		t.Fatalf("correction %+v", c)
	}
	if a, b := balance(t, db, "alice"), balance(t, db, "bob"); a != (atm.Balance{Balance: 10 - 15 - 25, Status: atm.StatusOverdrawn}) || b != (atm.Balance{Balance: 15, Status: atm.StatusOpen}) {
		t.Fatalf("alice %+v bob %+v", a, b)
	}
	// Told insufficient: no money moved, none moves.
	reconcile(t, db, record(t, 2, atm.ProcTransfer, atm.TransferArgs{From: "bob", To: "alice", Amount: 5}, atm.Insufficient), enginetest.Corrected)
	if b := balance(t, db, "bob"); b.Balance != 15 {
		t.Fatalf("bob %+v", b)
	}
	checkHolds(t, db)
}

func TestReconcileOpenAndDeposit(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 100)
	// Opened on both instances: the opening balance handed over on the
	// vassal is credited too.
	reconcile(t, db, record(t, 1, atm.ProcOpenAccount, atm.OpenArgs{Account: "alice", Opening: 30}, atm.Opened), enginetest.Corrected)
	if b := balance(t, db, "alice"); b.Balance != 130 || counter(t, db, atm.CounterOpening) != 130 {
		t.Fatalf("balance %+v", b)
	}
	// A deposit reprocesses.
	reconcile(t, db, record(t, 2, atm.ProcDeposit, atm.AmountArgs{Account: "alice", Amount: 7}, atm.Deposited), enginetest.Reprocessed)
	// A deposit to an account the liege lacks: the money is credited to an
	// account made for it.
	out := reconcile(t, db, record(t, 3, atm.ProcDeposit, atm.AmountArgs{Account: "zed", Amount: 9}, atm.Deposited), enginetest.Corrected)
	if out.ReexecError == nil {
		t.Fatal("re-executing a deposit to an unknown account did not fail")
	}
	if a, z := balance(t, db, "alice"), balance(t, db, "zed"); a.Balance != 137 || z != (atm.Balance{Balance: 9, Status: atm.StatusOpen}) {
		t.Fatalf("alice %+v zed %+v", a, z)
	}
	checkHolds(t, db)
}

// The whole path: the vassal dispenses cash the liege's balance no longer
// covers, rolls back, and the liege reconciles its log.
func TestVassalRollbackAndReconcile(t *testing.T) {
	ctx := context.Background()
	lg, vassal := openID(t, "A"), openID(t, "B")
	openAccount(t, lg, "alice", 100)
	openAccount(t, vassal, "alice", 100)
	withdraw(t, lg, "alice", 80)
	_, w := withdraw(t, vassal, "alice", 60)
	deposit(t, vassal, "alice", 5)
	res, err := vassal.RollbackTo(ctx, w.Pos, "conflict with A")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := range lf.Records {
		r := &lf.Records[i]
		if !r.Kind.IsTxn() || r.Origin != "B" {
			continue
		}
		out, err := enginetest.Reconcile(ctx, lg, r)
		if err != nil {
			t.Fatal(err)
		}
		actions = append(actions, out.Action)
	}
	if !slices.Equal(actions, []string{enginetest.Corrected, enginetest.Reprocessed}) {
		t.Fatalf("actions %v", actions)
	}
	if b := balance(t, lg, "alice"); b != (atm.Balance{Balance: 100 - 82 - 62 - 25 + 5, Status: atm.StatusOverdrawn}) {
		t.Fatalf("balance %+v", b)
	}
	checkHolds(t, lg)
	checkHolds(t, vassal)
}

func TestCheckFindsViolations(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 100)
	openAccount(t, db, "bob", 10)
	deposit(t, db, "alice", 20)
	withdraw(t, db, "alice", 30)
	word(t, db, atm.ProcTransfer, atm.TransferArgs{From: "alice", To: "bob", Amount: 5})
	good := state(t, db)
	if v := atm.Check(good); len(v) > 0 {
		t.Fatal(v)
	}
	var out liege.Key
	for _, e := range good {
		if bytes.HasPrefix(e.Key, liege.K(atm.LogPrefix, "alice")) && strings.Contains(e.Key.String(), atm.LogTransferOut) {
			out = e.Key
		}
	}
	if out == nil {
		t.Fatal("no transfer-out entry")
	}
	i := func(n int64) liege.Value { return mustMarshal(t, n) }
	cases := []struct {
		name string
		k    liege.Key
		v    liege.Value // nil: delete the key
		want string
	}{
		{"balance changed", atm.BalanceKey("bob"), i(16), "money is not conserved: the balances add up to 99, but opening 110 + deposits 20 - dispensed 30 - fees 2 = 98"},
		{"balance changed, log", atm.BalanceKey("bob"), i(16), `account "bob": the log adds up to 15, but the balance is 16`},
		{"negative, unflagged", atm.BalanceKey("bob"), i(-1), `balance of "bob" is -1, negative, but the account is open`},
		{"counter changed", atm.CounterKey(atm.CounterFees), i(3), `counter "fees" is 3, but the logs add up to 2`},
		{"unknown counter", atm.CounterKey("vault"), i(3), "is not a counter"},
		{"balance of nobody", atm.BalanceKey("zed"), i(0), `balance of "zed" belongs to no account`},
		{"log of nobody", atm.LogKey("zed", 1, 0, atm.LogDeposit, ""), i(0), `log of "zed" belongs to no account`},
		{"unknown kind", atm.LogKey("bob", 1, 0, "gift", ""), i(0), `unknown kind "gift"`},
		{"positive withdrawal", atm.LogKey("bob", 1, 0, atm.LogWithdrawal, ""), i(1), "is positive"},
		{"transfer without counterparty", atm.LogKey("bob", 1, 0, atm.LogTransferIn, ""), i(0), "only a transfer, names a counterparty"},
		{"unmatched transfer", out, i(-4), `transfer from "alice" to "bob"`},
		{"bad status", atm.AccountKey("bob"), mustMarshal(t, atm.Account{Status: "frozen"}), `status "frozen"`},
		{"undecodable account", atm.AccountKey("bob"), mustMarshal(t, "bob"), `account "bob" does not decode`},
		{"not an integer", atm.BalanceKey("bob"), mustMarshal(t, "15"), "not an integer"},
		{"foreign key", liege.K("kv", "x"), i(1), "outside atm's key space"},
		{"malformed log key", liege.K(atm.LogPrefix, "bob"), i(1), "is not"},
		{"account deleted", atm.AccountKey("bob"), nil, `belongs to no account`},
	}
	for _, c := range cases {
		es := slices.DeleteFunc(slices.Clone(good), func(e liege.Entry) bool { return bytes.Equal(e.Key, c.k) })
		if c.v != nil {
			es = append(es, liege.Entry{Key: c.k, Value: c.v})
		}
		v := atm.Check(es)
		if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, c.want) }) {
			t.Errorf("%s: violations %q lack %q", c.name, v, c.want)
		}
	}
	var many []liege.Entry
	for i := range 150 {
		many = append(many, liege.Entry{Key: liege.K("x", i), Value: mustMarshal(t, 1)})
	}
	if v := atm.Check(many); len(v) != 101 || !strings.Contains(v[100], "and 50 more") {
		t.Errorf("150 violations reported as %d lines, last %q", len(v), v[len(v)-1])
	}
}

// JSON (over HTTP) and msgpack (in the journal) name the arguments alike.
func TestArgsJSONAndMsgpackAgree(t *testing.T) {
	db := open(t)
	cases := []struct{ proc, args string }{
		{atm.ProcOpenAccount, `{"account":"alice","opening":10,"fees":{"withdrawal":1,"overdraft":5}}`},
		{atm.ProcOpenAccount, `{"account":"bob","opening":0,"fees":{"withdrawal":0,"overdraft":0}}`},
		{atm.ProcDeposit, `{"account":"alice","amount":5}`},
		{atm.ProcWithdraw, `{"account":"alice","amount":3}`},
		{atm.ProcTransfer, `{"from":"alice","to":"bob","amount":2}`},
		{atm.ProcBalance, `{"account":"alice"}`},
		{atm.ProcStatement, `{"account":"alice","limit":0}`},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.proc] = true
		args, err := db.NewArgs(c.proc)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(c.args))
		dec.DisallowUnknownFields()
		if err := dec.Decode(args); err != nil {
			t.Fatalf("%s: %v", c.proc, err)
		}
		if _, err := db.Call(context.Background(), c.proc, args); err != nil {
			t.Fatalf("%s: %v", c.proc, err)
		}
	}
	for _, p := range atm.Procedures() {
		if !seen[p] {
			t.Errorf("no JSON case for %s", p)
		}
	}
	if a, b := balance(t, db, "alice"), balance(t, db, "bob"); a.Balance != 10+5-3-1-2 || b.Balance != 2 {
		t.Fatalf("alice %+v bob %+v", a, b)
	}
	if a := account(t, db, "alice"); !reflect.DeepEqual(a.Fees, atm.Fees{Withdrawal: 1, Overdraft: 5}) {
		t.Fatalf("alice %+v", a)
	}
	checkHolds(t, db)
}

func TestAppsRegistry(t *testing.T) {
	a, err := apps.Lookup(atm.Name)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != atm.Name || a.Description == "" || a.Register == nil || a.Check == nil {
		t.Fatalf("apps.Lookup(atm) = %+v", a)
	}
	names := apps.Names()
	if !slices.Contains(names, atm.Name) || !slices.Contains(names, "ticketing") || !slices.Contains(names, "kv") || !slices.IsSorted(names) {
		t.Fatalf("apps.Names() = %v", names)
	}
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := a.Register(db); err != nil {
		t.Fatal(err)
	}
	openAccount(t, db, "alice", 1)
	if v := a.Check(state(t, db)); len(v) > 0 {
		t.Fatal(v)
	}
}
