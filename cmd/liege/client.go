package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/server"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/urfave/cli/v2"
)

// The client commands talk to a running `liege serve` over its HTTP API
// (docs/http-api.md) through package client.

// connFlags are the flags that reach an instance: every client command
// takes them.
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: client.DefaultAddr, EnvVars: []string{"LIEGE_ADDR"},
			Usage: "the instance's `ADDR`, host:port or a URL (e.g. --addr 10.0.0.2:7070)"},
		&cli.StringFlag{Name: "token-file", EnvVars: []string{"LIEGE_TOKEN_FILE"},
			Usage: "`FILE` holding the bearer token of an instance started with --auth-token-file"},
		&cli.DurationFlag{Name: "timeout", Value: client.DefaultTimeout,
			Usage: "give up on an attempt that gets no answer within `DURATION`"},
	}
}

// jsonFlag is --json, for the commands that print an instance's answer.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the instance's JSON answer as it is"}
}

// clientFlags are the flags of the commands that call procedures and
// read keys: connFlags, --json, and the session token and retries those
// requests use.
func clientFlags() []cli.Flag {
	return append(connFlags(),
		&cli.StringFlag{Name: "min-token", EnvVars: []string{"LIEGE_MIN_TOKEN"},
			Usage: "session `TOKEN` of an earlier answer (e.g. A:18,B:4): the instance answers only once it has applied what it names"},
		jsonFlag(),
		&cli.IntFlag{Name: "retries", Value: client.DefaultRetries,
			Usage: "retry `N` times when the instance cannot be reached or answers 503 (a call is retried under one idempotency key, so it commits at most once)"},
	)
}

func callCommand() *cli.Command {
	return &cli.Command{
		Name:      "call",
		Usage:     "call a procedure on a running instance",
		ArgsUsage: "PROC [ARGS-JSON]",
		UsageText: `liege call [flags] PROC [ARGS-JSON]
   liege call add '{"key":"ann","delta":5}'
   liege call --args-file args.json transfer
   echo '{"key":"ann"}' | liege call get -`,
		Description: `Calls procedure PROC of the application the instance serves with ARGS-JSON,
the arguments as a JSON object ('-' reads them from stdin; --args-file from
a file). Prints, for a call that committed,

  committed A/18 at 2026-11-21T16:18:02.123Z+3 (position 42): ok

and for one that wrote nothing, "read-only: RESULT". The session token of
the answer goes to stderr: pass it as --min-token to a later command, at
either instance, to read what this call wrote.

A call is sent with an Idempotency-Key, so when the instance cannot be
reached or answers 503 it is retried without committing twice.`,
		Flags: append(clientFlags(),
			&cli.StringFlag{Name: "args-file", Usage: "read ARGS-JSON from `FILE` ('-' for stdin)"},
			&cli.StringFlag{Name: "idempotency-key", Usage: "send `KEY` as the Idempotency-Key instead of a random one: running the command again with the same key commits at most once"},
		),
		Action: runCall,
	}
}

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "read one key of a running instance",
		ArgsUsage: "KEY-JSON",
		UsageText: `liege get [flags] KEY-JSON
   liege get '["kv","ann"]'`,
		Description: `Reads the key KEY-JSON, a tuple written as a JSON array of strings and
integers, and prints it with its value (as JSON) and version.`,
		Flags:  clientFlags(),
		Action: runGet,
	}
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:      "keys",
		Usage:     "list the keys of a running instance under a prefix",
		ArgsUsage: "[PREFIX-JSON]",
		UsageText: `liege keys [flags] [PREFIX-JSON]
   liege keys '["kv"]'
   liege keys --limit 10`,
		Description: `Lists the keys having the tuple prefix PREFIX-JSON (a JSON array; every key
without one), in order, with their values, at most --limit of them.`,
		Flags: append(clientFlags(),
			&cli.IntFlag{Name: "limit", Usage: "list at most `N` keys", DefaultText: "the instance's, 1000"},
		),
		Action: runKeys,
	}
}

