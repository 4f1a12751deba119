package route

import (
	"testing"

	"pgregory.net/rapid"
)

func TestParseOverride(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Override
		err  bool
	}{
		{in: "buy=auto", want: Override{Proc: "buy", Route: Auto}},
		{in: "withdraw=liege", want: Override{Proc: "withdraw", Route: Liege}},
		{in: " withdraw = liege+available ", want: Override{Proc: "withdraw", Route: Liege, Available: true}},
		{in: "get=local", want: Override{Proc: "get", Route: Local}},
		{in: "buy", err: true},
		{in: "=auto", err: true},
		{in: "buy=fast", err: true},
		{in: "buy=auto+available", err: true},
	} {
		got, err := ParseOverride(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseOverride(%q) error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseOverride(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestDecide is the table of DESIGN.md section 13: route x role x link.
func TestDecide(t *testing.T) {
	hot := func(r *Router) { // make auto forward "p"
		for i := 0; i < r.cfg.MinCommits; i++ {
			r.Committed("p", "")
			r.Conflict("p", "")
		}
	}
	for _, tc := range []struct {
		name      string
		route     Route
		available bool
		hot       bool
		vassal    bool
		up        bool
		want      Decision
	}{
		{name: "local vassal up", route: Local, vassal: true, up: true, want: CommitLocal},
		{name: "liege route at the liege", route: Liege, vassal: false, up: true, want: CommitLocal},
		{name: "liege route up", route: Liege, vassal: true, up: true, want: Forward},
		{name: "liege route down refuses", route: Liege, vassal: true, up: false, want: Refuse},
		{name: "liege route down available", route: Liege, available: true, vassal: true, up: false, want: Fallback},
		{name: "auto cold", route: Auto, vassal: true, up: true, want: CommitLocal},
		{name: "auto hot up", route: Auto, hot: true, vassal: true, up: true, want: Forward},
		{name: "auto hot down", route: Auto, hot: true, vassal: true, up: false, want: Fallback},
		{name: "auto hot at the liege", route: Auto, hot: true, vassal: false, up: true, want: CommitLocal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{})
			r.Set("p", tc.route, false, tc.available)
			if tc.hot {
				hot(r)
			}
			r.Role(tc.vassal)
			r.Link(tc.up)
			if got := r.Decide("p", ""); got != tc.want {
				t.Fatalf("Decide = %v, want %v", got, tc.want)
			}
			if got := r.Decide("unknown", ""); got != CommitLocal {
				t.Fatalf("Decide(unknown procedure) = %v, want local", got)
			}
		})
	}
}

// TestHysteresisScripted feeds a scripted conflict rate: 0 for a while, a
// burst of 30%, then 0 again, and checks exactly when auto switches.
func TestHysteresisScripted(t *testing.T) {
	cfg := Config{High: 0.1, Low: 0.02, Window: 50, Hold: 100, MinCommits: 10}
	r := New(cfg)
	r.Set("buy", Auto, false, false)
	r.Role(true)
	r.Link(true)
	var changes []Change
	feed := func(commits int, every int) {
		for i := 1; i <= commits; i++ {
			changes = append(changes, r.Committed("buy", "")...)
			if every > 0 && i%every == 0 {
				changes = append(changes, r.Conflict("buy", "")...)
			}
		}
	}
	feed(200, 0)
	if len(changes) != 0 || r.Decide("buy", "") != CommitLocal {
		t.Fatalf("no conflicts: changes %v, decision %v; want none and local", changes, r.Decide("buy", ""))
	}
	feed(50, 3) // a third of the commits conflict
	if len(changes) != 1 || !changes[0].Forwarding || changes[0].Rate <= cfg.High || changes[0].Threshold != cfg.High {
		t.Fatalf("after the burst: changes %+v, want one switch on above %v", changes, cfg.High)
	}
	if r.Decide("buy", "") != Forward {
		t.Fatalf("after the burst: decision %v, want forward", r.Decide("buy", ""))
	}
	// Quiet again: the rate decays below Low, then Hold commits must pass.
	n := 0
	for len(changes) == 1 {
		changes = append(changes, r.Committed("buy", "")...)
		n++
		if n > 10000 {
			t.Fatal("auto never stopped forwarding after 10000 quiet commits")
		}
	}
	c := changes[1]
	if c.Forwarding || c.Rate >= cfg.Low || c.Threshold != cfg.Low {
		t.Fatalf("switch off: %+v, want off below %v", c, cfg.Low)
	}
	if n < cfg.Hold {
		t.Fatalf("switched off after %d quiet commits, want at least Hold=%d", n, cfg.Hold)
	}
	if r.Decide("buy", "") != CommitLocal {
		t.Fatalf("after the quiet spell: decision %v, want local", r.Decide("buy", ""))
	}
	// A rate between Low and High neither switches on nor off.
	changes = nil
	feed(2000, 20) // 5%
	if len(changes) != 0 {
		t.Fatalf("a rate of 5%% between Low and High switched the route: %+v", changes)
	}
}

func TestPrefix(t *testing.T) {
	r := New(Config{High: 0.1, Window: 50, MinCommits: 10})
	r.Set("buy", Auto, true, false)
	r.Role(true)
	r.Link(true)
	for i := 0; i < 100; i++ {
		r.Committed("buy", "vip")
		r.Conflict("buy", "vip")
		for j := 0; j < 20; j++ {
			r.Committed("buy", "stalls")
		}
	}
	if got := r.Decide("buy", "vip"); got != Forward {
		t.Errorf("hot prefix vip: %v, want forward", got)
	}
	if got := r.Decide("buy", "stalls"); got != CommitLocal {
		t.Errorf("cold prefix stalls: %v, want local", got)
	}
	// The procedure as a whole is hot too; a call with a prefix follows its
	// prefix alone, a call without one the procedure's meter.
	for i := 0; i < 200; i++ {
		r.Committed("buy", "vip")
		r.Conflict("buy", "vip")
	}
	if got := r.Decide("buy", "stalls"); got != CommitLocal {
		t.Errorf("cold prefix stalls of a hot procedure: %v, want local", got)
	}
	if got := r.Decide("buy", ""); got != Forward {
		t.Errorf("no prefix, hot procedure: %v, want forward", got)
	}
	st := r.Status()
	if len(st) != 1 || st[0].Prefixes != 2 || st[0].PrefixesForwarding != 1 || st[0].Forwarding {
		t.Errorf("status %+v: want buy with 2 prefixes, 1 forwarding, and not forwarding as a whole", st)
	}
}

func TestMaxPrefixes(t *testing.T) {
	r := New(Config{MaxPrefixes: 8})
	r.Set("p", Auto, true, false)
	for i := 0; i < 100; i++ {
		r.Committed("p", string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if n := r.Status()[0].Prefixes; n > 8 {
		t.Fatalf("%d prefixes measured, want at most MaxPrefixes=8", n)
	}
}

// TestHysteresisProperty: under any sequence of commits and conflicts,
// auto switches on only with the rate above High after MinCommits, and off
// only after Hold commits in a row with the rate below Low; changes
// alternate.
func TestHysteresisProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{
			Start:      rapid.IntRange(1, 60).Draw(t, "start"),
			High:       rapid.Float64Range(0.01, 0.5).Draw(t, "high"),
			Window:     rapid.IntRange(2, 100).Draw(t, "window"),
			Hold:       rapid.IntRange(1, 50).Draw(t, "hold"),
			MinCommits: rapid.IntRange(1, 30).Draw(t, "min"),
		}
		cfg.Low = cfg.High * rapid.Float64Range(0.05, 1).Draw(t, "low/high")
		declared := rapid.Bool().Draw(t, "declared")
		r := New(cfg)
		if declared {
			r.Declare("p", false)
		} else {
			r.Set("p", Auto, false, false)
		}
		r.Role(true)
		r.Link(true)
		on, commits, below := declared, 0, 0
		if on {
			below = max(r.cfg.Hold-cfg.Start, 0) // the prior: Start quiet commits
		}
		events := rapid.SliceOfN(rapid.IntRange(0, 9), 1, 2000).Draw(t, "events")
		pConflict := rapid.IntRange(0, 10).Draw(t, "conflict weight")
		for i, e := range events {
			var ch []Change
			commit := e >= pConflict
			if commit {
				ch = r.Committed("p", "")
				commits++
			} else {
				ch = r.Conflict("p", "")
			}
			rate := r.procs["p"].all.rate()
			if on && rate < r.cfg.Low && commit {
				below++
			} else if rate >= r.cfg.Low {
				below = 0
			}
			for _, c := range ch {
				if c.Forwarding == on {
					t.Fatalf("event %d: change %+v repeats the state", i, c)
				}
				if c.Forwarding {
					if c.Rate <= r.cfg.High || commits < r.cfg.MinCommits {
						t.Fatalf("event %d: switched on at rate %v (High %v) after %d commits (min %d)", i, c.Rate, r.cfg.High, commits, r.cfg.MinCommits)
					}
				} else if below < r.cfg.Hold || c.Rate >= r.cfg.Low {
					t.Fatalf("event %d: switched off after %d commits below Low (Hold %d), rate %v", i, below, r.cfg.Hold, c.Rate)
				}
				on = c.Forwarding
				below = 0
			}
			if want := map[bool]Decision{true: Forward, false: CommitLocal}[on]; r.Decide("p", "") != want {
				t.Fatalf("event %d: decision %v, want %v", i, r.Decide("p", ""), want)
			}
		}
	})
}

