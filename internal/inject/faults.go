package inject

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// The faults --faults takes. Message-level faults (drop, duplicate,
// reorder) are not here: toxiproxy works on bytes, so they belong to
// --sim, over the in-memory link.
const (
	FaultPartition     = "partition"      // both directions blocked for a while
	FaultOneway        = "oneway"         // one direction blocked for a while
	FaultLatency       = "latency"        // latency with jitter
	FaultBandwidth     = "bandwidth"      // a bandwidth limit
	FaultReset         = "reset"          // connections reset
	FaultSlicer        = "slicer"         // the stream sliced into tiny writes
	FaultKill          = "kill"           // SIGKILL of either instance, then restart
	FaultKillRollback  = "kill-rollback"  // SIGKILL of the vassal inside a rollback
	FaultKillReconcile = "kill-reconcile" // SIGKILL of the liege inside a reconciliation
	FaultSkew          = "skew"           // the vassal's clock skewed within the bound
	FaultSkewBeyond    = "skew-beyond"    // once, the vassal's clock beyond the bound: refused
)

// AllFaults lists every fault, in the order the report shows them.
var AllFaults = []string{FaultPartition, FaultOneway, FaultLatency, FaultBandwidth, FaultReset, FaultSlicer,
	FaultKill, FaultKillRollback, FaultKillReconcile, FaultSkew, FaultSkewBeyond}

// ParseFaults reads --faults: a comma-separated list of faults, "all" or
// "none".
func ParseFaults(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "all":
		return slices.Clone(AllFaults), nil
	case "none", "":
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case f == "drop" || f == "duplicate" || f == "reorder" || f == "frames":
			return nil, fmt.Errorf("--faults %s: message-level faults need the in-memory link; run liege inject --sim, which injects drop, duplicate and reorder in every seed", f)
		case !slices.Contains(AllFaults, f):
			return nil, fmt.Errorf("--faults: unknown fault %q; the faults are %s, or all, or none", f, strings.Join(AllFaults, ", "))
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return slices.Index(AllFaults, out[i]) < slices.Index(AllFaults, out[j]) })
	return out, nil
}

// action is one step of the fault schedule, at an offset from the start of
// the load.
type action struct {
	at   time.Duration
	kind string
	// on: true installs the fault, false heals it (the same id).
	on bool
	id string
	// For link faults: the toxic type, streams and attributes.
	toxic   string
	streams []string
	attrs   map[string]any
	// For kills: which site (0 liege, 1 vassal) and how long it stays down.
	site   int
	down   time.Duration
	detail string
}

// schedule is the faults of a run, drawn from the seed: the same seed and
// flags give the same schedule, in both runs of --merge lww.
type schedule struct {
	actions []action
	// skew is the vassal's clock skew for the whole run (FaultSkew).
	skew time.Duration
	// armed are the failpoint specs each site starts with
	// (kill-rollback, kill-reconcile).
	armed [2]string
	// beyond is the vassal's clock skew beyond the bound (FaultSkewBeyond),
	// applied once the load has stopped and the link is healed: a refusal
	// needs a link that carries the handshake.
	beyond time.Duration
}

