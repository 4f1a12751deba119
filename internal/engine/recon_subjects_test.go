package engine

import (
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
)

// A subject pending in two reconciliation logs (B's own B/1 in one, the
// liege's rolled-off reprocess of it in a later one, reconcile.Build)
// counts once, and coming back resolves it in both: neither log is left
// waiting for it forever.
func TestReconSubjectInTwoLogs(t *testing.T) {
	own := journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: 1}
	other := journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: 2}
	re := journal.Record{Kind: journal.KindPeer, Origin: "A", OSeq: 5, Subject: own.TxID()}
	in := &Instance{recon: []*reconcile.Log{
		{Instance: "B", Epoch: 1, Entries: []reconcile.Entry{{Record: own}}},
		{Instance: "B", Epoch: 2, Entries: []reconcile.Entry{{Record: other}, {Record: re}}},
	}}
	in.countRecon()
	if in.reconPending != 2 {
		t.Fatalf("pending %d, want 2 subjects (B/1 and B/2)", in.reconPending)
	}
	in.resolveRecon(own.TxID())
	if in.reconPending != 1 {
		t.Fatalf("pending %d after B/1 came back, want 1 (B/2)", in.reconPending)
	}
	if len(in.recon) != 1 || in.recon[0].Epoch != 2 || in.recon[0].PendingCount() != 1 {
		t.Fatalf("logs left: %d, want the one of epoch 2 with B/2 alone pending", len(in.recon))
	}
	if len(in.reconComplete) != 1 || in.reconComplete[0].log.Epoch != 1 {
		t.Fatalf("complete logs: %d, want the one of epoch 1", len(in.reconComplete))
	}
}
