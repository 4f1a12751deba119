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
			r := New(Config{Start: -1})
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
	cfg := Config{High: 0.1, Low: 0.02, Window: 50, Hold: 100, MinCommits: 10, Start: -1}
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
	r := New(Config{High: 0.1, Window: 50, MinCommits: 10, Start: -1})
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
			Start:      rapid.IntRange(-1, 60).Draw(t, "start"),
			High:       rapid.Float64Range(0.01, 0.5).Draw(t, "high"),
			Window:     rapid.IntRange(2, 100).Draw(t, "window"),
			Hold:       rapid.IntRange(1, 50).Draw(t, "hold"),
			MinCommits: rapid.IntRange(1, 30).Draw(t, "min"),
		}
		cfg.Low = cfg.High * rapid.Float64Range(0.05, 1).Draw(t, "low/high")
		if cfg.Start == 0 {
			cfg.Start = -1 // 0 means the default
		}
		r := New(cfg)
		r.Set("p", Auto, false, false)
		r.Role(true)
		r.Link(true)
		on, commits, below := cfg.Start > 0, 0, 0
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

// TestStartForwarding: a procedure routed auto (the app said it is
// collision-prone) forwards from the start, each new prefix too, and
// commits locally once Start commits showed no conflict.
func TestStartForwarding(t *testing.T) {
	r := New(Config{Window: 50, Hold: 500, Start: 30})
	r.Set("buy", Auto, true, false)
	r.Set("get", Auto, false, false)
	r.Role(true)
	r.Link(true)
	if r.Decide("buy", "vip") != Forward || r.Decide("get", "") != Forward {
		t.Fatalf("new auto procedures: buy[vip] %v, get %v; want both forwarded", r.Decide("buy", "vip"), r.Decide("get", ""))
	}
	var changes []Change
	for i := 0; i < 30; i++ {
		changes = append(changes, r.Committed("buy", "vip")...)
		changes = append(changes, r.Committed("get", "")...)
		if i == 10 {
			changes = append(changes, r.Conflict("buy", "vip")...) // vip is hot after all
		}
	}
	if len(changes) != 1 || changes[0].Proc != "get" || changes[0].Forwarding {
		t.Fatalf("after 30 commits: changes %v; want get alone back to local", changes)
	}
	if r.Decide("buy", "vip") != Forward || r.Decide("get", "") != CommitLocal {
		t.Fatalf("after 30 commits: buy[vip] %v, get %v; want forward, local", r.Decide("buy", "vip"), r.Decide("get", ""))
	}
	if r.Decide("buy", "stalls") != Forward {
		t.Fatalf("a new prefix: %v, want forward until measured", r.Decide("buy", "stalls"))
	}
	// Setting the route again keeps the meters.
	r.Set("get", Auto, false, false)
	if r.Decide("get", "") != CommitLocal {
		t.Fatal("setting auto again reset the measured meter")
	}
}
