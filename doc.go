// Package liege is the front door of the Liege replicated transaction
// engine: open an instance, register procedures, run them.
//
//	db, err := liege.Open(liege.Options{Dir: "data/A", ID: "A"})
//	err = liege.Register(db, liege.Procedure[BuyArgs, string]{
//		Name:    "buy",
//		Run:     buy,
//		Correct: correctBuy,
//	})
//	res, err := db.Call(ctx, "buy", BuyArgs{Seat: 12, Customer: "ann"})
//
// A procedure runs against a Tx: Get, Next, Prev and Scan read the ordered
// state and record the read set (including keys whose absence mattered and
// the ranges proved empty); Set, Delete and Add write it and record before-
// and after-images. Calls run one at a time on an executor goroutine, so
// execution is serializable and journal order is commit order, and a caller
// is answered only once its record is durable: one fsync serves every
// transaction that arrived while the previous one ran (group commit).
//
// The journal is the source of truth: start-up loads the newest checkpoint
// and replays the journal after it, repairing a torn tail and finishing an
// interrupted rollback. See DESIGN.md for the protocol this engine
// implements and the packages journal and rollback for the on-disk formats.
package liege
