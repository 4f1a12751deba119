package inject

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// This file counts an instance's rollbacks and the records they rolled
// off. The epoch record each rollback journals is not enough: a later
// rollback to an earlier position rolls an earlier rollback's epoch record
// off with everything else after that position, so a cascade of rollbacks
// (the spiral routing is meant to stop) would be undercounted. Each
// rollback also leaves a lost transaction file named by its epoch and
// positions (rollback.LostFileName), kept for days (--side-keep): the
// count is the union of both, by epoch.
//
// A rollback rolls off the instance's own transactions (those the liege
// reprocesses or corrects) and every peer record applied after the first
// of them (received again, not reconciled): rolledOff.own counts the
// former, from the lost files.

// rolledOff is one rollback: the records it rolled off, and how many of
// them were own transactions (-1: unknown, its lost file is gone).
type rolledOff struct{ records, own int }

// rollbacksOf returns the rollbacks, by epoch, of instance id with
// directory dir and journal records recs.
func rollbacksOf(dir, id string, recs []journal.Record) (map[uint64]rolledOff, error) {
	out := map[uint64]rolledOff{}
	for i := range recs {
		if r := &recs[i]; r.Kind == journal.KindEpoch && r.Rollback != nil {
			out[r.Epoch] = rolledOff{records: int(r.Rollback.Records), own: -1}
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, rollback.LostDir))
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("count the rollbacks of %s: %w", id, err)
	}
	prefix := "lost-" + id + "-e"
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !strings.HasSuffix(name, ".ltf") {
			continue
		}
		var epoch, from, to uint64
		if n, err := fmt.Sscanf(strings.TrimSuffix(name, ".ltf"), "%d-%d-%d", &epoch, &from, &to); n != 3 || err != nil || to < from {
			return nil, fmt.Errorf("count the rollbacks of %s: lost file %s is not named lost-%s-eEPOCH-FROM-TO.ltf", id, e.Name(), id)
		}
		lf, err := rollback.ReadLostFile(filepath.Join(dir, rollback.LostDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("count the rollbacks of %s: %w", id, err)
		}
		rb := rolledOff{records: int(to - from + 1)}
		for i := range lf.Records {
			if r := &lf.Records[i]; r.Origin == id && r.Kind.IsOwn() {
				rb.own++
			}
		}
		out[epoch] = rb
	}
	return out, nil
}
