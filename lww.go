package liege

import "fmt"

// Merge modes (Options.Merge): how peer transactions are merged.
const (
	// MergePath is the protocol of DESIGN.md: every peer transaction is
	// checked against the own transactions the peer had not seen, and a
	// conflict is rejected (liege) or rolled back and reconciled (vassal).
	MergePath = "path"
	// MergeLWW is a baseline to compare the protocol against, NOT for
	// production: peer transactions are merged last-writer-wins by
	// version, as a timestamped upsert store replicates. There is no
	// conflict check, no rollback and no reconciliation, so it loses
	// data: the losing side of a concurrent write is silently dropped,
	// a concurrent Add loses the other side's increment, and a read the
	// peer's transaction made is never rechecked.
	MergeLWW = "lww"
)

// checkMerge validates Options.Merge and returns it normalised ("" is
// MergePath).
func checkMerge(m string) (string, error) {
	switch m {
	case "", MergePath:
		return MergePath, nil
	case MergeLWW:
		return MergeLWW, nil
	}
	return "", fmt.Errorf("open instance: Options.Merge %q: want %q (the protocol, the default) or %q (last-writer-wins baseline)", m, MergePath, MergeLWW)
}

// Merge returns the merge mode: MergePath or MergeLWW.
func (db *DB) Merge() string { return db.opts.Merge }
