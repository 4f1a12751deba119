package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/liege-db/liege/internal/hlc"
)

// DefaultIdempotencyKeep is how long an idempotency key is kept by default
// (Config.IdempotencyKeep).
const DefaultIdempotencyKeep = 24 * time.Hour

// ErrIdempotencyKeyReused is a call's error when its idempotency key was
// used, within the keep time, by a call of another procedure or with other
// arguments: a retry must repeat the first call exactly, and a new call
// needs a new key.
var ErrIdempotencyKeyReused = errors.New("idempotency key reused with another procedure or other arguments")

// idemLookup is the idempotency check of call c (which carries a key): the
// first call's outcome if the key is known and kept, an error if it was
// used for another call, or neither (hit false, err nil) if c is new. A key
// older than the keep time is forgotten here, so the call runs anew.
func (in *Instance) idemLookup(c *Call) (o idemOutcome, hit bool, err error) {
	o, ok := in.idem.get(c.IdempotencyKey)
	if !ok {
		return o, false, nil
	}
	if keep := in.cfg.IdempotencyKeep; keep > 0 {
		if age := in.cfg.Now().Sub(hlc.Timestamp(o.hlc).Physical()); age > keep {
			in.idem.forget(c.IdempotencyKey)
			return idemOutcome{}, false, nil
		}
	}
	if o.sum != in.idem.sum(c.Proc, c.ArgBytes) {
		return o, false, fmt.Errorf("%w: key %q was used by transaction %v, a call of another procedure or with other arguments than this %s call; "+
			"retry a call with exactly its first procedure and arguments, and give a new call a new key", ErrIdempotencyKeyReused, c.IdempotencyKey, o.txid, c.Proc)
	}
	return o, true, nil
}
