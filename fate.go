package liege

import "github.com/liege-db/liege/internal/engine"

// fateStatus is TxnStatus for a transaction the journal does not hold (any
// more): the lost transaction file of a rolled-back one, or what the
// durable TxID index (internal/engine/txnstatus.go) says of one the
// journal's retention removed. A reprocessed or corrected transaction is
// reported so even while its lost transaction file is still there.
func fateStatus(st TxnStatus, fate, lost string) TxnStatus {
	switch fate {
	case engine.FateReprocessed:
		st.State = TxnReprocessed
	case engine.FateCorrected:
		st.State = TxnCorrected
	case engine.FateRolledBack:
		st.State, st.LostFile = TxnRolledBack, lost
	case engine.FateCommitted:
		if lost == "" {
			st.State = TxnCommitted
			break
		}
		fallthrough
	default:
		if lost != "" {
			st.State, st.LostFile = TxnRolledBack, lost
		}
	}
	return st
}
