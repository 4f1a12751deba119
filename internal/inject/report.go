// Package inject is the real-process conflict-injection runner behind
// `liege inject`: a liege and a vassal as child processes, their peer link
// through an in-process toxiproxy, clients at both sites recording every
// call, faults on a schedule drawn from the seed, then heal, wait for both
// to go idle, stop them, and check the journals with the oracle of
// DESIGN.md section 11, the application's invariant and the call log.
//
// This file holds the report: every figure of a run, written as
// report.json, rendered as report.html and as the terminal summary.
package inject

import "time"

// ReportVersion is the version of report.json's layout.
const ReportVersion = 1

// Report is everything `liege inject` found: one run, or two (the
// path-consistent run and the last-writer-wins baseline) with --merge lww.
type Report struct {
	Version int       `json:"version"`
	Started time.Time `json:"started"`
	// Command is the command line that reproduces the run.
	Command    string   `json:"command"`
	App        string   `json:"app"`
	Seed       uint64   `json:"seed"`
	DurationS  float64  `json:"duration_s"`
	Rate       int      `json:"rate"`
	Contention float64  `json:"contention"`
	Faults     []string `json:"faults"`
	// Runs are the runs, the path-consistent one first.
	Runs []Run `json:"runs"`
	// Passed is true when the path-consistent run passed every check.
	Passed bool `json:"passed"`
}

// Run is one run of the workload under the fault schedule.
type Run struct {
	// Merge is "path" (the protocol of DESIGN.md) or "lww" (the
	// last-writer-wins baseline).
	Merge string `json:"merge"`
	// Route is how collision-prone calls were routed (DESIGN.md section
	// 13): never, auto or liege.
	Route string `json:"route"`
	// Latency is each site's latency of acknowledged calls, local and
	// forwarded, from the call log (the liege first, as Sites).
	Latency [2]SiteLatency `json:"latency"`
	// Sites are the two instances, the liege first.
	Sites [2]Site `json:"sites"`
	// Totals are the run's figures.
	Totals Totals `json:"totals"`
	// Checks are the checks run on the stopped instances, in order. In the
	// lww run they are informative: the baseline is not expected to pass.
	Checks []Check `json:"checks"`
	// Passed is true when every check passed.
	Passed bool `json:"passed"`
	// Failure is the first violation, naming TxIDs, keys and positions.
	Failure string `json:"failure,omitempty"`
	// Anomalies are what the final state costs the application.
	Anomalies Anomalies `json:"anomalies"`
	// Faults are the faults injected, in start order.
	Faults []FaultEvent `json:"faults"`
	// Timeline is one sample per interval of both sites.
	Timeline []Sample `json:"timeline"`
	// LoadS is when the load stopped and HealedS when every fault was
	// healed; IdleS when both sites went idle (seconds since the start).
	LoadS   float64 `json:"load_stopped_s"`
	HealedS float64 `json:"healed_s"`
	IdleS   float64 `json:"idle_s"`
	// Dir is the run's directory (instance directories, logs, exports).
	Dir string `json:"dir"`
}

// Site is one instance of a run.
type Site struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	// HTTP is the address its clients used; Peer its peer-link address.
	HTTP string `json:"http"`
	Peer string `json:"peer,omitempty"`
	// Starts counts the processes started (1 + restarts), Kills the
	// SIGKILLs (by the runner or by a failpoint).
	Starts int `json:"starts"`
	Kills  int `json:"kills"`
	// Commits are the user transactions this site originated that are on
	// the final path.
	Commits int `json:"commits"`
	// StateHash is the final state's hash from journalctl state --json.
	StateHash string `json:"state_hash"`
}

// Totals are a run's figures. The counts of conflicts come from the
// instances' conflict logs (read after the run: a SIGKILL loses none); the
// timeline's per-interval counts from their metrics, sampled during the
// run; the rest from the journals.
type Totals struct {
	// Calls: every call made; Acked with a committed answer, Maybe without
	// an answer (lost to a kill, a reset, a timeout), Refused answered with
	// an error (nothing committed), ReadOnly answered without a txid.
	Calls    int `json:"calls"`
	Acked    int `json:"acked"`
	Maybe    int `json:"maybe"`
	Refused  int `json:"refused"`
	ReadOnly int `json:"read_only"`
	// Transactions are the records on the final path (both sites agree).
	Transactions int `json:"transactions"`
	// Conflicts by check ("use", "update").
	Conflicts map[string]int `json:"conflicts"`
	// Rollbacks of the vassal and the records they rolled off, from the
	// epoch records and the lost transaction files (rolledoff.go).
	Rollbacks int `json:"rollbacks"`
	RolledOff int `json:"rolled_off"`
	// RolledOffOwn are the own transactions among them, those the liege
	// reconciles; the rest are peer records applied after the first of
	// them, received again.
	RolledOffOwn int `json:"rolled_off_own"`
	// Reprocessed and Corrected are the liege's reconciliation records.
	Reprocessed int `json:"reprocessed"`
	Corrected   int `json:"corrected"`
	// CorrectionsPer1000 is Corrected per 1,000 acknowledged calls.
	CorrectionsPer1000 float64 `json:"corrections_per_1000_acked"`
	// MaxLag is the highest replication lag seen, in transactions (either
	// direction); MaxWindow the largest detection window.
	MaxLag    uint64 `json:"max_lag"`
	MaxWindow int    `json:"max_window"`
	// FaultsInjected counts the fault events; ClockRefused counts the
	// handshakes refused for a clock beyond the bound (expected, reported,
	// not a failure).
	FaultsInjected int `json:"faults_injected"`
	ClockRefused   int `json:"clock_refused"`
	// ChecksRun and ChecksPassed count Checks.
	ChecksRun    int `json:"checks_run"`
	ChecksPassed int `json:"checks_passed"`
	// Seconds is the run's wall time.
	Seconds float64 `json:"seconds"`
}