// TestStartDeclared: a procedure the application declares collision-prone
// forwards from the start under auto, each prefix seen meanwhile too. The
// prior is the procedure's: once Start of its commits showed no conflict,
// every prefix forwarding on the prior alone goes local, one with evidence
// (here the liege's own writes) keeps forwarding, and a prefix first seen
// afterwards starts local. A conflict is evidence too: it ends the prior.
func TestStartDeclared(t *testing.T) {
	r := New(Config{Window: 50, Hold: 500, Start: 30})
	r.Declare("buy", true)
	r.Declare("get", false)
	r.Role(true)
	r.Link(true)
	if r.Route("buy") != Auto || r.Route("get") != Auto {
		t.Fatalf("declared procedures routed %v and %v, want auto", r.Route("buy"), r.Route("get"))
	}
	if r.Decide("buy", "vip") != Forward || r.Decide("get", "") != Forward {
		t.Fatalf("declared procedures: buy[vip] %v, get %v; want both forwarded", r.Decide("buy", "vip"), r.Decide("get", ""))
	}
	var changes []Change
	for i := 0; i < 15; i++ { // 30 commits of buy: its prior ends on the last
		changes = append(changes, r.Committed("buy", "vip")...)
		changes = append(changes, r.Committed("buy", "stalls")...)
		changes = append(changes, r.Committed("get", "")...)
		r.LiegeCommitted("buy", "vip") // the other site sells vip seats too
		if i < 14 && (r.Decide("buy", "stalls") != Forward || r.Decide("buy", "circle") != Forward) {
			t.Fatalf("commit %d of the prior: buy[stalls] %v, buy[circle] %v; want forward", i, r.Decide("buy", "stalls"), r.Decide("buy", "circle"))
		}
	}
	if len(changes) != 1 || changes[0].Proc != "buy" || changes[0].Prefix != "stalls" || changes[0].Forwarding {
		t.Fatalf("after buy's prior: changes %v; want buy[stalls] alone back to local", changes)
	}
	if r.Decide("buy", "vip") != Forward || r.Decide("buy", "stalls") != CommitLocal || r.Decide("buy", "circle") != CommitLocal {
		t.Fatalf("after buy's prior: buy[vip] %v, buy[stalls] %v, buy[circle] %v; want forward, local, local",
			r.Decide("buy", "vip"), r.Decide("buy", "stalls"), r.Decide("buy", "circle"))
	}
	changes = nil
	for i := 0; i < 15; i++ {
		changes = append(changes, r.Committed("get", "")...)
	}
	if len(changes) != 1 || changes[0].Proc != "get" || changes[0].Forwarding || r.Decide("get", "") != CommitLocal {
		t.Fatalf("after 30 quiet commits of get: changes %v, get %v; want get back to local", changes, r.Decide("get", ""))
	}
	// The operator's auto keeps the prior and the meters; local drops them.
	r.Apply(Override{Proc: "buy", Route: Auto})
	if r.Decide("buy", "vip") != Forward || r.Decide("buy", "stalls") != CommitLocal {
		t.Fatal("the operator's auto for a declared procedure reset its meters")
	}
	r.Apply(Override{Proc: "buy", Route: Local})
	if r.Decide("buy", "vip") != CommitLocal {
		t.Fatalf("the operator's local for a declared procedure: %v, want local", r.Decide("buy", "vip"))
	}
	// A conflict is evidence: it ends the prior, prefixes follow their own.
	r.Declare("refund", true)
	r.Committed("refund", "vip")
	r.Committed("refund", "stalls")
	changes = r.Conflict("refund", "vip")
	if len(changes) != 1 || changes[0].Prefix != "stalls" || changes[0].Forwarding {
		t.Fatalf("a conflict on refund[vip]: changes %v; want refund[stalls] back to local", changes)
	}
	if r.Decide("refund", "vip") != Forward || r.Decide("refund", "stalls") != CommitLocal || r.Decide("refund", "circle") != CommitLocal {
		t.Fatalf("after a conflict: refund[vip] %v, refund[stalls] %v, refund[circle] %v; want forward, local, local",
			r.Decide("refund", "vip"), r.Decide("refund", "stalls"), r.Decide("refund", "circle"))
	}
}

