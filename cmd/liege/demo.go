package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/server"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/urfave/cli/v2"
)

const demoDescription = `Shows what Liege does, in under a minute, with nothing to set up:

  1. starts a liege (A) and a vassal (B) in this process, each with its own
     journal directory under a temporary directory, linked over loopback,
     each serving the HTTP API on a loopback port;
  2. runs an on-sale of the "gala" (ticketing) with buyers at both sites
     competing for the same good seats, and ATMs at both sites sharing
     accounts, all through the HTTP API;
  3. cuts the link for a while in the middle: both sites keep selling and
     dispensing on their own, and both sell the same seat;
  4. heals the link, and shows each conflict detected (which check, which
     keys, which transactions), each rollback of the vassal, each
     transaction the liege re-executed (reprocessed) or corrected, then the
     customer-service queue and the overdrawn accounts that resulted;
  5. ends with the proof, checked by the same oracle as the tests (DESIGN.md
     section 11): both state hashes, the path replayed, every acknowledged
     transaction accounted for exactly once, and each app's invariant.

It exits with status 0 only if every check holds. --keep leaves the two
directories for journalctl (journalctl inspect DIR/A).`

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:        "demo",
		Usage:       "watch two instances sell the same seat, detect it, roll back, correct, and converge",
		UsageText:   "liege demo [--duration 20s] [--seed N] [--app both|ticketing|atm] [--keep]",
		Description: demoDescription,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "duration", Value: 20 * time.Second, Usage: "run the load for `DURATION` (the link is cut for the middle third)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "`N`, the seed of the buyers' and ATMs' choices"},
			&cli.StringFlag{Name: "app", Value: "both", Usage: "`WORKLOAD`: both, ticketing or atm"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the instances' directories (printed) for journalctl"},
			&cli.StringFlag{Name: "dir", Usage: "put the instances under `DIR` instead of a new temporary directory (implies --keep)"},
		},
		Action: runDemo,
	}
}

// demoLog captures the engine's log lines that make the timeline, and
// writes every line to the demo's log file.
type demoLog struct {
	start time.Time
	file  slog.Handler
	out   io.Writer

	mu     sync.Mutex
	counts map[string]int
	seen   map[string]bool
}

func (d *demoLog) Enabled(context.Context, slog.Level) bool { return true }
func (d *demoLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &demoChild{d: d, attrs: as}
}
func (d *demoLog) WithGroup(string) slog.Handler { return d }
func (d *demoLog) Handle(ctx context.Context, r slog.Record) error {
	return (&demoChild{d: d}).Handle(ctx, r)
}

type demoChild struct {
	d     *demoLog
	attrs []slog.Attr
}