func txnCommand() *cli.Command {
	return &cli.Command{
		Name:      "txn",
		Usage:     "report what a running instance knows of a transaction",
		ArgsUsage: "TXID",
		UsageText: `liege txn [flags] TXID
   liege txn A/17`,
		Description: `Reports transaction TXID (origin/oseq, as "liege call" prints it): committed,
rolled back here and pending reconciliation, reprocessed by the liege with
the same result, corrected by the liege, or unknown.`,
		Flags:  clientFlags(),
		Action: runTxn,
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "print the status of a running instance",
		UsageText: "liege status [flags]",
		Description: `Prints the instance's id, role, application, journal positions, watermarks,
lag and build versions, and for a replicated instance its link: connected or
down, the peer with its role and epoch, the lag each way, whether the link is
idle, the vassal transaction being discarded, why the last connection was
refused, and how many rolled-off transactions await reconciliation. --json
prints the instance's answer as it is (docs/http-api.md, GET /status).`,
		Flags:  append(connFlags(), jsonFlag()),
		Action: runStatus,
	}
}

// session is what a client command works with.
type session struct {
	c         *cli.Context
	cl        *client.Client
	addr      string
	tokenFile string
	out, errw io.Writer
}

// newSession builds the client from the common flags, checking that the
// command got between min and max arguments (max < 0: no limit).
func newSession(c *cli.Context, min, max int) (*session, error) {
	if err := checkArgs(c, min, max); err != nil {
		return nil, err
	}
	s := &session{c: c, addr: c.String("addr"), tokenFile: c.String("token-file"), out: c.App.Writer, errw: c.App.ErrWriter}
	if s.out == nil {
		s.out = os.Stdout
	}
	if s.errw == nil {
		s.errw = os.Stderr
	}
	opts := []client.Option{client.WithTimeout(c.Duration("timeout"))}
	if defines(c, "retries") {
		opts = append(opts, client.WithRetries(c.Int("retries")))
	}
	if s.tokenFile != "" {
		b, err := os.ReadFile(s.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read the bearer token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("the token file %s is empty", s.tokenFile)
		}
		opts = append(opts, client.WithToken(tok))
	}
	s.cl = client.New(s.addr, opts...)
	if defines(c, "min-token") {
		if err := s.cl.SetToken(c.String("min-token")); err != nil {
			return nil, fmt.Errorf("--min-token: %w", err)
		}
	}
	return s, nil
}

// defines reports whether the running command has the flag name: the
// commands take only the flags they use, and a flag they lack reads as
// its zero value, not as its default.
func defines(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// checkArgs checks the number of arguments. Flags written after them
// were moved before them by run (package cliargs).
func checkArgs(c *cli.Context, min, max int) error {
	args := c.Args().Slice()
	if len(args) < min || (max >= 0 && len(args) > max) {
		return fmt.Errorf("%d arguments given; usage: %s", len(args), strings.SplitN(c.Command.UsageText, "\n", 2)[0])
	}
	return nil
}

// explain turns a client error into one that says what to do.
func (s *session) explain(err error) error {
	if err == nil {
		return nil
	}
	var ce *client.ConnError
	if errors.As(err, &ce) {
		var dns *net.DNSError
		switch {
		case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns):
			return fmt.Errorf("no liege instance at %s: start one with `liege serve --dir DIR --id A --app kv` or pass --addr (or set LIEGE_ADDR) (%v)", s.addr, ce.Err)
		case ce.Timeout():
			return fmt.Errorf("the liege instance at %s did not answer within %v (--timeout), %d attempts: it may be overloaded or stuck; see its log and `liege status`", s.addr, s.c.Duration("timeout"), ce.Attempts)
		default:
			return fmt.Errorf("lost the connection to the liege instance at %s (%d attempts): %v", s.addr, ce.Attempts, ce.Err)
		}
	}
	var e *client.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case client.CodeUnauthorized:
		if s.tokenFile == "" {
			return fmt.Errorf("the instance at %s requires a bearer token: pass --token-file FILE with the token of its --auth-token-file (%s)", s.addr, e.Message)
		}
		return fmt.Errorf("the instance at %s refused the bearer token in %s: %s", s.addr, s.tokenFile, e.Message)
	case client.CodeProcedureError:
		return fmt.Errorf("the procedure failed and nothing was committed: %s", e.Message)
	case client.CodeNotCaughtUp:
		return fmt.Errorf("%s (the session token came from --min-token or LIEGE_MIN_TOKEN)", e.Message)
	case "":
		return fmt.Errorf("%s answered HTTP %d %s, not the liege API: is --addr the instance's address? (%s)", s.addr, e.Status, http.StatusText(e.Status), e.Message)
	}
	return fmt.Errorf("%s (%s)", e.Message, e.Code)
}