// TestStartOperatorOnly: a procedure set auto by the operator alone, with
// no declaration from the application, starts local, each prefix too, and
// forwards once its measured rate crosses High.
func TestStartOperatorOnly(t *testing.T) {
	cfg := Config{High: 0.1, Window: 50, Hold: 500, MinCommits: 10, Start: 30}
	r := New(cfg)
	r.Apply(Override{Proc: "withdraw", Route: Auto})
	r.Set("buy", Auto, true, false)
	r.Role(true)
	r.Link(true)
	if r.Decide("withdraw", "") != CommitLocal || r.Decide("buy", "vip") != CommitLocal {
		t.Fatalf("operator-only auto: withdraw %v, buy[vip] %v; want both local", r.Decide("withdraw", ""), r.Decide("buy", "vip"))
	}
	var changes []Change
	for i := 1; i <= 40 && len(changes) == 0; i++ {
		changes = append(changes, r.Committed("withdraw", "")...)
		changes = append(changes, r.Committed("buy", "vip")...)
		changes = append(changes, r.Committed("buy", "stalls")...)
		if i%4 == 0 { // a quarter of withdraw and buy[vip] conflict
			changes = append(changes, r.Conflict("withdraw", "")...)
			changes = append(changes, r.Conflict("buy", "vip")...)
		}
		if len(changes) > 0 && i < cfg.MinCommits {
			t.Fatalf("switched after %d commits, before MinCommits=%d: %v", i, cfg.MinCommits, changes)
		}
	}
	if len(changes) != 2 || !changes[0].Forwarding || changes[0].Proc != "withdraw" ||
		!changes[1].Forwarding || changes[1].Proc != "buy" || changes[1].Prefix != "vip" {
		t.Fatalf("changes %v; want withdraw and buy[vip] switched to forwarding", changes)
	}
	if changes[0].Rate <= cfg.High || changes[0].Threshold != cfg.High {
		t.Fatalf("switch %+v: want a rate above High %v", changes[0], cfg.High)
	}
	if r.Decide("withdraw", "") != Forward || r.Decide("buy", "vip") != Forward || r.Decide("buy", "stalls") != CommitLocal {
		t.Fatalf("after the conflicts: withdraw %v, buy[vip] %v, buy[stalls] %v; want forward, forward, local",
			r.Decide("withdraw", ""), r.Decide("buy", "vip"), r.Decide("buy", "stalls"))
	}
}

