package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `liege demo` end to end with a short duration: it must exit
// 0 and print its proof, with the double sale it stages resolved through
// the customer-service queue and the shared account overdrawn.
func TestDemo(t *testing.T) {
	// --dir names a directory that does not exist yet: the demo makes it.
	dir := filepath.Join(t.TempDir(), "not", "yet")
	p := launch(t, nil, "demo", "--duration", "4s", "--seed", "3", "--dir", dir)
	if code := p.wait(2 * time.Minute); code != 0 {
		t.Fatalf("liege demo exited %d:\n%s", code, p.output)
	}
	out := p.output.String()
	for _, want := range []string{
		"link cut: both sites keep selling",
		"link healed",
		`seat VIP row 1 number 1: A told ann "sold", B told ben "sold"`,
		"double-sale  seat gala/VIP/1/1: ann-at-A",
		"shared balance",
		"shared with €100 each",
		"account shared (€100): the ATM at A dispensed €80",
		"overdrawn",
		"proof (DESIGN.md section 11",
		"identical     both instances hold the same",
		"path          ",
		"acknowledged  ",
		"invariant     ticketing",
		"invariant     atm",
		"checks run    1:txids 1:state 2:copies 2:order 2:replay 2:final-state 3:subjects 3:acked 3:maybe 3:once 4:invariant",
		"converged: OK",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.log")); err != nil {
		t.Errorf("liege demo --dir %s kept no demo.log: %v", dir, err)
	}
	if strings.Contains(out, "(1 records)") {
		t.Errorf("the demo's output says \"1 records\":\n%s", out)
	}
	// The timeline's summary counts the reprocesses and corrections the
	// liege logged; the proof counts them from the path: the same, and
	// some (it counted none when the engine's log lines changed name).
	var sumRe, sumCo, proofRe, proofCo int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "summary: ") {
			_, rest, _ := strings.Cut(line, "rollback")
			fmt.Sscanf(rest[strings.Index(rest, ",")+1:], " %d reprocessed, %d corrected", &sumRe, &sumCo)
		}
		if _, rest, ok := strings.Cut(line, "acknowledged  "); ok {
			_, rest, _ = strings.Cut(rest, "as themselves, ")
			fmt.Sscanf(rest, "%d reprocessed, %d corrected", &proofRe, &proofCo)
		}
	}
	if sumRe+sumCo == 0 || sumRe != proofRe || sumCo != proofCo {
		t.Errorf("the summary counts %d reprocessed and %d corrected, the proof %d and %d:\n%s", sumRe, sumCo, proofRe, proofCo, out)
	}
	if !strings.Contains(out, "A  corrected B/") {
		t.Errorf("the timeline shows no correction by the liege:\n%s", out)
	}

	// The customer-service queue has one line per seat.
	seats := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "  double-sale  seat "); ok {
			seat, _, _ := strings.Cut(rest, ":")
			seats[seat]++
		}
	}
	for seat, n := range seats {
		if n > 1 {
			t.Errorf("the customer-service queue lists seat %s %d times:\n%s", seat, n, out)
		}
	}
}
