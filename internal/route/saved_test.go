package route

import (
	"encoding/json"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// register sets up the procedures of the restart tests as an application
// and an operator would: "hot" declared and measured per prefix, "op" set
// auto by the operator alone, "plain" local.
func register(r *Router) {
	r.Declare("hot", true)
	r.Set("op", Auto, false, false)
	r.Set("plain", Local, false, false)
	r.Role(true)
	r.Link(true)
}

// TestRestartKeepsMeters: a router restarted from what Save returned (as
// JSON, the way the driver keeps it) and resumed decides exactly as the one
// that never restarted, event after event.
func TestRestartKeepsMeters(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{Window: 20, MinCommits: 3, MaxPrefixes: 8}
		a := New(cfg)
		register(a)
		type event struct {
			proc, prefix string
			conflict     bool
			liege        bool
		}
		gen := rapid.Custom(func(t *rapid.T) event {
			return event{
				proc:     rapid.SampledFrom([]string{"hot", "op", "plain"}).Draw(t, "proc"),
				prefix:   rapid.SampledFrom([]string{"", "s1", "s2", "s3"}).Draw(t, "prefix"),
				conflict: rapid.Float64Range(0, 1).Draw(t, "p") < 0.3,
				liege:    rapid.Float64Range(0, 1).Draw(t, "q") < 0.1,
			}
		})
		events := rapid.SliceOfN(gen, 1, 400).Draw(t, "events")
		cut := rapid.IntRange(0, len(events)).Draw(t, "restart")
		step := func(r *Router, e event) []Change {
			switch {
			case e.liege:
				r.LiegeCommitted(e.proc, e.prefix)
				return nil
			case e.conflict:
				return r.Conflict(e.proc, e.prefix)
			}
			return r.Committed(e.proc, e.prefix)
		}
		for _, e := range events[:cut] {
			step(a, e)
		}
		b, err := json.Marshal(a.Save())
		if err != nil {
			t.Fatal(err)
		}
		var ss []Saved
		if err := json.Unmarshal(b, &ss); err != nil {
			t.Fatal(err)
		}
		r := New(cfg)
		r.Restore(ss)
		register(r)
		for _, name := range []string{"hot", "op", "plain"} {
			r.Resume(name)
		}
		if got, want := r.Save(), a.Save(); !reflect.DeepEqual(got, want) {
			t.Fatalf("restored meters %+v, want %+v", got, want)
		}
		for i, e := range events[cut:] {
			for _, p := range []string{"", "s1", "s2", "s3"} {
				if da, dr := a.Decide(e.proc, p), r.Decide(e.proc, p); da != dr {
					t.Fatalf("event %d after the restart: %s [%s] decided %v, %v without the restart", i, e.proc, p, dr, da)
				}
			}
			if ca, cr := step(a, e), step(r, e); !reflect.DeepEqual(ca, cr) {
				t.Fatalf("event %d after the restart: changes %v, %v without the restart", i, cr, ca)
			}
		}
	})
}

// TestResumeOnlyAuto: meters restored for a procedure whose route is no
// longer auto are dropped when it registers; those of a procedure not
// registered since the restart are saved again as they were.
func TestResumeOnlyAuto(t *testing.T) {
	a := New(Config{MinCommits: 1})
	register(a)
	a.Set("gone", Auto, false, false)
	for i := 0; i < 3; i++ {
		a.Committed("op", "")
		a.Conflict("op", "")
		a.Committed("gone", "")
		a.Conflict("gone", "")
	}
	if a.Decide("op", "") != Forward {
		t.Fatal("op does not forward after its conflicts")
	}
	r := New(Config{MinCommits: 1})
	r.Restore(a.Save())
	r.Set("op", Local, false, false) // the operator routes it local now
	r.Resume("op")
	r.Set("op", Auto, false, false)
	r.Role(true)
	r.Link(true)
	if d := r.Decide("op", ""); d != CommitLocal {
		t.Fatalf("op, local at the restart and auto again: %v, want local (a fresh meter)", d)
	}
	var gone []Saved
	for _, s := range r.Save() {
		if s.Proc == "gone" {
			gone = append(gone, s)
		}
	}
	var want []Saved
	for _, s := range a.Save() {
		if s.Proc == "gone" {
			want = append(want, s)
		}
	}
	if len(want) == 0 || !reflect.DeepEqual(gone, want) {
		t.Fatalf("the meters of a procedure not registered since the restart: %+v, want %+v", gone, want)
	}
}