// TestReconciling: while rolled-off own transactions await reconciliation
// at the liege, a vassal forwards every auto call (any prefix, link up),
// commits them here with the link down, and leaves other routes alone;
// the meters are untouched.
func TestReconciling(t *testing.T) {
	r := New(Config{})
	r.Set("buy", Auto, true, false) // operator-only: cold, local
	r.Set("get", Local, false, false)
	r.Role(true)
	r.Link(true)
	if r.Decide("buy", "stalls") != CommitLocal {
		t.Fatalf("cold auto: %v, want local", r.Decide("buy", "stalls"))
	}
	r.Reconciling(true)
	for _, c := range []struct {
		proc, prefix string
		want         Decision
	}{{"buy", "stalls", Forward}, {"buy", "", Forward}, {"get", "", CommitLocal}, {"unknown", "", CommitLocal}} {
		if got := r.Decide(c.proc, c.prefix); got != c.want {
			t.Errorf("reconciling, link up: %s[%s] %v, want %v", c.proc, c.prefix, got, c.want)
		}
	}
	if !r.Forwarding("buy", "stalls") {
		t.Error("reconciling: Forwarding(buy, stalls) is false, want true")
	}
	r.Link(false)
	if got := r.Decide("buy", "stalls"); got != Fallback {
		t.Errorf("reconciling, link down: %v, want fallback", got)
	}
	r.Link(true)
	r.Role(false)
	if got := r.Decide("buy", "stalls"); got != CommitLocal {
		t.Errorf("reconciling at the liege: %v, want local", got)
	}
	r.Role(true)
	r.Reconciling(false)
	if got := r.Decide("buy", "stalls"); got != CommitLocal {
		t.Errorf("reconciliation done: %v, want local again", got)
	}
	if st := r.Status(); st[0].Proc != "buy" || st[0].PrefixesForwarding != 0 || st[0].Rate != 0 {
		t.Errorf("reconciling changed the meters: %+v", st)
	}
}