func (c *demoChild) Enabled(context.Context, slog.Level) bool { return true }
func (c *demoChild) WithAttrs(as []slog.Attr) slog.Handler {
	return &demoChild{d: c.d, attrs: append(append([]slog.Attr(nil), c.attrs...), as...)}
}
func (c *demoChild) WithGroup(string) slog.Handler { return c }
func (c *demoChild) Handle(ctx context.Context, r slog.Record) error {
	attrs := map[string]string{}
	for _, a := range c.attrs {
		attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	_ = c.d.file.WithAttrs(c.attrs).Handle(ctx, r)
	site := attrs["instance"]
	var text, kind string
	switch r.Message {
	case "conflict detected":
		kind = "conflict"
		text = fmt.Sprintf("conflict (%s check, %s) on %s: incoming %s vs own %s -> %s",
			attrs["check"], attrs["case"], attrs["key"], attrs["incoming"], attrs["own"], attrs["action"])
	case "rolled back":
		kind = "rollback"
		text = fmt.Sprintf("rolled back positions %s..%s (%s) to epoch %s; saved to %s", attrs["from"], attrs["to"], pluralText(attrs["records"], "record"), attrs["epoch"], filepath.Base(attrs["lost_file"]))
	case "reconciled: re-executed with the same result":
		kind = "reprocessed"
		text = fmt.Sprintf("reprocessed %s as %s (same result)", attrs["subject"], attrs["as"])
	case "reconciled: re-execution differed; correction committed":
		kind = "corrected"
		text = fmt.Sprintf("corrected %s with %s (re-execution differed)", attrs["subject"], attrs["as"])
	case "replication: connected":
		kind = "connected"
		text = "link up with " + attrs["peer"]
	default:
		return nil
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.counts[kind]++
	at := time.Since(c.d.start).Seconds()
	show := false
	switch kind {
	case "conflict":
		// One line per incoming transaction and site: the first own
		// transaction it conflicts with (the rest are counted).
		k := site + " " + attrs["incoming"]
		show = !c.d.seen[k]
		c.d.seen[k] = true
	case "rollback":
		show = true
	case "corrected":
		show = c.d.counts[kind] <= 6
		if c.d.counts[kind] == 7 {
			fmt.Fprintf(c.d.out, "  %5.1fs  %s  ... further corrections are counted in the summary\n", at, site)
		}
	}
	if show {
		fmt.Fprintf(c.d.out, "  %5.1fs  %s  %s\n", at, site, text)
	}
	return nil
}

func (d *demoLog) count(kind string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts[kind]
}

// demoSite is one instance of the demo.
type demoSite struct {
	id, dir, role string
	db            *liege.DB
	rep           *replicate.Replicator
	http          *http.Server
	url           string
	cl            *client.Client
	sold, cash    atomic.Int64
}

func runDemo(c *cli.Context) error {
	out := c.App.Writer
	dur := c.Duration("duration")
	if dur < 3*time.Second {
		return fmt.Errorf("--duration %v is too short: give at least 3s", dur)
	}
	app := c.String("app")
	if app != "both" && app != "ticketing" && app != "atm" {
		return fmt.Errorf("--app must be both, ticketing or atm, not %q", app)
	}
	root, keep := c.String("dir"), c.Bool("keep")
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "liege-demo-"); err != nil {
			return err
		}
	} else {
		keep = true
		if err := os.MkdirAll(root, 0o755); err != nil {
			return fmt.Errorf("--dir %s: %w", root, err)
		}
	}
	if !keep {
		defer os.RemoveAll(root)
	}
	f, err := os.Create(filepath.Join(root, "demo.log"))
	if err != nil {
		return err
	}
	defer f.Close()
	dl := &demoLog{start: time.Now(), file: slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}), out: out, counts: map[string]int{}, seen: map[string]bool{}}
	log := slog.New(dl)

	fmt.Fprintf(out, "Liege demo: a liege (A) and a vassal (B) under %s\n\n", root)
	sites := []*demoSite{{id: "A", role: liege.RoleLiege}, {id: "B", role: liege.RoleVassal}}
	defer func() {
		for _, s := range sites {
			s.close()
		}
	}()
	for i, s := range sites {
		s.dir = filepath.Join(root, s.id)
		peer := sites[1-i].id
		if s.db, err = liege.Open(liege.Options{Dir: s.dir, ID: s.id, PeerID: peer, Role: s.role, Logger: log}); err != nil {
			return err
		}
		if err := errors.Join(ticketing.Register(s.db), atm.Register(s.db)); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.url = "http://" + ln.Addr().String()
		s.http = &http.Server{Handler: server.New(s.db, server.Options{App: "ticketing+atm", Logger: log}).Handler(), ReadHeaderTimeout: 10 * time.Second}
		go s.http.Serve(ln)
		s.cl = client.New(s.url, client.WithRetries(0))
	}
	peerLn, err := link.ListenTCP("127.0.0.1:0", link.Config{Plaintext: true, Logger: log})
	if err != nil {
		return err
	}
	defer peerLn.Close()
	a, b := sites[0], sites[1]
	if a.rep, err = replicate.Start(replicate.Config{Host: a.db, Cluster: "demo", Listener: peerLn, Logger: log, Heartbeat: 20 * time.Millisecond}); err != nil {
		return err
	}
	startB := func() error {
		d, err := link.DialTCP(peerLn.Addr(), link.Config{Plaintext: true, Logger: log})
		if err != nil {
			return err
		}
		b.rep, err = replicate.Start(replicate.Config{Host: b.db, Cluster: "demo", Dialer: d, Logger: log, Heartbeat: 20 * time.Millisecond,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		return err
	}
	if err := startB(); err != nil {
		return err
	}
	fmt.Fprintf(out, "A (liege) serves %s, B (vassal) serves %s; peer link on %s\n", a.url, b.url, peerLn.Addr())

	ctx := c.Context
	idle := func(limit time.Duration) error {
		ictx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		for {
			if err := errors.Join(a.rep.WaitIdle(ictx), b.rep.WaitIdle(ictx)); err != nil {
				return err
			}
			if a.rep.Status().Idle() && b.rep.Status().Idle() {
				return nil
			}
		}
	}
	var ackMu sync.Mutex
	var acked []journal.TxID
	ack := func(r *client.CallResult) {
		if r == nil || r.TxID == "" {
			return
		}
		if id, err := journal.ParseTxID(r.TxID); err == nil {
			ackMu.Lock()
			acked = append(acked, id)
			ackMu.Unlock()
		}
	}
	call := func(s *demoSite, proc string, args, res any) error {
		r, err := s.cl.Call(ctx, proc, args, res)
		ack(r)
		return err
	}

	// Set-up on the liege, replicated before the load starts.
	doTickets, doATM := app != "atm", app != "ticketing"
	accounts := []string{"alice", "bob", "carol", "dave"}
	if doTickets {
		if err := call(a, "create_event", map[string]any{"event": "gala", "sections": []map[string]any{
			{"name": "A", "rows": 4, "seats_per_row": 10}, {"name": "B", "rows": 6, "seats_per_row": 12},
			{"name": "VIP", "rows": 1, "seats_per_row": 2}}}, nil); err != nil {
			return fmt.Errorf("create the gala: %w", err)
		}
	}
	if doATM {
		for _, acct := range append(accounts, "shared") {
			if err := call(a, "open_account", map[string]any{"account": acct, "opening": demoOpening,
				"fees": map[string]any{"withdrawal": 1, "overdraft": 15}}, nil); err != nil {
				return fmt.Errorf("open account %s: %w", acct, err)
			}
		}
	}
	if err := idle(30 * time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "set-up replicated: the gala on sale (sections A and B), accounts %s and shared with %s each\n\n", strings.Join(accounts, ", "), money(demoOpening))
	fmt.Fprintln(out, "timeline (t since start, site, what happened):")

	// The load: buyers and ATMs at both sites until the end.
	lctx, stopLoad := context.WithTimeout(ctx, dur)
	defer stopLoad()
	var wg sync.WaitGroup
	var errCount atomic.Int64
	for si, s := range sites {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func(s *demoSite, w int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(c.Uint64("seed"), uint64(si*10+w)))
				for n := 0; lctx.Err() == nil; n++ {
					customer := fmt.Sprintf("%s-buyer%d-%d", strings.ToLower(s.id), w, n)
					var err error
					switch pick := rng.IntN(10); {
					case doTickets && (pick < 6 || !doATM):
						var p ticketing.Purchase
						if rng.IntN(3) == 0 {
							err = call(s, "buy", map[string]any{"event": "gala", "section": "A", "row": 1, "number": 1 + rng.IntN(10), "customer": customer}, &p)
						} else {
							err = call(s, "buy_best", map[string]any{"event": "gala", "section": []string{"A", "B"}[rng.IntN(2)], "customer": customer}, &p)
						}
						if err == nil && p.Outcome == ticketing.Sold {
							s.sold.Add(1)
						}
					default:
						acct := accounts[rng.IntN(len(accounts))]
						if rng.IntN(3) == 0 {
							err = call(s, "deposit", map[string]any{"account": acct, "amount": 10 + rng.IntN(30)}, nil)
						} else {
							var wd atm.Withdrawal
							err = call(s, "withdraw", map[string]any{"account": acct, "amount": 10 + rng.IntN(40)}, &wd)
							if err == nil && wd.Outcome == "dispensed" {
								s.cash.Add(wd.Amount)
							}
						}
					}
					if err != nil && lctx.Err() == nil {
						errCount.Add(1)
					}
					select {
					case <-time.After(time.Duration(30+rng.IntN(60)) * time.Millisecond):
					case <-lctx.Done():
					}
				}
			}(s, w)
		}
	}
	// Progress, the cut and the heal.
	cutAt, healAt := dur/3, 2*dur/3
	linkState := "up"
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	cut, healed := time.After(cutAt), time.After(healAt)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-cut:
			b.rep.Close()
			linkState = "CUT"
			fmt.Fprintf(out, "  %5.1fs  --  link cut: both sites keep selling and dispensing on their own\n", time.Since(dl.start).Seconds())
			if doTickets {
				// Both sites sell the best seat of the house to different
				// customers: the conflict the demo is about.
				var pa, pb ticketing.Purchase
				ea := call(a, "buy", map[string]any{"event": "gala", "section": "VIP", "row": 1, "number": 1, "customer": "ann-at-A"}, &pa)
				eb := call(b, "buy", map[string]any{"event": "gala", "section": "VIP", "row": 1, "number": 1, "customer": "ben-at-B"}, &pb)
				if ea == nil && eb == nil {
					fmt.Fprintf(out, "  %5.1fs  --  seat VIP row 1 number 1: A told ann %q, B told ben %q\n", time.Since(dl.start).Seconds(), pa.Outcome, pb.Outcome)
				}
			}
			if doATM {
				var wa, wb atm.Withdrawal
				ea := call(a, "withdraw", map[string]any{"account": "shared", "amount": 80}, &wa)
				eb := call(b, "withdraw", map[string]any{"account": "shared", "amount": 80}, &wb)
				if ea == nil && eb == nil {
					fmt.Fprintf(out, "  %5.1fs  --  account shared (%s): the ATM at A %s %s, the ATM at B %s %s\n", time.Since(dl.start).Seconds(), money(demoOpening), wa.Outcome, money(wa.Amount), wb.Outcome, money(wb.Amount))
				}
			}
		case <-healed:
			if err := startB(); err != nil {
				return err
			}
			linkState = "up"
			fmt.Fprintf(out, "  %5.1fs  --  link healed: the streams resume and each side checks what the other did\n", time.Since(dl.start).Seconds())
		case <-progress.C:
			fmt.Fprintf(os.Stderr, "  [%4.0fs] link %-4s | A sold %d, dispensed %s | B sold %d, dispensed %s | conflicts %d, rollbacks %d, reprocessed %d, corrected %d\n",
				time.Since(dl.start).Seconds(), linkState, a.sold.Load(), money(a.cash.Load()), b.sold.Load(), money(b.cash.Load()),
				dl.count("conflict"), dl.count("rollback"), dl.count("reprocessed"), dl.count("corrected"))
		case <-done:
			break loop
		}
	}
	fmt.Fprintf(out, "  %5.1fs  --  load stopped; waiting for both sides to go idle\n", time.Since(dl.start).Seconds())
	if err := idle(60 * time.Second); err != nil {
		return fmt.Errorf("the instances did not go idle: %w", err)
	}
	fmt.Fprintf(out, "\nsummary: %s detected, %s, %d reprocessed, %d corrected; %s refused or failed\n",
		plural(dl.count("conflict"), "conflict"), plural(dl.count("rollback"), "rollback"), dl.count("reprocessed"), dl.count("corrected"),
		plural(int(errCount.Load()), "call"))

	// What the customers and the bank are left with.
	if doTickets {
		var items []ticketing.Item
		if err := call(a, "queue", map[string]any{}, &items); err != nil {
			return err
		}
		fmt.Fprint(out, "\n"+formatQueue(items))
	}
	if doATM {
		fmt.Fprintln(out, "\naccounts:")
		for _, acct := range append(accounts, "shared") {
			var bal atm.Balance
			if err := call(a, "balance", map[string]any{"account": acct}, &bal); err != nil {
				return err
			}
			fmt.Fprintf(out, "  %-6s balance %6s  %s\n", acct, money(bal.Balance), bal.Status)
		}
	}

	// The proof: stop both, and check the oracle on their directories.
	for _, s := range sites {
		s.close()
	}
	return demoProof(out, a.dir, b.dir, acked, doTickets, doATM, keep, root)
}

