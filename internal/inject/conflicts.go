package inject

import (
	"fmt"

	"github.com/liege-db/liege/internal/conflictlog"
)

// conflicts counts the conflicts of the run by check, from both
// instances' conflict logs (package conflictlog), read once they are
// stopped: every conflict detected is there, whatever SIGKILLs the run
// dealt (the sampled metrics lose what a killed process counted since the
// last sample). Both sites count a pair they both detect, as the metrics
// did.
func (r *runner) conflicts() (map[string]int, error) {
	out := map[string]int{}
	for _, in := range r.sites {
		recs, err := conflictlog.Read(in.dir)
		if err != nil {
			return nil, fmt.Errorf("conflicts of %s: %w", in.id, err)
		}
		for _, c := range recs {
			out[c.Check]++
		}
	}
	return out, nil
}
