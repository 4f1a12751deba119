package replicate

import (
	"github.com/liege-db/liege/detect"
)

// caseOf names the row of DESIGN.md section 6's table a conflict is (the
// case label of liege_conflicts_total, and the conflict's log line), from
// the point of view of a (the liege's transaction) and b (the vassal's):
// in is the incoming peer transaction, h the window's hit on an own one,
// and ownIsLiege says which side this instance is.
func caseOf(h detect.Hit, in *detect.Txn, ownIsLiege bool) string {
	a, b := h.Own, in
	if !ownIsLiege {
		a, b = in, h.Own
	}
	if h.Check == detect.CheckUpdate {
		return "C3"
	}
	// A use (own before incoming) or mirror use: the writer is the one
	// clock-before the other.
	writer, reader := b, a
	if a.Before(b) {
		writer, reader = a, b
	}
	// A key inside a range the reader scanned is a phantom row (C5, C7)
	// whether or not the scan returned it: a scan also records the keys it
	// returned as point reads, and a delete of one of them is C7.
	pointRead := false
	for _, k := range reader.Reads {
		if string(k) == string(h.Key) {
			pointRead = true
		}
	}
	for i := range reader.Ranges {
		if reader.Ranges[i].Contains(h.Key) {
			pointRead = false
		}
	}
	isAdd := false
	for _, w := range writer.Writes {
		if string(w.Key) == string(h.Key) {
			isAdd = w.Add
		}
	}
	switch {
	case writer == b && !pointRead:
		return "C5"
	case writer == b:
		return "C1"
	case !pointRead:
		return "C7"
	case isAdd:
		return "C8"
	}
	return "C2"
}

// ConflictCases are the (check, case) pairs caseOf can produce: an update
// conflict is always C3; a use or mirror use is one of the other rows of
// DESIGN.md section 6. A metric counting conflicts by both can create
// their series up front.
func ConflictCases() [][2]string {
	out := [][2]string{{detect.CheckUpdate.String(), "C3"}}
	for _, c := range []detect.Check{detect.CheckUse, detect.CheckMirrorUse} {
		for _, cs := range []string{"C1", "C2", "C5", "C7", "C8"} {
			out = append(out, [2]string{c.String(), cs})
		}
	}
	return out
}
