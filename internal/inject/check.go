package inject

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/journalctl"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
)

// oracleSteps are the oracle's checks in the order it runs them, with what
// each proves.
var oracleSteps = []struct{ name, title string }{
	{oracle.CheckTxIDs, "both hold the same transactions, each once, by the right origin"},
	{oracle.CheckState, "both states are equal, key by key"},
	{oracle.CheckCopies, "every copy of a transaction agrees"},
	{oracle.CheckOrder, "(HLC, origin) orders the path strictly"},
	{oracle.CheckReplay, "every read matches a replay of the path"},
	{oracle.CheckFinalState, "the replay ends in the instances' state"},
	{oracle.CheckSubjects, "only reprocess and correction name a subject"},
	{oracle.CheckAcked, "every acknowledged call is in the path exactly once"},
	{oracle.CheckMaybe, "every unanswered call is in the path at most once"},
	{oracle.CheckOnce, "no call stands twice in the path"},
	{oracle.CheckInvariant, "the application's invariant holds on the final state"},
}

// export runs journalctl inspect --json and state --json on the stopped
// directory of in, into files of the run directory, and reads them back
// with the oracle.
func (r *runner) export(in *instance) (oracle.Instance, error) {
	paths := [2]string{filepath.Join(r.dir, "inspect-"+in.id+".json"), filepath.Join(r.dir, "state-"+in.id+".json")}
	for i, cmd := range []string{"inspect", "state"} {
		f, err := os.Create(paths[i])
		if err != nil {
			return oracle.Instance{}, err
		}
		var stderr bytes.Buffer
		code := journalctl.Run([]string{"journalctl", cmd, "--json", in.dir}, strings.NewReader(""), f, &stderr)
		if err := f.Close(); err != nil {
			return oracle.Instance{}, err
		}
		if code != 0 {
			return oracle.Instance{}, fmt.Errorf("journalctl %s --json %s exited %d: %s", cmd, in.dir, code, strings.TrimSpace(stderr.String()))
		}
	}
	fi, err := os.Open(paths[0])
	if err != nil {
		return oracle.Instance{}, err
	}
	defer fi.Close()
	fs, err := os.Open(paths[1])
	if err != nil {
		return oracle.Instance{}, err
	}
	defer fs.Close()
	return oracle.FromExport(in.id, fi, fs)
}