// TestLiegeContention: a forwarding meter sees no conflicts of its own, so
// the liege's own commits on the same data keep it forwarding: a declared
// prefix both sites write stays forwarded past its prior, one only this
// site writes goes local after it; a liege commit on the prefix in another
// procedure counts; a meter that commits locally ignores them.
func TestLiegeContention(t *testing.T) {
	cfg := Config{Window: 50, Hold: 300, Start: 40}
	r := New(cfg)
	r.Declare("deposit", true)
	r.Declare("withdraw", true)
	r.Role(true)
	r.Link(true)
	var changes []Change
	for i := 1; i <= 2*cfg.Hold; i++ {
		changes = append(changes, r.Committed("deposit", "shared")...)
		changes = append(changes, r.Committed("deposit", "mine")...)
		if i%10 == 0 { // the liege withdraws from shared: 10% of our rate
			r.LiegeCommitted("withdraw", "shared")
		}
	}
	if len(changes) != 1 || changes[0].Prefix != "mine" || changes[0].Forwarding {
		t.Fatalf("changes %v; want deposit[mine] alone back to local", changes)
	}
	if r.Decide("deposit", "shared") != Forward || r.Decide("deposit", "mine") != CommitLocal {
		t.Fatalf("deposit[shared] %v, deposit[mine] %v; want forward, local", r.Decide("deposit", "shared"), r.Decide("deposit", "mine"))
	}
	// The liege stops writing shared: it goes local after Hold quiet commits.
	n := 0
	for changes = nil; len(changes) == 0; n++ {
		if n > 10*cfg.Hold {
			t.Fatal("deposit[shared] never went local once the liege stopped writing it")
		}
		changes = r.Committed("deposit", "shared")
	}
	if n < cfg.Hold {
		t.Fatalf("deposit[shared] went local %d commits after the liege's last write: want at least Hold=%d", n, cfg.Hold)
	}
	// Local now: liege commits do not switch it back (only conflicts do).
	for range 100 {
		r.LiegeCommitted("deposit", "shared")
		if ch := r.Committed("deposit", "shared"); len(ch) != 0 {
			t.Fatalf("a local meter switched on liege commits alone: %v", ch)
		}
	}
	// A procedure without prefixes: the liege's commits of it count.
	r.Declare("close", false)
	for i := 1; i <= 2*cfg.Hold; i++ {
		if ch := r.Committed("close", ""); len(ch) != 0 {
			t.Fatalf("close switched with the liege closing too: %v", ch)
		}
		if i%20 == 0 {
			r.LiegeCommitted("close", "")
		}
	}
}