// newSchedule draws the schedule of faults over a load of length d.
func newSchedule(seed uint64, faults []string, d, maxClockOffset time.Duration) *schedule {
	rng := rand.New(rand.NewPCG(seed, 0xfa017))
	s := &schedule{}
	on := func(f string) bool { return slices.Contains(faults, f) }
	// span returns a window starting in [lo, hi) of d lasting [min, max) of d.
	span := func(lo, hi, min, max float64) (time.Duration, time.Duration) {
		start := lo + rng.Float64()*(hi-lo)
		length := min + rng.Float64()*(max-min)
		return time.Duration(start * float64(d)), time.Duration(length * float64(d))
	}
	both := []string{"upstream", "downstream"}
	window := func(kind, id, toxic string, streams []string, attrs map[string]any, detail string, at, length time.Duration) {
		s.actions = append(s.actions,
			action{at: at, kind: kind, on: true, id: id, toxic: toxic, streams: streams, attrs: attrs, detail: detail},
			action{at: at + length, kind: kind, on: false, id: id, streams: streams})
	}
	// Link faults take turns, each in a slot of its own: toxiproxy can
	// hang removing a toxic that sits behind another one on a backed-up
	// connection, and one fault at a time is also easier to read on the
	// timeline.
	type linkFault struct {
		kind, toxic string
		streams     []string
		attrs       map[string]any
		detail      string
		instant     bool
	}
	var lf []linkFault
	if on(FaultPartition) {
		for i := 1 + rng.IntN(2); i > 0; i-- {
			lf = append(lf, linkFault{FaultPartition, "timeout", both, map[string]any{"timeout": 0},
				"both directions: every byte dropped, connections left open", false})
		}
	}
	if on(FaultOneway) {
		st, dir := "upstream", "vassal→liege"
		if rng.IntN(2) == 0 {
			st, dir = "downstream", "liege→vassal"
		}
		lf = append(lf, linkFault{FaultOneway, "timeout", []string{st}, map[string]any{"timeout": 0},
			dir + " only: every byte dropped", false})
	}
	if on(FaultLatency) {
		lat, jit := 20+rng.IntN(60), 5+rng.IntN(30)
		lf = append(lf, linkFault{FaultLatency, "latency", both, map[string]any{"latency": lat, "jitter": jit},
			fmt.Sprintf("%d ms ± %d ms each way", lat, jit), false})
	}
	if on(FaultBandwidth) {
		kb := 8 + rng.IntN(56)
		lf = append(lf, linkFault{FaultBandwidth, "bandwidth", both, map[string]any{"rate": kb},
			fmt.Sprintf("%d KB/s each way", kb), false})
	}
	if on(FaultSlicer) {
		size := 4 + rng.IntN(12)
		lf = append(lf, linkFault{FaultSlicer, "slicer", both, map[string]any{"average_size": size, "size_variation": size / 2, "delay": 50},
			fmt.Sprintf("writes sliced to ~%d bytes, 50 µs apart", size), false})
	}
	if on(FaultReset) {
		for i := 1 + rng.IntN(2); i > 0; i-- {
			lf = append(lf, linkFault{FaultReset, "reset_peer", []string{"downstream"}, map[string]any{"timeout": 0},
				"TCP connections reset by peer", true})
		}
	}
	rng.Shuffle(len(lf), func(i, j int) { lf[i], lf[j] = lf[j], lf[i] })
	if len(lf) > 0 {
		slot := 0.8 / float64(len(lf))
		for i, f := range lf {
			lo := 0.05 + slot*float64(i)
			at, length := span(lo, lo+0.3*slot, 0.5*slot, 0.65*slot)
			if f.instant {
				length = 150 * time.Millisecond
			}
			window(f.kind, fmt.Sprintf("%s-%d", f.kind, i), f.toxic, f.streams, f.attrs, f.detail, at, length)
		}
	}
	if on(FaultKill) {
		n := 1 + rng.IntN(2)
		for i := 0; i < n; i++ {
			at, _ := span(0.1, 0.8, 0, 0)
			site := rng.IntN(2)
			down := time.Duration(200+rng.IntN(800)) * time.Millisecond
			s.actions = append(s.actions, action{at: at, kind: FaultKill, on: true, site: site, down: down,
				detail: fmt.Sprintf("SIGKILL, restarted from its journal after %v", down)})
		}
	}
	if on(FaultKillRollback) {
		points := []string{"rollback-after-intent", "rollback-after-lost", "rollback-mid-undo", "rollback-before-truncate", "rollback-after-truncate"}
		s.armed[1] = fmt.Sprintf("%s=crash@%d", points[rng.IntN(len(points))], 1+rng.IntN(2))
	}
	if on(FaultKillReconcile) {
		s.armed[0] = fmt.Sprintf("reconcile-after-commit=crash@%d", 1+rng.IntN(5))
	}
	if on(FaultSkew) {
		frac := 0.2 + 0.5*rng.Float64()
		if rng.IntN(2) == 0 {
			frac = -frac
		}
		s.skew = time.Duration(frac * float64(maxClockOffset)).Round(time.Millisecond)
	}
	if on(FaultSkewBeyond) {
		// Behind, not ahead: what the vassal commits meanwhile carries
		// older timestamps, which the liege accepts once the clock is
		// back; a clock ahead would be refused record by record too.
		s.beyond = -(3*maxClockOffset + time.Second)
	}
	sort.SliceStable(s.actions, func(i, j int) bool { return s.actions[i].at < s.actions[j].at })
	return s
}