// printToken reports the session token of an answer on stderr.
func (s *session) printToken(tok string) {
	if tok != "" {
		fmt.Fprintf(s.errw, "session token: %s\n", tok)
	}
}

// printRaw prints an answer's JSON as received.
func (s *session) printRaw(raw []byte) error {
	_, err := fmt.Fprintf(s.out, "%s\n", bytes.TrimSpace(raw))
	return err
}

func runCall(c *cli.Context) error {
	s, err := newSession(c, 1, 2)
	if err != nil {
		return err
	}
	proc := c.Args().Get(0)
	args, err := s.callArgs()
	if err != nil {
		return err
	}
	var o client.CallOptions
	o.IdempotencyKey = c.String("idempotency-key")
	res, err := s.cl.CallWith(c.Context, proc, args, nil, o)
	if err != nil {
		return s.explain(err)
	}
	if c.Bool("json") {
		return s.printRaw(res.Raw)
	}
	if res.ReadOnly {
		_, err = fmt.Fprintf(s.out, "read-only: %s\n", showResult(res.Result))
	} else {
		_, err = fmt.Fprintf(s.out, "committed %s at %s (position %d): %s\n", res.TxID, res.HLCTime, res.Pos, showResult(res.Result))
	}
	s.printToken(res.Token)
	return err
}

// callArgs reads the call's arguments: the second argument, --args-file,
// or stdin for '-'. No arguments send none.
func (s *session) callArgs() (any, error) {
	c := s.c
	src, from := "", ""
	switch {
	case c.Args().Len() == 2 && c.IsSet("args-file"):
		return nil, errors.New("give the arguments either as ARGS-JSON or with --args-file, not both")
	case c.Args().Len() == 2:
		src, from = c.Args().Get(1), "ARGS-JSON"
	case c.IsSet("args-file"):
		src, from = "-", "--args-file "+c.String("args-file")
		if f := c.String("args-file"); f != "-" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read the arguments: %w", err)
			}
			src = string(b)
		}
	default:
		return nil, nil
	}
	if src == "-" {
		r := c.App.Reader
		if r == nil {
			r = os.Stdin
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("read the arguments from stdin: %w", err)
		}
		src, from = string(b), "the arguments on stdin"
	}
	src = strings.TrimSpace(src)
	if src == "" {
		return nil, fmt.Errorf("%s is empty: write the arguments as a JSON object, e.g. '{\"key\":\"ann\",\"delta\":5}'", from)
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(src))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (%v): write the arguments as a JSON object, e.g. '{\"key\":\"ann\",\"delta\":5}'", from, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s holds more than one JSON value: write the arguments as one JSON object", from)
	}
	return json.RawMessage(src), nil
}

// showResult formats a result for a person: a string as it is, anything
// else as compact JSON.
func showResult(r json.RawMessage) string {
	var str string
	if json.Unmarshal(r, &str) == nil {
		return str
	}
	var b bytes.Buffer
	if json.Compact(&b, r) != nil {
		return string(r)
	}
	return b.String()
}

// compactJSON formats a value as compact JSON.
func compactJSON(r json.RawMessage) string {
	var b bytes.Buffer
	if len(r) == 0 || json.Compact(&b, r) != nil {
		return string(r)
	}
	return b.String()
}

// parseKeyArg parses a key or prefix argument, a JSON array of strings and
// integers.
func parseKeyArg(what, s string) ([]any, error) {
	k, err := tuple.ParseJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s; write it as a JSON array of strings and integers, e.g. '[\"kv\",\"ann\"]'",
			what, s, strings.TrimPrefix(err.Error(), "tuple: "))
	}
	return tuple.ToJSONArray(k)
}

// showKey formats a key as compact JSON.
func showKey(k []any) string {
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Sprint(k)
	}
	return string(b)
}

func showVersion(v client.Version) string {
	return fmt.Sprintf("written at %s by %s", hlc.Timestamp(v.HLC), v.Origin)
}

