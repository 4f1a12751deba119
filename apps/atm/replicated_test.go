package atm_test

import (
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/internal/pairtest"
)

// Two-instance scenarios: cash machines at the liege A and the vassal B
// serving one account while the link between them is cut. Cash that came
// out cannot be put back, so when the link heals a withdrawal the liege
// would have denied is honoured as an overdraft.

// pairFees is the fee schedule of the scenarios' accounts.
var pairFees = atm.Fees{Withdrawal: 1, Overdraft: 10}

// newBank starts a pair, opens account ann with opening on the liege and
// waits until the vassal has it.
func newBank(t *testing.T, opening int64) *pairtest.Pair {
	t.Helper()
	p := pairtest.New(t, atm.Register)
	if got := decodeResult[string](t, p.Call(p.A(), atm.ProcOpenAccount, atm.OpenArgs{Account: "ann", Opening: opening, Fees: pairFees})); got != atm.Opened {
		t.Fatalf("open_account: %q", got)
	}
	p.Idle()
	return p
}

func decodeResult[R any](t *testing.T, r *liege.Result) R {
	t.Helper()
	var out R
	if err := r.Decode(&out); err != nil {
		t.Fatalf("decode the result of %v: %v", r.TxID, err)
	}
	return out
}

// pairWithdraw withdraws amount from ann on db, which must dispense it.
func pairWithdraw(t *testing.T, p *pairtest.Pair, db *liege.DB, amount int64) *liege.Result {
	t.Helper()
	r := p.Call(db, atm.ProcWithdraw, atm.AmountArgs{Account: "ann", Amount: amount})
	if w := decodeResult[atm.Withdrawal](t, r); w.Outcome != atm.Dispensed || w.Amount != amount {
		t.Fatalf("the machine at %s: %+v, want dispensed %d", db.ID(), w, amount)
	}
	return r
}

// statementKinds returns the kinds of ann's log entries, and their sum.
func statementKinds(t *testing.T, p *pairtest.Pair, db *liege.DB) (map[string]int, int64) {
	t.Helper()
	st := decodeResult[atm.Statement](t, p.Call(db, atm.ProcStatement, atm.StatementArgs{Account: "ann"}))
	kinds := map[string]int{}
	var sum int64
	for _, e := range st.Entries {
		kinds[e.Kind]++
		sum += e.Amount
	}
	return kinds, sum
}

func stateCounter(t *testing.T, p *pairtest.Pair, db *liege.DB, name string) int64 {
	t.Helper()
	for _, e := range p.State(db) {
		if string(e.Key) == string(atm.CounterKey(name)) {
			n, err := e.Value.Int()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}

func TestReplicatedOverdraft(t *testing.T) {
	p := newBank(t, 100)
	p.Partition(true)
	pairWithdraw(t, p, p.A(), 80)
	b := pairWithdraw(t, p, p.B(), 80)
	p.Partition(false)
	p.Idle()

	// The liege's withdrawal stands (100-80-1 = 19); the vassal's is
	// honoured by its correction: 19-80-1 = -62, overdrawn, and the
	// overdraft fee of 10 makes it -72.
	const want = 100 - 2*(80+1) - 10
	for _, db := range []*liege.DB{p.A(), p.B()} {
		if st := p.Status(db, b.TxID); st != liege.TxnCorrected {
			t.Errorf("%s reports the vassal's withdrawal %v as %s, want corrected", db.ID(), b.TxID, st)
		}
		bal := decodeResult[atm.Balance](t, p.Call(db, atm.ProcBalance, atm.AccountArgs{Account: "ann"}))
		if bal.Balance != want || bal.Status != atm.StatusOverdrawn {
			t.Errorf("%s: ann has %+v, want balance %d, overdrawn", db.ID(), bal, want)
		}
		kinds, sum := statementKinds(t, p, db)
		if kinds[atm.LogWithdrawal] != 2 || kinds[atm.LogWithdrawalFee] != 2 || kinds[atm.LogOverdraftFee] != 1 || sum != want {
			t.Errorf("%s: ann's statement has %v summing to %d, want 2 withdrawals, 2 withdrawal fees, 1 overdraft fee summing to %d", db.ID(), kinds, sum, want)
		}
		// Money is conserved: opening - dispensed - fees.
		if o, d, f := stateCounter(t, p, db, atm.CounterOpening), stateCounter(t, p, db, atm.CounterDispensed), stateCounter(t, p, db, atm.CounterFees); o != 100 || d != 160 || f != 12 || o-d-f != want {
			t.Errorf("%s: counters opening %d, dispensed %d, fees %d; want 100, 160, 12", db.ID(), o, d, f)
		}
	}
	if v := atm.Check(p.State(p.A())); len(v) != 0 {
		t.Fatalf("the liege's state breaks the rule: %v", v)
	}
	p.Converged(pairtest.Invariant(atm.Check))
}

// TestReplicatedWithdrawReprocessed: the same conflict with money enough
// for both: re-executed on the liege, the vassal's withdrawal dispenses
// again, so it is reprocessed, and nothing is overdrawn.
func TestReplicatedWithdrawReprocessed(t *testing.T) {
	p := newBank(t, 500)
	p.Partition(true)
	pairWithdraw(t, p, p.A(), 80)
	b := pairWithdraw(t, p, p.B(), 80)
	p.Partition(false)
	p.Idle()

	for _, db := range []*liege.DB{p.A(), p.B()} {
		if st := p.Status(db, b.TxID); st != liege.TxnReprocessed {
			t.Errorf("%s reports the vassal's withdrawal %v as %s, want reprocessed", db.ID(), b.TxID, st)
		}
		bal := decodeResult[atm.Balance](t, p.Call(db, atm.ProcBalance, atm.AccountArgs{Account: "ann"}))
		if want := int64(500 - 2*81); bal.Balance != want || bal.Status != atm.StatusOpen {
			t.Errorf("%s: ann has %+v, want balance %d, open", db.ID(), bal, want)
		}
	}
	p.Converged(pairtest.Invariant(atm.Check))
}

// TestReplicatedDeposits: deposits at both sites during a partition are
// blind Adds: they never conflict, both stand as committed, and the
// balance is their sum.
func TestReplicatedDeposits(t *testing.T) {
	p := newBank(t, 100)
	p.Partition(true)
	a := p.Call(p.A(), atm.ProcDeposit, atm.AmountArgs{Account: "ann", Amount: 30})
	b := p.Call(p.B(), atm.ProcDeposit, atm.AmountArgs{Account: "ann", Amount: 12})
	p.Partition(false)
	p.Idle()

	for _, db := range []*liege.DB{p.A(), p.B()} {
		for _, r := range []*liege.Result{a, b} {
			if st := p.Status(db, r.TxID); st != liege.TxnCommitted {
				t.Errorf("%s reports deposit %v as %s, want committed", db.ID(), r.TxID, st)
			}
		}
		if bal := decodeResult[atm.Balance](t, p.Call(db, atm.ProcBalance, atm.AccountArgs{Account: "ann"})); bal.Balance != 142 {
			t.Errorf("%s: ann has %+v, want 142", db.ID(), bal)
		}
	}
	p.Converged(pairtest.Invariant(atm.Check))
}
