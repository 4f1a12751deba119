// Package benchkit is Liege's benchmark workload and measurement code,
// shared by the Go benchmarks (bench_test.go) and `liege bench`.
//
// The workload is the "ticket-like transaction": procedure "ticket" reads
// one key that is absent (the seat, unique per call) and writes two values
// of about ValueSize bytes (the seat and the customer's claim on it). Its
// figures are measured against goals:
//
//   - commit: >= 150k txn/s with 256 callers, and >= 50% of the entries/s of
//     raw tidwall/wal appends of the same size with the same batching;
//   - replay (recovery): >= 1M records/s;
//   - rollback: >= 500k records/s;
//   - state memory: <= 2x the raw key and value bytes + 64 B per key.
package benchkit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/liege-db/liege"
)

// Goals of the figures measured here.
const (
	GoalCommitTxnPerSec   = 150_000 // with GoalCommitCallers callers
	GoalCommitCallers     = 256
	GoalCommitRawRatio    = 0.50 // engine txn/s over raw wal entries/s
	GoalReplayRecPerSec   = 1_000_000
	GoalRollbackRecPerSec = 500_000
	GoalMemoryRawFactor   = 2.0 // heap <= factor*raw + GoalMemoryPerKey*keys
	GoalMemoryPerKey      = 64
)

// ProcName is the name the ticket procedure is registered under.
const ProcName = "ticket"

// Ticket is the argument of the ticket procedure: sell Seat of Event to
// Customer.
type Ticket struct {
	Event    string
	Seat     int64
	Customer string
}

// ErrSeatTaken is returned by the ticket procedure for a seat already sold.
// The benchmark never sees it: seats are unique per call.
var ErrSeatTaken = errors.New("seat already sold")

// Result strings of the ticket procedure and its correction.
const (
	Sold     = "sold"
	Refunded = "refunded"
)

// SeatKey is ("seat", event, seat): the key the procedure reads and writes.
func SeatKey(event string, seat int64) liege.Key { return liege.K("seat", event, seat) }

// OwnerKey is ("owner", customer, seat): the customer's claim.
func OwnerKey(customer string, seat int64) liege.Key { return liege.K("owner", customer, seat) }

// RegisterTicket registers the ticket procedure on db (a DB or a Registry);
// the values it writes are valueSize bytes long (at least 1).
func RegisterTicket(db liege.Registrar, valueSize int) error {
	valueSize = max(valueSize, 1)
	return liege.Register(db, liege.Procedure[Ticket, string]{
		Name: ProcName,
		Run: func(tx *liege.Tx, a Ticket) (string, error) {
			seat := SeatKey(a.Event, a.Seat)
			if _, taken := tx.Get(seat); taken {
				return "", fmt.Errorf("%w: %s", ErrSeatTaken, seat)
			}
			tx.Set(seat, paddedValue(valueSize, "owner=", a.Customer))
			tx.Set(OwnerKey(a.Customer, a.Seat), paddedValue(valueSize, "event=", a.Event))
			return Sold, nil
		},
		Correct: func(tx *liege.Tx, a Ticket, original, reexecuted string) (any, error) {
			// Re-execution found the seat sold to someone else: withdraw
			// the customer's claim (the refund itself is the caller's).
			if original == Sold && reexecuted != Sold {
				tx.Delete(OwnerKey(a.Customer, a.Seat))
			}
			return Refunded, nil
		},
	})
}

const padding = "................................................................" +
	"................................................................"

// paddedValue returns prefix+s padded with dots to exactly n bytes (cut if
// longer), as a string: the procedure stores msgpack strings.
func paddedValue(n int, prefix, s string) string {
	var b strings.Builder
	b.Grow(n)
	b.WriteString(prefix[:min(len(prefix), n)])
	b.WriteString(s[:min(len(s), n-b.Len())])
	for b.Len() < n {
		b.WriteString(padding[:min(len(padding), n-b.Len())])
	}
	return b.String()
}

var events = [...]string{"gala", "opera", "derby", "final"}

// customers is a fixed pool of customer names, so the driver does not
// allocate one per call.
var customers = func() []string {
	c := make([]string, 4096)
	for i := range c {
		c[i] = "customer-" + strconv.Itoa(100000+i)
	}
	return c
}()

// TicketFor returns the arguments of call number seat: a unique seat, one
// of a few events, one of a few thousand customers.
func TicketFor(seat int64) Ticket {
	return Ticket{
		Event:    events[seat%int64(len(events))],
		Seat:     seat,
		Customer: customers[(seat*7919)%int64(len(customers))],
	}
}

// Workload holds the settings shared by the measurements. The zero value
// is usable: see Default.
type Workload struct {
	// ValueSize is the size of each of the two values a call writes
	// (default 100).
	ValueSize int
	// BuildCallers is the number of callers used to build journals for the
	// replay and rollback measurements (default 256).
	BuildCallers int
	// StallTimeout: a run in which no call completes for this long fails
	// with ErrStall after dumping the goroutines to Log (default 60s).
	StallTimeout time.Duration
	// Log receives progress lines and stall reports (nil: none).
	Log io.Writer
	// EngineLog receives the engine's log lines at Error level (nil:
	// discarded).
	EngineLog io.Writer
	// Start and Stop, if set, are called on the calling goroutine right
	// before and right after the measured section (benchmarks pass
	// b.ResetTimer and b.StopTimer).
	Start, Stop func()
}

// Default is the workload used by the package-level functions.
var Default = Workload{}

func (w Workload) withDefaults() Workload {
	if w.ValueSize <= 0 {
		w.ValueSize = 100
	}
	if w.BuildCallers <= 0 {
		w.BuildCallers = 256
	}
	if w.StallTimeout <= 0 {
		w.StallTimeout = 60 * time.Second
	}
	return w
}

func (w Workload) logf(format string, args ...any) {
	if w.Log != nil {
		fmt.Fprintf(w.Log, format+"\n", args...)
	}
}

func (w Workload) start() {
	if w.Start != nil {
		w.Start()
	}
}

func (w Workload) stop() {
	if w.Stop != nil {
		w.Stop()
	}
}

func (w Workload) options(dir string, reg liege.Options) liege.Options {
	out := io.Discard
	if w.EngineLog != nil {
		out = w.EngineLog
	}
	reg.Dir = dir
	reg.ID = "A"
	reg.CheckpointEvery = -1 // measure commit, replay and rollback, not checkpoints
	reg.Logger = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelError}))
	return reg
}

// open opens an instance for a measurement and registers the ticket
// procedure.
func (w Workload) open(dir string, opts liege.Options) (*liege.DB, error) {
	db, err := liege.Open(w.options(dir, opts))
	if err != nil {
		return nil, err
	}
	if err := RegisterTicket(db, w.ValueSize); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