func runGet(c *cli.Context) error {
	s, err := newSession(c, 1, 1)
	if err != nil {
		return err
	}
	key, err := parseKeyArg("KEY-JSON", c.Args().Get(0))
	if err != nil {
		return err
	}
	res, err := s.cl.Get(c.Context, key)
	if err != nil {
		return s.explain(err)
	}
	if c.Bool("json") {
		return s.printRaw(res.Raw)
	}
	if !res.Found {
		_, err = fmt.Fprintf(s.out, "%s: not found\n", showKey(key))
	} else {
		v := ""
		if res.Version != nil {
			v = " (" + showVersion(*res.Version) + ")"
		}
		_, err = fmt.Fprintf(s.out, "%s = %s%s\n", showKey(res.Key), compactJSON(res.Value), v)
	}
	s.printToken(res.Token)
	return err
}

func runKeys(c *cli.Context) error {
	s, err := newSession(c, 0, 1)
	if err != nil {
		return err
	}
	var prefix []any
	if c.Args().Len() == 1 {
		if prefix, err = parseKeyArg("PREFIX-JSON", c.Args().Get(0)); err != nil {
			return err
		}
	}
	if c.Int("limit") < 0 {
		return fmt.Errorf("--limit %d: want a positive number of keys", c.Int("limit"))
	}
	res, err := s.cl.Keys(c.Context, prefix, c.Int("limit"))
	if err != nil {
		return s.explain(err)
	}
	if c.Bool("json") {
		return s.printRaw(res.Raw)
	}
	// An answer holds at most 4 MiB: follow the pages up to --limit keys,
	// printing each as it comes.
	shown := 0
	for {
		for _, k := range res.Keys {
			if _, err := fmt.Fprintf(s.out, "%s = %s\n", showKey(k.Key), compactJSON(k.Value)); err != nil {
				return err
			}
		}
		shown += len(res.Keys)
		want := c.Int("limit")
		if want == 0 {
			want = server.DefaultLimit
		}
		if !res.Truncated || res.NextCursor == "" || shown >= want {
			break
		}
		if res, err = s.cl.KeysPage(c.Context, prefix, want-shown, res.NextCursor); err != nil {
			return s.explain(err)
		}
	}
	switch {
	case shown == 0:
		fmt.Fprintf(s.errw, "no keys with the prefix %s\n", showKey(prefix))
	case res.Truncated:
		fmt.Fprintf(s.errw, "%d keys shown; more remain: pass a larger --limit or a longer prefix\n", shown)
	}
	s.printToken(res.Token)
	return nil
}

func runTxn(c *cli.Context) error {
	s, err := newSession(c, 1, 1)
	if err != nil {
		return err
	}
	id := c.Args().Get(0)
	if _, err := journal.ParseTxID(id); err != nil {
		return err
	}
	res, err := s.cl.Txn(c.Context, id)
	if err != nil {
		return s.explain(err)
	}
	if c.Bool("json") {
		return s.printRaw(res.Raw)
	}
	_, err = fmt.Fprintln(s.out, describeTxn(res))
	return err
}

// describeTxn says in a sentence what the instance knows of a transaction.
func describeTxn(t *client.TxnResult) string {
	rec := fmt.Sprintf("%s record of %s at position %d", t.Kind, t.Proc, t.Pos)
	switch t.State {
	case client.StateCommitted:
		return fmt.Sprintf("%s: committed (%s): %s", t.TxID, rec, showResult(t.Result))
	case client.StateReprocessed:
		return fmt.Sprintf("%s: rolled back, then re-executed by the liege with the same result (%s): %s", t.TxID, rec, showResult(t.Result))
	case client.StateCorrected:
		return fmt.Sprintf("%s: rolled back, and re-executing it gave a different result, so the liege ran its correction (%s); the correction's result: %s", t.TxID, rec, showResult(t.Result))
	case client.StateRolledBack:
		lost := ""
		if t.LostFile != "" {
			lost = "; it is saved in " + t.LostFile
		}
		return fmt.Sprintf("%s: rolled back here, pending reconciliation at the liege%s", t.TxID, lost)
	case client.StateUnknown:
		return fmt.Sprintf("%s: unknown to this instance (not committed here, or not yet applied from the other instance)", t.TxID)
	}
	return fmt.Sprintf("%s: %s", t.TxID, t.State)
}