// check runs the checker on the stopped instances and fills run's checks,
// totals and anomalies. Its error is for a checker that could not run.
func (r *runner) check(run *Run, idleErr error, stopErrs []string) error {
	add := func(name string, passed bool, detail string) {
		run.Checks = append(run.Checks, Check{Name: name, Passed: passed, Detail: detail})
	}
	r.mu.Lock()
	crashes, refusals, notRefused := r.crashes, r.refusals, r.notRefused
	r.mu.Unlock()
	if len(crashes) == 0 {
		add("no instance died but by a fault", true, "")
	} else {
		add("no instance died but by a fault", false, strings.Join(crashes, "; "))
	}
	if idleErr == nil {
		add("both sites went idle after the heal", true, fmt.Sprintf("in %.1fs", run.IdleS-run.HealedS))
	} else {
		add("both sites went idle after the heal", false, idleErr.Error())
	}
	if len(stopErrs) == 0 {
		add("both stopped cleanly on SIGTERM", true, "")
	} else {
		add("both stopped cleanly on SIGTERM", false, strings.Join(stopErrs, "; "))
	}
	if slices.Contains(r.cfg.Faults, FaultSkewBeyond) {
		run.Totals.ClockRefused = len(refusals)
		switch {
		case notRefused:
			add("a clock beyond the bound is refused", false, "the link was not refused within 15s of the vassal's clock going beyond --max-clock-offset")
		case len(refusals) == 0:
			add("a clock beyond the bound is refused", false, "the load ended before the clock fault was reached")
		default:
			add("a clock beyond the bound is refused", true, refusals[0])
		}
	}

	var insts [2]oracle.Instance
	for i, in := range r.sites {
		x, err := r.export(in)
		if err != nil {
			add("export with journalctl inspect/state --json", false, err.Error())
			r.finish(run)
			return nil
		}
		insts[i] = x
	}
	add("export with journalctl inspect/state --json", true, fmt.Sprintf("%s/{inspect,state}-{A,B}.json", r.dir))

	f, err := os.Open(filepath.Join(r.dir, "calls.jsonl"))
	if err != nil {
		return err
	}
	calls, err := oracle.ParseCallLog(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("read back the call log: %w", err)
	}
	named, _ := calls.Resolve(insts[0], insts[1])
	opts := calls.Options()
	opts.Maybe = append(opts.Maybe, named...)
	app, err := apps.Lookup(r.cfg.App)
	if err != nil {
		return err
	}
	opts.Invariant = apps.Invariant(app.Check)
	orep, verr := oracle.Check(insts[0], insts[1], opts)
	passed := map[string]bool{}
	for _, c := range orep.Checks {
		passed[c] = true
	}
	failed := false
	for _, s := range oracleSteps {
		name := "oracle " + s.name + ": " + s.title
		switch {
		case passed[s.name]:
			add(name, true, "")
		case !failed && verr != nil:
			failed = true
			add(name, false, verr.Error())
		default:
			add(name, false, "not run: an earlier check failed")
		}
	}
	if verr == nil {
		if err := calls.CheckCalls(insts[0], insts[1]); err != nil {
			add("every answered call accounted for", false, err.Error())
		} else {
			add("every answered call accounted for", true,
				fmt.Sprintf("%d acknowledged, %d unanswered named by TxID or idempotency key", len(calls.Acked), len(opts.Maybe)))
		}
		for i := range insts {
			if v := app.Check(apps.Entries(insts[i].State)); len(v) > 0 {
				add("the "+app.Name+" invariant at "+insts[i].ID, false, strings.Join(v, "; "))
			} else {
				add("the "+app.Name+" invariant at "+insts[i].ID, true, "")
			}
		}
	} else {
		add("every answered call accounted for", false, "not run: an earlier check failed")
	}

	// Totals from the journals and the call log.
	t := &run.Totals
	t.Calls, t.Acked, t.ReadOnly, t.Refused = len(calls.Calls), len(calls.Acked), calls.ReadOnly, calls.Failed
	t.Maybe = t.Calls - t.Acked - t.ReadOnly - t.Refused
	defer latencies(run, calls)
	t.Transactions = orep.PathLength
	for i := range insts {
		for k := range insts[i].Records {
			rec := &insts[i].Records[k]
			switch {
			case i == 0 && rec.Kind == journal.KindReprocess:
				t.Reprocessed++
			case i == 0 && rec.Kind == journal.KindCorrection:
				t.Corrected++
			}
			if i == 0 && rec.Kind.IsTxn() {
				for s := range run.Sites {
					if rec.Origin == run.Sites[s].ID {
						run.Sites[s].Commits++
					}
				}
			}
		}
	}
	for i, in := range r.sites {
		rbs, err := rollbacksOf(in.dir, in.id, insts[i].Records)
		if err != nil {
			return err
		}
		for _, rb := range rbs {
			t.Rollbacks++
			t.RolledOff += rb.records
			t.RolledOffOwn += max(rb.own, 0)
		}
	}
	run.Sites[0].StateHash = fmt.Sprintf("%x", orep.HashA)
	run.Sites[1].StateHash = fmt.Sprintf("%x", orep.HashB)
	an, err := CountAnomalies(r.cfg.App, apps.Entries(insts[0].State), calls.Calls)
	if err != nil {
		return fmt.Errorf("count anomalies: %w", err)
	}
	an.Diverged = orep.HashA != orep.HashB
	run.Anomalies = an
	if an.Total() == 0 {
		add("no anomalies: double sales, unflagged overdrafts, money drift, vanished effects", true, "")
	} else {
		add("no anomalies: double sales, unflagged overdrafts, money drift, vanished effects", false,
			fmt.Sprintf("%d anomalies: %s", an.Total(), strings.Join(an.Examples, "; ")))
	}
	r.finish(run)
	return nil
}

// finish counts the checks and sets Passed and Failure.
func (r *runner) finish(run *Run) {
	run.Passed = true
	for _, c := range run.Checks {
		run.Totals.ChecksRun++
		if c.Passed {
			run.Totals.ChecksPassed++
		} else if run.Passed {
			run.Passed = false
			run.Failure = c.Name + ": " + c.Detail
		}
	}
	run.Totals.FaultsInjected = len(run.Faults)
}