func (s *demoSite) close() {
	if s.rep != nil {
		s.rep.Close()
		s.rep = nil
	}
	if s.http != nil {
		s.http.Close()
		s.http = nil
	}
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

// demoProof checks DESIGN.md section 11 on the two stopped directories and
// prints the proof.
func demoProof(out io.Writer, dirA, dirB string, acked []journal.TxID, doTickets, doATM, keep bool, root string) error {
	ia, err := oracle.Load(dirA)
	if err != nil {
		return err
	}
	ib, err := oracle.Load(dirB)
	if err != nil {
		return err
	}
	var appNotes []string
	if doATM {
		appNotes = append(appNotes, "atm: no negative balance without the overdrawn flag and its fee; money conserved")
	}
	if doTickets {
		appNotes = append(appNotes, "ticketing: no seat has two owners unless an action item in the queue names it")
	}
	invariant := func(st []oracle.Entry) []string {
		es := make([]liege.Entry, len(st))
		for i, e := range st {
			es[i] = liege.Entry{Key: e.Key, Value: e.Value, Version: e.Version}
		}
		var v []string
		if doTickets {
			v = append(v, ticketing.Check(only(es, "event", "free", "seat", "ticket", "customer", "queue"))...)
		}
		if doATM {
			v = append(v, atm.Check(only(es, "account", "balance", "log", "bank"))...)
		}
		return v
	}
	rep, cerr := oracle.Check(ia, ib, oracle.Options{Acked: acked, Invariant: invariant})
	fmt.Fprintln(out, "\nproof (DESIGN.md section 11, the oracle the tests use):")
	if rep != nil {
		fmt.Fprintf(out, "  state hash    A %x\n                B %x\n", rep.HashA[:12], rep.HashB[:12])
	}
	if cerr != nil {
		fmt.Fprintf(out, "  FAILED: %v\n", cerr)
		return cli.Exit("the instances did not converge", 1)
	}
	kinds := map[journal.Kind]int{}
	subjects := map[journal.TxID]journal.Kind{}
	for _, r := range ia.Records {
		if r.Kind.IsTxn() && !r.Subject.IsZero() {
			k := r.Kind
			if k == journal.KindPeer {
				k = r.OriginKind
			}
			subjects[r.Subject] = k
		}
	}
	for _, id := range acked {
		kinds[subjects[id]]++
	}
	fmt.Fprintf(out, "  identical     both instances hold the same %d transactions and the same %d keys, values and versions\n", rep.PathLength, rep.Keys)
	fmt.Fprintf(out, "  path          %d transactions replayed in (HLC, origin) order: every read saw what the path gives it\n", rep.PathLength)
	fmt.Fprintf(out, "  acknowledged  %d answered calls, each in the path exactly once: %d as themselves, %d reprocessed, %d corrected\n",
		len(acked), kinds[0], kinds[journal.KindReprocess], kinds[journal.KindCorrection])
	for _, n := range appNotes {
		fmt.Fprintf(out, "  invariant     %s: holds\n", n)
	}
	fmt.Fprintf(out, "  checks run    %s\n", strings.Join(rep.Checks, " "))
	if keep {
		fmt.Fprintf(out, "\nkept: %s (try: go run ./cmd/journalctl inspect %s)\n", root, filepath.Join(root, "B"))
	}
	fmt.Fprintln(out, "\nconverged: OK")
	return nil
}

// only returns the entries under the tuple prefixes (p) of the given
// names: each app's rule is over its own keys.
func only(es []liege.Entry, names ...string) []liege.Entry {
	var out []liege.Entry
	for _, e := range es {
		for _, n := range names {
			if bytes.HasPrefix(e.Key, liege.K(n)) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// demoOpening is what each demo account opens with.
const demoOpening = 100

// money formats an amount of the demo's accounts, whole euros: €100,
// -€77.
func money(n int64) string {
	if n < 0 {
		return "-€" + strconv.FormatInt(-n, 10)
	}
	return "€" + strconv.FormatInt(n, 10)
}

// pluralText is plural for a count logged as text; a count that is not a
// number is shown as it is.
func pluralText(n, noun string) string {
	if v, err := strconv.Atoi(n); err == nil {
		return plural(v, noun)
	}
	return n + " " + noun + "s"
}

// formatQueue formats the customer-service queue: one line per seat
// naming every owner of its items (a queue written before items were kept
// one per seat may hold several for a seat), and an item about no seat
// (an event created twice) with its note.
func formatQueue(items []ticketing.Item) string {
	type line struct {
		kind, seat, event string
		owners            []ticketing.Owner
		note              string
	}
	var lines []*line
	bySeat := map[[2]string]*line{}
	for _, it := range items {
		k := [2]string{it.Kind, it.Seat.String()}
		l := bySeat[k]
		if l == nil || len(it.Owners) == 0 {
			l = &line{kind: it.Kind, seat: it.Seat.String(), event: it.Seat.Event, note: it.Note}
			lines = append(lines, l)
			if len(it.Owners) > 0 {
				bySeat[k] = l
			}
		}
		for _, o := range it.Owners {
			if !slices.ContainsFunc(l.owners, func(p ticketing.Owner) bool { return p.Ticket == o.Ticket }) {
				l.owners = append(l.owners, o)
			}
		}
	}
	var b strings.Builder
	if len(lines) == 0 {
		b.WriteString("customer-service queue: empty\n")
		return b.String()
	}
	fmt.Fprintf(&b, "customer-service queue (%s):\n", plural(len(lines), "item"))
	for _, l := range lines {
		if len(l.owners) == 0 {
			fmt.Fprintf(&b, "  %s  event %s: %s\n", l.kind, l.event, l.note)
			continue
		}
		owners := make([]string, len(l.owners))
		for i, o := range l.owners {
			owners[i] = fmt.Sprintf("%s (ticket %s)", o.Customer, o.Ticket)
		}
		fmt.Fprintf(&b, "  %s  seat %s: %s\n", l.kind, l.seat, strings.Join(owners, ", "))
	}
	return b.String()
}
