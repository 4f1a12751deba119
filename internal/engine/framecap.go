package engine

import (
	"errors"
	"fmt"
	"math"

	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// This file refuses at commit a transaction the replication stream could
// never carry: its record travels to the peer in one link frame, and a
// frame over the link's limit (Config.MaxFrame, `liege serve
// --max-frame`) can never be sent, so the stream would stop there for
// good.

// ErrTxnTooLarge is a call's error (wrapped in a *TxnTooLargeError) when
// its transaction's record would not fit one replication frame: nothing
// was committed.
var ErrTxnTooLarge = errors.New("transaction too large for the replication stream")

// TxnTooLargeError says how large the transaction's frame would have been
// and the limit.
type TxnTooLargeError struct {
	Proc  string
	Size  int // bytes of the frame that would carry the transaction
	Limit int // the link's frame limit
	// AtLiege: the call was forwarded and the liege refused it, against
	// the liege's limit.
	AtLiege bool
}

func (e *TxnTooLargeError) Error() string {
	where := ""
	if e.AtLiege {
		where = " (forwarded: refused at the liege)"
	}
	return fmt.Sprintf("%v: the %s transaction would travel to the peer in a frame of %d bytes, over the limit of %d bytes (--max-frame)%s; "+
		"nothing was committed: write less in one transaction (split it, or keep large values outside liege), or raise --max-frame at both instances",
		ErrTxnTooLarge, e.Proc, e.Size, e.Limit, where)
}

func (e *TxnTooLargeError) Unwrap() error { return ErrTxnTooLarge }

// frameSlack is a bound on what a transaction's link frame adds to its
// journal frame when it cannot be measured (the codec refused the probe).
const frameSlack = 4096

// checkFrame refuses a local transaction whose journal frame of n bytes,
// in a link frame, would exceed Config.MaxFrame. Only a frame near the
// limit is measured.
func (in *Instance) checkFrame(proc string, n int) error {
	limit := in.cfg.MaxFrame
	if limit <= 0 || n+frameSlack <= limit {
		return nil
	}
	if size := n + in.frameOverhead(); size > limit {
		return &TxnTooLargeError{Proc: proc, Size: size, Limit: limit}
	}
	return nil
}

// frameOverhead measures what a Txn frame of this instance adds to the
// record it carries: a probe record of 64 KiB (a length of the same
// width as any record near the limit) and the largest counters.
func (in *Instance) frameOverhead() int {
	const probe = 1 << 16
	b, err := link.Encode(nil, &link.Frame{Kind: link.KindTxn, Cluster: in.cfg.Cluster, From: in.cfg.ID,
		Epoch: math.MaxUint64, Reign: math.MaxUint64, Prev: math.MaxUint64, Record: make([]byte, probe)})
	if err != nil {
		return frameSlack
	}
	return len(b) - 4 - probe // the link's length header is not in the limit
}

// frameBudget is the Node's FrameBudget for a link frame limit of
// maxFrame (Config.MaxFrame: 0 the default, negative none): what a frame
// of several records or a checkpoint chunk may carry and stay under the
// limit, with the frame's own fields in frameSlack. At most
// replicate.DefaultSeedChunk: larger frames only delay what follows them.
func frameBudget(maxFrame int) int {
	if maxFrame == 0 {
		maxFrame = link.DefaultMaxFrame
	}
	if maxFrame < 0 {
		return replicate.DefaultSeedChunk
	}
	return max(min(maxFrame-frameSlack, replicate.DefaultSeedChunk), 1)
}