func runStatus(c *cli.Context) error {
	s, err := newSession(c, 0, 0)
	if err != nil {
		return err
	}
	st, err := s.cl.Status(c.Context)
	if err != nil {
		return s.explain(err)
	}
	if c.Bool("json") {
		b, err := json.Marshal(st.Raw)
		if err != nil {
			return err
		}
		return s.printRaw(b)
	}
	tw := tabwriter.NewWriter(s.out, 0, 8, 2, ' ', 0)
	for _, row := range statusRows(st) {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// statusRows are the lines of `liege status`: a name and a value each, the
// link's after the instance's.
func statusRows(st *client.Status) [][2]string {
	wm := client.Token(st.Watermarks).String()
	if wm == "" {
		wm = "none"
	}
	uptime := time.Duration(st.UptimeS * float64(time.Second)).Round(time.Second)
	rows := [][2]string{
		{"id", st.ID},
		{"role", st.Role},
		{"app", st.App},
		{"epoch", fmt.Sprint(st.Epoch)},
		{"last position", fmt.Sprint(st.LastPos)},
		{"durable position", fmt.Sprint(st.DurablePos)},
		{"own transactions (oseq)", fmt.Sprint(st.OSeq)},
		{"peer watermark", fmt.Sprint(st.PeerWatermark)},
		{"watermarks", wm},
		{"window", fmt.Sprint(st.Window)},
		{"lag", fmt.Sprintf("%s, %d ms", plural(int(st.Lag.Transactions), "transaction"), st.Lag.MS)},
		{"keys", fmt.Sprint(st.Keys)},
		{"uptime", uptime.String()},
	}
	if b := st.Build; b != nil {
		v := b.Module
		if b.Revision != "" {
			v += " " + b.Revision
			if b.Modified {
				v += " (modified)"
			}
		}
		rows = append(rows, [2]string{"version", fmt.Sprintf("%s, journal format %d, protocol %d", v, b.JournalFormat, b.Protocol)})
	}
	rows = append(rows, linkRows(st.Link)...)
	return append(rows, routeRows(st.Routes)...)
}

// linkRows are the link's lines of `liege status`, the fields of /status's
// link (docs/http-api.md) in words.
func linkRows(l *client.Link) [][2]string {
	if l == nil {
		return [][2]string{{"link", "none: a lone instance (started without --peer)"}}
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	link := "down"
	if l.Connected {
		link = "connected"
	}
	peer := "not known yet (never connected)"
	if l.Peer != "" {
		peer = fmt.Sprintf("%s, %s, epoch %d", l.Peer, l.PeerRole, l.PeerEpoch)
	}
	discarding, refused := "nothing", "no"
	if l.Discarding != "" {
		discarding = l.Discarding + " (a vassal transaction rejected here, awaiting its rollback)"
	}
	if l.Refused != "" {
		refused = l.Refused
	}
	idle := yesNo(l.Idle)
	if l.Idle {
		idle += " (connected, both streams caught up, nothing pending)"
	}
	return [][2]string{
		{"link", link},
		{"peer", peer},
		{"lag in", plural(int(l.LagIn), "transaction") + " of the peer's not yet applied here"},
		{"lag out", plural(int(l.LagOut), "transaction") + " not yet reported applied by the peer"},
		{"idle", idle},
		{"discarding", discarding},
		{"refused", refused},
		{"reconciliation pending", plural(l.ReconPending, "rolled-off transaction") + " not yet back from the liege"},
		{"reconnects", fmt.Sprint(l.Reconnects)},
	}
}

// routeRows are the procedures' routes in `liege status` (DESIGN.md section
// 13): one line each, "route PROC".
func routeRows(rs []client.Route) [][2]string {
	var rows [][2]string
	for _, r := range rs {
		v := r.Route
		switch r.Route {
		case "auto":
			now := "commits here"
			switch {
			case r.Forwarding:
				now = "forwards to the liege"
			case r.PrefixesForwarding > 0:
				now = fmt.Sprintf("forwards %d of %d key prefixes to the liege", r.PrefixesForwarding, r.Prefixes)
			}
			v = fmt.Sprintf("auto, conflict rate %.3f, %s now", r.ConflictRate, now)
		case "liege":
			if r.Available {
				v = "liege (commits here while the link is down)"
			} else {
				v = "liege (refused while the link is down)"
			}
		}
		rows = append(rows, [2]string{"route " + r.Proc, v})
	}
	return rows
}