// SiteLatency is one site's latency of acknowledged calls: committed
// there, and forwarded to the liege (a vassal's only).
type SiteLatency struct {
	Local     Latency `json:"local"`
	Forwarded Latency `json:"forwarded"`
}

// Latency summarizes call latencies, from send to answer at the client.
type Latency struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// Check is one check of the checker.
type Check struct {
	// Name is short ("oracle 1: same path"); Detail says what passed or
	// the first violation.
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// Anomalies count what a final state costs the application: each is a
// business error a user would see. The path-consistent run must have none
// of these; the lww baseline shows what dropping the protocol costs.
type Anomalies struct {
	// DoubleSold: seats held by two tickets with no queue item naming
	// the seat (ticketing).
	DoubleSold int `json:"double_sold"`
	// UnflaggedNegative: accounts with a negative balance and no overdraft
	// flag (atm, kv balances).
	UnflaggedNegative int `json:"unflagged_negative"`
	// MoneyDrift is the money created (positive) or destroyed (negative):
	// the sum of balances minus what the acknowledged calls put in and
	// took out (atm, kv); MoneyWrong counts the accounts whose balance is
	// not what the path of acknowledged calls gives.
	MoneyDrift int64 `json:"money_drift"`
	MoneyWrong int   `json:"money_wrong"`
	// Vanished counts acknowledged transactions whose effect is not in the
	// final state (a sold ticket that no longer exists, a deposit that is
	// not in the balance, a value overwritten by an older write).
	Vanished int `json:"vanished"`
	// Diverged is true when the two sites' final states differ.
	Diverged bool `json:"diverged"`
	// Examples name a few anomalies, for the report.
	Examples []string `json:"examples,omitempty"`
}

// Total is the number of anomalies (MoneyDrift counts once if non-zero).
func (a *Anomalies) Total() int {
	n := a.DoubleSold + a.UnflaggedNegative + a.MoneyWrong + a.Vanished
	if a.MoneyDrift != 0 {
		n++
	}
	if a.Diverged {
		n++
	}
	return n
}

// FaultEvent is one injected fault.
type FaultEvent struct {
	// Kind is the fault: partition, partition-oneway, latency, bandwidth,
	// reset, slicer, kill, kill-rollback, kill-reconcile, skew,
	// skew-beyond.
	Kind string `json:"kind"`
	// Target is what it hit: "link", "A->B" for one direction, or an
	// instance id.
	Target string `json:"target"`
	// StartS and EndS are seconds since the run started (EndS == StartS
	// for an instantaneous fault such as a kill or a reset).
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Detail says how (e.g. "latency 40ms ±20ms", "SIGKILL during rollback
	// (failpoint rollback-mid-undo)", "refused: clock 2s ahead").
	Detail string `json:"detail,omitempty"`
}

// Sample is both sites at one moment of the run.
type Sample struct {
	// T is seconds since the run started.
	T float64 `json:"t"`
	// Sites are the liege and the vassal, as in Run.Sites.
	Sites [2]SiteSample `json:"sites"`
}

// SiteSample is one site at one moment. The counts are per interval (since
// the previous sample), not cumulative.
type SiteSample struct {
	// Up is false when the process was down or did not answer.
	Up bool `json:"up"`
	// CommitsPerS are own commits per second over the interval.
	CommitsPerS float64 `json:"commits_per_s"`
	// LagIn is how many of the peer's transactions this site has yet to
	// apply; LagS the replication lag in seconds.
	LagIn uint64  `json:"lag_in"`
	LagS  float64 `json:"lag_s"`
	// Window is the detection window's size.
	Window int `json:"window"`
	// Conflicts, Rollbacks and Reconciled happened in the interval.
	Conflicts  int `json:"conflicts"`
	Rollbacks  int `json:"rollbacks"`
	Reconciled int `json:"reconciled"`
	// ReconPending is the number of reconciliation logs not yet resolved.
	ReconPending int `json:"recon_pending"`
}
