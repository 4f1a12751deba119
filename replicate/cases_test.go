package replicate_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/metricstest"
	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
)

// caseRow is a row of DESIGN.md section 6's table, as a scenario: a is a
// liege transaction, b a vassal transaction that did not see each other
// (committed during a partition), in the clock order given.
type caseRow struct {
	name     string
	setup    []op // committed on the liege and replicated first
	bFirst   bool // b is clock-before a
	a, b     []op
	conflict bool
}

var caseTable = []caseRow{
	{name: "C1 use", bFirst: true,
		b: []op{{Op: "set", K: "k", V: "b"}}, a: []op{{Op: "get", K: "k"}, {Op: "set", K: "a-out", V: "x"}}, conflict: true},
	{name: "C2 mirror use",
		a: []op{{Op: "set", K: "k", V: "a"}}, b: []op{{Op: "get", K: "k"}, {Op: "set", K: "b-out", V: "x"}}, conflict: true},
	{name: "C3 update, b first", bFirst: true,
		a: []op{{Op: "set", K: "k", V: "a"}}, b: []op{{Op: "set", K: "k", V: "b"}}, conflict: true},
	{name: "C3 update, a first",
		a: []op{{Op: "del", K: "k"}}, b: []op{{Op: "set", K: "k", V: "b"}}, setup: []op{{Op: "set", K: "k", V: "0"}}, conflict: true},
	{name: "C4 add/add",
		setup: []op{{Op: "set", K: "k", V: "", N: 0}, {Op: "add", K: "n", N: 10}},
		a:     []op{{Op: "add", K: "n", N: 5}}, b: []op{{Op: "add", K: "n", N: 7}}},
	{name: "C5 phantom use", bFirst: true,
		b: []op{{Op: "set", K: "m5", V: "b"}}, a: []op{{Op: "scan", K: "m0", K2: "m9"}, {Op: "set", K: "a-out", V: "x"}}, conflict: true},
	{name: "C6 a read, b wrote later",
		setup: []op{{Op: "set", K: "k", V: "0"}},
		a:     []op{{Op: "get", K: "k"}, {Op: "set", K: "a-out", V: "x"}}, b: []op{{Op: "set", K: "k", V: "b"}}},
	{name: "C7 phantom mirror use",
		setup: []op{{Op: "set", K: "m5", V: "0"}},
		a:     []op{{Op: "del", K: "m5"}}, b: []op{{Op: "scan", K: "m0", K2: "m9"}, {Op: "set", K: "b-out", V: "x"}}, conflict: true},
	{name: "C8 add then read",
		setup: []op{{Op: "add", K: "n", N: 1}},
		a:     []op{{Op: "add", K: "n", N: 5}}, b: []op{{Op: "get", K: "n"}, {Op: "set", K: "b-out", V: "x"}}, conflict: true},
	{name: "C9 read then add", bFirst: true,
		setup: []op{{Op: "add", K: "n", N: 1}},
		b:     []op{{Op: "get", K: "n"}, {Op: "set", K: "b-out", V: "x"}}, a: []op{{Op: "add", K: "n", N: 5}}},
	// Rows found while building: a conflicting b followed by transactions
	// that only ordering rolls off, and a liege transaction rolled off the
	// vassal with them.
	{name: "rolled off by ordering", bFirst: true,
		b: []op{{Op: "set", K: "k", V: "b"}}, a: []op{{Op: "get", K: "k"}, {Op: "set", K: "a-out", V: "x"}}, conflict: true},
}

