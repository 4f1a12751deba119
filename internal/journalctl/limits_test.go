package journalctl

import (
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
)

// vassalJournal is B's journal as a vassal of A: A's transactions at 5 and
// 7 say A had applied B's OSeqs up to 2 (B/2 at position 4).
func vassalJournal(role string) []journal.Record {
	local := func(oseq uint64) journal.Record {
		return journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: oseq}
	}
	peer := func(oseq, seen uint64) journal.Record {
		return journal.Record{Kind: journal.KindPeer, Origin: "A", OSeq: oseq, PeerSeen: seen}
	}
	return []journal.Record{
		{Kind: journal.KindOpen, Instance: "B"},
		{Kind: journal.KindRole, Role: role},
		local(1), local(2), peer(1, 1), local(3), peer(2, 2), local(4),
	}
}

func limitsOf(recs []journal.Record, to uint64) *rollbackLimits {
	l := &rollbackLimits{instance: "B"}
	for i := range recs {
		l.observe(uint64(i+1), to, &recs[i])
	}
	return l
}

func TestRollbackLimits(t *testing.T) {
	noLiege := vassalJournal("vassal")
	noLiege = append(noLiege[:4:4], noLiege[5], noLiege[7]) // B/1..B/4, no record of A
	for _, c := range []struct {
		name string
		recs []journal.Record
		to   uint64
		// want is a part of the note, or of the error if refused.
		want    string
		refused bool
	}{
		{"liege: refused", vassalJournal("liege"), 8, "the instance is the liege (role record at position 2), and a liege never rolls back, by hand either", true},
		{"vassal after what the liege applied", vassalJournal("vassal"), 5,
			`the liege had applied "B"'s own transactions up to OSeq 2 (its transaction at position 7 says so); none of them is rolled off`, false},
		{"vassal at the last own transaction", vassalJournal("vassal"), 8, "none of them is rolled off", false},
		{"vassal below what the liege applied", vassalJournal("vassal"), 4,
			"own transaction B/2 at position 4 would be rolled off; a vassal is rolled back only down to its first own transaction the liege has not applied", true},
		{"vassal far below: the lowest target named", vassalJournal("vassal"), 3,
			"own transaction B/1 at position 3 (and 1 more up to position 4) would be rolled off; a vassal is rolled back only down to its first own transaction the liege has not applied, since below it the liege's path already holds what would be removed (DESIGN.md section 3): roll back to --to 5 or later", true},
		{"vassal without a record of its liege: allowed, said", noLiege, 3,
			"its journal holds no transaction of its liege, so it cannot tell which of its own transactions the liege has applied", false},
		{"no role: a lone instance", append(vassalJournal("")[:1:1], vassalJournal("")[2:]...), 3, `no role is journaled: "B" is rolled back as a lone instance`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			note, err := limitsOf(c.recs, c.to).check("/d", c.to, uint64(len(c.recs)))
			got := note
			if err != nil {
				got = err.Error()
			}
			if (err != nil) != c.refused || !strings.Contains(got, c.want) {
				t.Fatalf("check(--to %d) = %q, %v; want refused=%v with %q", c.to, note, err, c.refused, c.want)
			}
		})
	}
}

// TestRollbackLimitsNothingAllowed: when the liege applied every own
// transaction in the journal, the refusal says that nothing may be rolled
// back rather than naming a target past the end.
func TestRollbackLimitsNothingAllowed(t *testing.T) {
	// A/3 at position 8 says A applied B/4, at position 9, the last.
	recs := vassalJournal("vassal")
	b4 := recs[7]
	recs = append(recs[:7], journal.Record{Kind: journal.KindPeer, Origin: "A", OSeq: 3, PeerSeen: 4}, b4)
	_, err := limitsOf(recs, 9).check("/d", 9, uint64(len(recs)))
	if err == nil || !strings.Contains(err.Error(), "nothing of this vassal may be rolled back") {
		t.Fatalf("check = %v; want a refusal saying nothing may be rolled back", err)
	}
}
