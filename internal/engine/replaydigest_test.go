package engine

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/liege-db/liege/journal"
)

// ReplayDigest describes everything Open rebuilds from the journal: the
// state (hash, keys, bytes), the counters, the TxID and transaction status
// indexes, the idempotency keys, the lost transactions and the protocol's
// status. Two Opens of one journal must give the same digest, whatever
// their Config.ReplayWorkers (replay_test.go).
func (in *Instance) ReplayDigest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "state %x keys %d bytes %d\n", in.st.Hash(), in.st.Len(), in.st.RawBytes())
	fmt.Fprintf(&b, "status %+v\n", in.Status())
	fmt.Fprintf(&b, "replayed %d since-checkpoint %d checkpoint-pos %d index-from %d\n",
		in.Recovery.Replayed, in.sinceCkpt, in.Recovery.CheckpointPos, in.indexFrom)
	fmt.Fprintf(&b, "index %v\nsubjects %v\n", in.index.byOrigin, in.index.subjects)
	x := in.txst
	fmt.Fprintf(&b, "txnstatus entries %v pending %v open %v mark %d pending-up-to %d\n", x.entries, x.pending, x.open, x.mark, x.pendingUpTo)
	fmt.Fprintf(&b, "idem %v ring %v next %d pending %v\n", in.idem.m, in.idem.ring, in.idem.next, in.idem.pending)
	lost := map[string]string{} // TxID to the lost file, relative to the directory
	in.lostTx.each(func(id journal.TxID, f string) {
		rel, err := filepath.Rel(in.cfg.Dir, f)
		if err != nil {
			rel = f
		}
		lost[id.String()] = rel
	})
	fmt.Fprintf(&b, "lost %v recon %d base-prev %d\n", lost, in.reconPending, in.ret.basePrev)
	return b.String()
}
