package main

import (
	"strings"
	"testing"
	"time"
)

func TestInjectSim(t *testing.T) {
	p := launch(t, nil, "inject", "--sim", "--seeds", "60", "--from", "500")
	if code := p.wait(2 * time.Minute); code != 0 {
		t.Fatalf("liege inject --sim exited %d:\n%s", code, p.output)
	}
	out := p.output.String()
	for _, want := range []string{"simulated 60 of 60 seeds (500..559)", "with a vassal rollback",
		"checks run on every seed: [1:txids 1:state 2:copies 2:order 2:replay 2:final-state 3:subjects 3:acked 3:maybe 3:once]"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p = launch(t, nil, "inject")
	if code := p.wait(time.Minute); code != 2 {
		t.Errorf("liege inject without --sim exited %d, want 2", code)
	}
	if !strings.Contains(p.output.String(), "only --sim is built so far") {
		t.Errorf("liege inject without --sim does not say why:\n%s", p.output)
	}
}