func TestCaseTable(t *testing.T) {
	for _, c := range caseTable {
		t.Run(c.name, func(t *testing.T) {
			p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
				p.a.reg, p.b.reg = prometheus.NewRegistry(), prometheus.NewRegistry()
			})
			if c.setup != nil {
				p.call(p.a, c.setup...)
			}
			p.idle()
			p.partition(true)
			var a, b *liege.Result
			if c.bFirst {
				b = p.call(p.b, c.b...)
				a = p.call(p.a, c.a...)
			} else {
				a = p.call(p.a, c.a...)
				b = p.call(p.b, c.b...)
			}
			var later *liege.Result
			if c.name == "rolled off by ordering" {
				later = p.call(p.b, op{Op: "set", K: "unrelated", V: "y"})
			}
			p.partition(false)
			p.idle()

			lost, _ := filepath.Glob(filepath.Join(p.b.dir, "lost", "*.ltf"))
			if c.conflict {
				if len(lost) == 0 {
					t.Fatalf("the vassal did not roll back")
				}
				for _, n := range []*node{p.a, p.b} {
					if st := p.status(n, b.TxID); st != liege.TxnReprocessed && st != liege.TxnCorrected {
						t.Errorf("%s reports %v as %s, want reprocessed or corrected", n.id, b.TxID, st)
					}
				}
				if later != nil {
					if st := p.status(p.a, later.TxID); st != liege.TxnReprocessed {
						t.Errorf("the liege reports %v (rolled off by ordering only) as %s, want reprocessed", later.TxID, st)
					}
				}
				// Whichever side detected it, the conflict is counted
				// under the row's case (liege_conflicts_total{case}).
				if row := strings.Fields(c.name)[0]; strings.HasPrefix(row, "C") {
					var n float64
					var all []string
					for _, nd := range []*node{p.a, p.b} {
						for k, v := range metricstest.Gather(t, nd.reg).With("liege_conflicts_total") {
							if v > 0 {
								all = append(all, fmt.Sprintf("%s: %s = %v", nd.id, k, v))
							}
							if strings.Contains(k, `case="`+row+`"`) {
								n += v
							}
						}
					}
					if n == 0 {
						t.Errorf("no conflict counted with case %s; counted: %v", row, all)
					}
				}
			} else {
				if len(lost) != 0 {
					t.Fatalf("the vassal rolled back: %v", lost)
				}
				for _, n := range []*node{p.a, p.b} {
					if st := p.status(n, b.TxID); st != liege.TxnCommitted {
						t.Errorf("%s reports %v as %s, want committed", n.id, b.TxID, st)
					}
				}
			}
			for _, n := range []*node{p.a, p.b} {
				if st := p.status(n, a.TxID); st != liege.TxnCommitted {
					t.Errorf("%s reports the liege's %v as %s, want committed", n.id, a.TxID, st)
				}
			}
			if c.name == "C4 add/add" {
				e, ok, err := p.b.db.Get(context.Background(), key("n"))
				if err != nil || !ok {
					t.Fatal(err, ok)
				}
				if n, _ := e.Value.Int(); n != 22 {
					t.Errorf("n = %d on the vassal, want 22", n)
				}
			}
			p.converged()
		})
	}
}

// TestTxnStatusAlongTheWay follows one vassal transaction through every
// state of DESIGN.md section 9 as TxnStatus (GET /v1/txn) reports it:
// committed, then rolled_back while the liege cannot reconcile it (its
// procedure is not registered there yet), then corrected once it can.
func TestTxnStatusAlongTheWay(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) { p.b.extraProcs = []string{"vops"} })
	p.partition(true)
	b := p.callAs(p.b, "vops", op{Op: "get", K: "k"}, op{Op: "set", K: "k", V: "b"})
	for _, n := range []*node{p.b} {
		if st := p.status(n, b.TxID); st != liege.TxnCommitted {
			t.Fatalf("%s: %v is %s before any conflict, want committed", n.id, b.TxID, st)
		}
	}
	p.call(p.a, op{Op: "set", K: "k", V: "a"}) // clock-after b: C3 and mirror use
	p.partition(false)

	// The vassal rolls b back; the liege cannot re-execute it yet.
	deadline := time.Now().Add(20 * time.Second)
	for p.status(p.b, b.TxID) != liege.TxnRolledBack || !strings.Contains(p.logs.String(), "could not reconcile") {
		if time.Now().After(deadline) {
			t.Fatalf("B never reported %v rolled_back with the liege failing to reconcile it: B says %s", b.TxID, p.status(p.b, b.TxID))
		}
		select {
		case <-p.b.rep.Changed():
		case <-time.After(p.hb):
		}
	}
	if st := p.status(p.a, b.TxID); st != liege.TxnUnknown {
		t.Fatalf("A: %v is %s while it cannot reconcile it, want unknown", b.TxID, st)
	}
	if r := p.b.db.ReconPending(); r != 1 {
		t.Fatalf("B has %d transactions pending reconciliation, want 1", r)
	}

	// Now the liege can: the vassal's resent log is reconciled.
	if err := registerOpsAs(p.a.db, "vops"); err != nil {
		t.Fatal(err)
	}
	p.idle()
	for _, n := range []*node{p.a, p.b} {
		if st := p.status(n, b.TxID); st != liege.TxnCorrected {
			t.Errorf("%s: %v is %s, want corrected (it read k, which the liege changed)", n.id, b.TxID, st)
		}
	}
	p.converged()
}
