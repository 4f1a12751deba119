package engine

import (
	"errors"
	"fmt"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/journal"
)

// ErrLostAcked: start-up found acknowledged journal records damaged or
// missing (DESIGN.md section 3). Nothing was changed; the error says what to
// do.
var ErrLostAcked = errors.New("the journal lost acknowledged records")

// AckedTailGuard is the guard of journal.OpenFileLogGuarded for the instance
// directory dir. A torn tail is cut at start-up only if it was never
// acknowledged; a checkpoint at or above its position proves it was (the
// state the checkpoint holds includes it), so the guard refuses, before any
// file is changed.
func AckedTailGuard(dir string) func(*journal.TailDamage) error {
	return func(t *journal.TailDamage) error {
		files, err := checkpoint.List(dir)
		if err != nil {
			return fmt.Errorf("list the checkpoints of %s to check the torn journal tail at position %d (nothing was changed): %w", dir, t.Pos, err)
		}
		if n := len(files); n > 0 && files[n-1].Pos >= t.Pos {
			return fmt.Errorf("%w: %v, but checkpoint %s holds the state up to position %d, so that record was durable and acknowledged; "+
				"nothing was changed. Restore the journal from a backup, or, to accept the loss, move every checkpoint at or above position %d out of %s and open again "+
				"(a replicated instance then learns from its peer which of its own transactions were lost)",
				ErrLostAcked, t, files[n-1].Path, files[n-1].Pos, t.Pos, checkpoint.Dir)
		}
		return nil
	}
}
