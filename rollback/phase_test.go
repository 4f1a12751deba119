package rollback

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestPhaseMachine walks the phases from the intent and checks that every
// step of DESIGN.md section 7, step 2 is taken once, in order, ending done.
func TestPhaseMachine(t *testing.T) {
	var steps []Step
	var phases []Phase
	p := PhaseIntent
	for range 10 {
		if p == PhaseDone {
			break
		}
		step, next := p.Next()
		steps, phases = append(steps, step), append(phases, next)
		p = next
	}
	wantSteps := []Step{StepSaveLost, StepUndo, StepTruncate, StepJournalEpoch, StepRemoveIntent}
	wantPhases := []Phase{PhaseLost, PhaseUndone, PhaseTruncated, PhaseEpoch, PhaseDone}
	if !slices.Equal(steps, wantSteps) || !slices.Equal(phases, wantPhases) {
		t.Fatalf("from the intent: steps %v through phases %v; want %v through %v", steps, phases, wantSteps, wantPhases)
	}
	if step, next := PhaseDone.Next(); step != StepNone || next != PhaseDone {
		t.Fatalf("PhaseDone.Next() = %v, %v; want none, done", step, next)
	}
}

// TestDecide is the table of what Decide says for a directory in each
// phase, and for the directories the engine refuses to open.
func TestDecide(t *testing.T) {
	// A rollback of positions 10..20 from epoch 3 to 4.
	in := &Intent{Instance: "B", Self: "B", Target: 10, Head: 20, PrevEpoch: 3, NewEpoch: 4,
		LostFile: LostFileName("B", 4, 10, 20)}
	single := &Intent{Instance: "B", Self: "B", Target: 20, Head: 20, PrevEpoch: 3, NewEpoch: 4,
		LostFile: LostFileName("B", 4, 20, 20)}
	lostGone := errors.New("open lost/x.ltf: no such file or directory")
	for _, c := range []struct {
		name string
		disk Disk
		want Decision
		// wantErr, if set, is a part of the error; the error wraps
		// ErrCannotResume.
		wantErr string
	}{
		{name: "no intent: done",
			disk: Disk{Last: 20},
			want: Decision{Phase: PhaseDone, Next: StepNone, Last: 20}},
		{name: "intent, journal at its head: save the lost file (again)",
			disk: Disk{Intent: in, Last: 20},
			want: Decision{Phase: PhaseIntent, Next: StepSaveLost, Last: 9, Epoch: 4}},
		{name: "intent, journal at its head, lost file partial: saved again",
			disk: Disk{Intent: in, Last: 20, LostErr: lostGone},
			want: Decision{Phase: PhaseIntent, Next: StepSaveLost, Last: 9, Epoch: 4}},
		{name: "intent rolling off only the head, not truncated",
			disk: Disk{Intent: single, Last: 20},
			want: Decision{Phase: PhaseIntent, Next: StepSaveLost, Last: 19, Epoch: 4}},
		{name: "truncated, lost file complete: journal the epoch record",
			disk: Disk{Intent: in, Last: 9},
			want: Decision{Phase: PhaseTruncated, Next: StepJournalEpoch, Last: 9, Epoch: 4}},
		{name: "epoch record journaled: remove the intent",
			disk: Disk{Intent: in, Last: 10, TargetIsEpoch: true},
			want: Decision{Phase: PhaseEpoch, Next: StepRemoveIntent, Last: 10, Epoch: 4}},
		{name: "epoch record of a single-record rollback",
			disk: Disk{Intent: single, Last: 20, TargetIsEpoch: true},
			want: Decision{Phase: PhaseEpoch, Next: StepRemoveIntent, Last: 20, Epoch: 4}},
		{name: "truncated, lost file gone: refused",
			disk:    Disk{Dir: "/d", Intent: in, Last: 9, LostErr: lostGone},
			wantErr: "the journal of /d is already truncated after position 9, but the lost transaction file, the only copy left of positions 10..20, does not read back: open lost/x.ltf: no such file or directory; restore /d/lost/lost-B-e4-10-20.ltf from a backup"},
		{name: "journal ends between target and head: refused",
			disk:    Disk{Dir: "/d", Intent: in, Last: 15},
			wantErr: "rollback intent in /d expects the journal to end at position 20, but it ends at 15: remove rollback.intent only if you know why"},
		{name: "journal ends at the target without the epoch record: refused",
			disk:    Disk{Dir: "/d", Intent: in, Last: 10},
			wantErr: "expects the journal to end at position 20, but it ends at 10"},
		{name: "journal longer than the head: refused",
			disk:    Disk{Dir: "/d", Intent: in, Last: 21},
			wantErr: "expects the journal to end at position 20, but it ends at 21"},
		{name: "journal shorter than the target-1: refused",
			disk:    Disk{Dir: "/d", Intent: in, Last: 8},
			wantErr: "rollback intent in /d targets position 10, but the journal ends at 8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decide(c.disk)
			if c.wantErr != "" {
				if !errors.Is(err, ErrCannotResume) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Decide = %+v, %v; want an error wrapping ErrCannotResume containing %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Decide = %+v, %v; want %+v", got, err, c.want)
			}
			if step, _ := got.Phase.Next(); step != got.Next {
				t.Fatalf("Decide's next step %v is not the machine's step out of %v (%v)", got.Next, got.Phase, step)
			}
		})
	}
}
