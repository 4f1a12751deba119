package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/hostinfo"
	"github.com/liege-db/liege/internal/server"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/urfave/cli/v2"
)

const serveDescription = `Opens the instance in --dir (recovering it from its checkpoint and journal)
and serves it over HTTP with the API of docs/http-api.md: procedure calls
(POST /v1/call/{proc}), reads (GET /v1/key, /v1/keys), transaction status
(GET /v1/txn/{txid}), /healthz, /status and /metrics.

Example:

  liege serve --dir /var/lib/liege/A --id A --app kv --http 127.0.0.1:7070
  curl -s -XPOST localhost:7070/v1/call/add -d '{"args": {"key": "alice", "delta": 5}}'

Every flag can also be set in the environment as LIEGE_<FLAG> (upper case,
dashes as underscores: LIEGE_DIR, LIEGE_MAX_WAIT ...) and in the --config
file. A flag on the command line wins over the environment, which wins over
the config file, which wins over the default.

The config file has one setting per line, "flag = value", with the flag's
name without dashes (max-wait or max_wait). Blank lines and lines starting
with # are ignored; a value may be written in double quotes. For example:

  # /etc/liege/A.conf
  dir = /var/lib/liege/A
  id = A
  app = kv
  http = 0.0.0.0:7070
  auth-token-file = /etc/liege/A.token
  log-format = json

On SIGINT or SIGTERM the server stops taking requests, finishes the ones in
flight (for at most --shutdown-timeout), then closes the instance, which
writes a checkpoint. A second signal stops it at once.`

func serveCommand() *cli.Command {
	env := func(flag string) []string {
		return []string{"LIEGE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	}
	return &cli.Command{
		Name:        "serve",
		Usage:       "serve an instance over HTTP",
		UsageText:   "liege serve --dir DIR --id ID [--app NAME] [--http ADDR] [options]",
		Description: serveDescription,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "dir", EnvVars: env("dir"),
				Usage: "the instance directory `DIR`, created if missing; one process at a time may hold it (e.g. --dir /var/lib/liege/A)"},
			&cli.StringFlag{Name: "id", EnvVars: env("id"),
				Usage: "instance `ID`, a short name written into a new journal and checked against an existing one (e.g. --id A)"},
			&cli.StringFlag{Name: "app", EnvVars: env("app"), Value: "kv",
				Usage: "the application `NAME` whose procedures to serve: " + strings.Join(apps.Names(), ", ") + " (e.g. --app kv)"},
			&cli.StringFlag{Name: "http", EnvVars: env("http"), Value: "127.0.0.1:7070",
				Usage: "host:port `ADDR` to listen on (e.g. --http 0.0.0.0:7070 for every interface)"},
			&cli.StringFlag{Name: "metrics-addr", EnvVars: env("metrics-addr"),
				Usage: "host:port `ADDR` of a second listener serving only GET /metrics, without the bearer token, for Prometheus; the API's /metrics (token required) stays (e.g. --metrics-addr 0.0.0.0:9470)"},
			&cli.StringFlag{Name: "role", EnvVars: env("role"),
				Usage: "this instance's `ROLE`, liege or vassal; required with --peer-id, and journaled: it overrides the role the journal last recorded (default liege for a lone instance; e.g. --role vassal)"},
			&cli.StringFlag{Name: "peer-id", EnvVars: env("peer-id"),
				Usage: "the other instance's `ID`; replicates with it over the link (--peer and/or --listen-peer) (e.g. --peer-id B)"},
			&cli.StringFlag{Name: "peer", EnvVars: env("peer"),
				Usage: "host:port `ADDR` of the peer's --listen-peer, dialed with reconnect and backoff (e.g. --peer 10.0.0.2:7071)"},
			&cli.StringFlag{Name: "listen-peer", EnvVars: env("listen-peer"),
				Usage: "host:port `ADDR` to accept the peer's link on (e.g. --listen-peer 0.0.0.0:7071); give one side --peer and the other --listen-peer"},
			&cli.StringFlag{Name: "cluster", EnvVars: env("cluster"), Value: "liege",
				Usage: "cluster `NAME` both instances must share; a peer of another cluster is refused (e.g. --cluster tickets-eu)"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: env("tls-cert"),
				Usage: "PEM certificate `FILE` for the peer link; its common name or a DNS name must be this instance's id; liege cert instance ID writes one (e.g. --tls-cert /etc/liege/A.crt)"},
			&cli.StringFlag{Name: "tls-key", EnvVars: env("tls-key"), Usage: "PEM private key `FILE` of --tls-cert"},
			&cli.StringFlag{Name: "tls-ca", EnvVars: env("tls-ca"),
				Usage: "PEM CA `FILE` the peer's certificate must chain to (mutual TLS: both sides present one)"},
			&cli.BoolFlag{Name: "plaintext-peer", EnvVars: env("plaintext-peer"),
				Usage: "run the peer link without TLS (loopback or a trusted network only); without it the TLS flags are required"},
			&cli.DurationFlag{Name: "max-clock-offset", EnvVars: env("max-clock-offset"), Value: 500 * time.Millisecond,
				Usage: "largest wall-clock difference `DURATION` with the peer; a peer beyond it is refused at the handshake (e.g. --max-clock-offset 250ms)"},
			&cli.StringFlag{Name: "merge", EnvVars: env("merge"), Value: liege.MergePath,
				Usage: "how peer transactions are merged, `MODE` path or lww. path is the protocol: conflict checks, rollback and reconciliation. " +
					"lww is a last-writer-wins baseline for comparing the protocol against (liege inject --merge lww): it drops the protocol's read checks and rollback, " +
					"keeps the newer write of each key by HLC, and loses data (concurrent writes, Adds, deletes); not for production. Both instances must use the same mode"},
			&cli.StringSliceFlag{Name: "route", EnvVars: env("route"),
				Usage: "route a procedure's calls, `ROUTE` as proc=route, repeatable: local (commit here), liege (a vassal forwards the call to the liege; with the link down it is refused with 503 and Retry-After, " +
					"or committed here with liege+available), auto (forward while the procedure's measured conflict rate is high; commit here while the link is down). " +
					"Where auto starts: a procedure the app declares collision-prone is auto by default and forwards from the start until its measured rate has stayed low; " +
					"one set auto here alone starts local and forwards once its rate is measured high. " +
					"A forwarded call waits up to --route-link-grace for a link that went down moments ago before it commits here or is refused. " +
					"Overrides the app's choice; e.g. --route buy=auto --route withdraw=liege (environment and config file: comma-separated, route = buy=auto,withdraw=liege)"},
			&cli.DurationFlag{Name: "route-link-grace", EnvVars: env("route-link-grace"), Value: liege.DefaultRouteLinkGrace,
				Usage: "how long (`DURATION`) a call whose route forwards waits for a link to the liege that went down moments ago (a restart, a reset, the re-handshake after a rollback) before it commits here or is refused; " +
					"0 commits or refuses at once. Committing here while this vassal has not caught up with the liege conflicts almost surely (e.g. --route-link-grace 3s)"},
			&cli.DurationFlag{Name: "clock-skew", EnvVars: env("clock-skew"),
				Usage: "for fault injection and testing only: shift this instance's physical clock by `DURATION`, which may be negative, both for the engine's timestamps and for the wall clock the replication handshake sends " +
					"(e.g. --clock-skew 2s, or --clock-skew=-2s); liege inject uses it to start an instance with a skewed clock"},
			&cli.IntFlag{Name: "max-frame", EnvVars: env("max-frame"), Value: link.DefaultMaxFrame,
				Usage: "largest link frame in `BYTES`, 64 KiB (65536) up to 1 GiB; a larger one closes the connection, and a call whose transaction would need one is refused (413 transaction_too_large); give both instances the same value"},
			&cli.BoolFlag{Name: "await-peer", EnvVars: env("await-peer"),
				Usage: "take no call until the first handshake with the peer (then, if the peer holds own transactions of this empty instance, until it is seeded from the peer's checkpoint): " +
					"calls get 503 unavailable saying why meanwhile. Start a site being rebuilt on an empty directory with it: before that handshake it cannot tell that the peer holds own OSeqs it must not assign again"},
			&cli.StringFlag{Name: "auth-token-file", EnvVars: env("auth-token-file"),
				Usage: "`FILE` holding the bearer token every endpoint but /healthz and /readyz requires; without it there is no authentication (e.g. --auth-token-file /etc/liege/A.token)"},
			&cli.DurationFlag{Name: "max-wait", EnvVars: env("max-wait"), Value: server.DefaultMaxWait,
				Usage: "longest `DURATION` a request may wait for its min_token, whatever its timeout_ms (e.g. --max-wait 10s)"},
			&cli.DurationFlag{Name: "idempotency-keep", EnvVars: env("idempotency-keep"), Value: liege.DefaultIdempotencyKeep,
				Usage: "how long (`DURATION`) an Idempotency-Key is kept after its call committed: a retry within it answers the first outcome, and the key used for another call is refused; at most the newest 100,000 keys are kept (e.g. --idempotency-keep 1h)"},
			&cli.DurationFlag{Name: "shutdown-timeout", EnvVars: env("shutdown-timeout"), Value: 30 * time.Second,
				Usage: "on SIGINT or SIGTERM, how long (`DURATION`) to let requests in flight finish before cutting them off (e.g. --shutdown-timeout 5s)"},
			&cli.StringFlag{Name: "log-format", EnvVars: env("log-format"), Value: "text",
				Usage: "log `FORMAT` on stderr, text or json (e.g. --log-format json)"},
			&cli.StringFlag{Name: "log-level", EnvVars: env("log-level"), Value: "info",
				Usage: "least `LEVEL` logged: debug (every request), info, warn or error (e.g. --log-level debug)"},
			&cli.StringFlag{Name: "config", EnvVars: env("config"),
				Usage: "`FILE` of \"flag = value\" lines setting any flag above; see the description (e.g. --config /etc/liege/A.conf)"},
		}, retainFlags(env)...),
		Action: runServe,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w (see liege serve --help)", err)
		},
	}
}

// serveSettings are the flags of liege serve, after the config file.
type serveSettings struct {
	dir, id, app, addr, role, tokenFile string
	metricsAddr                         string
	peerID, peer, listenPeer, cluster   string
	tlsCert, tlsKey, tlsCA              string
	plaintextPeer                       bool
	maxClockOffset                      time.Duration
	merge                               string
	routes                              []string
	routeLinkGrace                      time.Duration
	clockSkew                           time.Duration
	maxFrame                            int
	awaitPeer                           bool
	maxWait, shutdownTimeout            time.Duration
	idempotencyKeep                     time.Duration
	logger                              *slog.Logger
	retain                              retainSettings // retain_flags.go
}

func runServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q; flags go before any argument", c.Args().Slice())
	}
	if path := c.String("config"); path != "" {
		if err := applyConfig(c, path); err != nil {
			return err
		}
	}
	set, err := serveSettingsFrom(c)
	if err != nil {
		return err
	}
	return serve(set)
}

func serveSettingsFrom(c *cli.Context) (*serveSettings, error) {
	s := &serveSettings{
		dir: c.String("dir"), id: c.String("id"), app: c.String("app"), addr: c.String("http"),
		role: c.String("role"), tokenFile: c.String("auth-token-file"), metricsAddr: c.String("metrics-addr"),
		maxWait: c.Duration("max-wait"), shutdownTimeout: c.Duration("shutdown-timeout"), idempotencyKeep: c.Duration("idempotency-keep"),
		peerID: c.String("peer-id"), peer: c.String("peer"), listenPeer: c.String("listen-peer"), cluster: c.String("cluster"),
		tlsCert: c.String("tls-cert"), tlsKey: c.String("tls-key"), tlsCA: c.String("tls-ca"),
		plaintextPeer: c.Bool("plaintext-peer"), maxClockOffset: c.Duration("max-clock-offset"), maxFrame: c.Int("max-frame"),
		merge: c.String("merge"), clockSkew: c.Duration("clock-skew"), routes: c.StringSlice("route"),
		routeLinkGrace: c.Duration("route-link-grace"), awaitPeer: c.Bool("await-peer"),
	}
	if s.routeLinkGrace < 0 {
		return nil, fmt.Errorf("--route-link-grace %s: must be 0 (no wait) or more", s.routeLinkGrace)
	}
	if err := liege.ParseRoutes(s.routes); err != nil {
		return nil, fmt.Errorf("--route: %w", err)
	}
	if s.role == "" && s.peerID == "" {
		s.role = "liege"
	}
	tlsSet := s.tlsCert != "" || s.tlsKey != "" || s.tlsCA != ""
	switch {
	case s.peerID != "" && s.role == "":
		return nil, errors.New("--role is required with --peer-id: exactly one of the two instances is the liege (--role liege), the other the vassal (--role vassal)")
	case s.peerID != "" && s.peer == "" && s.listenPeer == "":
		return nil, errors.New("--peer-id needs --peer ADDR (dial the peer) or --listen-peer ADDR (accept it), e.g. --listen-peer 127.0.0.1:7071 on one side and --peer 127.0.0.1:7071 on the other")
	case s.peerID == "" && s.role == "vassal":
		return nil, errors.New("--role vassal needs --peer-id, --peer or --listen-peer: a vassal without its liege never hears of conflicts; start a lone instance without --role (it is its own liege)")
	case s.peerID == "" && s.awaitPeer:
		return nil, errors.New("--await-peer needs --peer-id: a lone instance has no peer to wait for")
	case s.peerID == "" && (s.peer != "" || s.listenPeer != ""):
		return nil, errors.New("--peer and --listen-peer need --peer-id, the other instance's id (e.g. --peer-id B)")
	case s.peerID != "" && !tlsSet && !s.plaintextPeer:
		return nil, errors.New("the peer link needs --tls-cert, --tls-key and --tls-ca (mutual TLS), or --plaintext-peer to run it without TLS on a trusted network")
	case tlsSet && (s.tlsCert == "" || s.tlsKey == "" || s.tlsCA == ""):
		return nil, errors.New("--tls-cert, --tls-key and --tls-ca go together: give all three")
	case tlsSet && s.plaintextPeer:
		return nil, errors.New("--plaintext-peer and the TLS flags exclude each other: choose one")
	case s.maxClockOffset <= 0:
		return nil, fmt.Errorf("--max-clock-offset must be positive, not %v", s.maxClockOffset)
	case s.peerID != "" && strings.TrimSpace(s.cluster) == "":
		return nil, errors.New("--cluster is empty: both instances must name the same cluster (the default is liege)")
	}
	switch {
	case s.dir == "":
		return nil, errors.New("--dir is required: the instance directory, e.g. --dir /var/lib/liege/A (or LIEGE_DIR, or dir = ... in --config)")
	case s.id == "":
		return nil, errors.New("--id is required: the instance id, e.g. --id A (or LIEGE_ID, or id = ... in --config)")
	case s.role != "liege" && s.role != "vassal":
		return nil, fmt.Errorf("--role must be liege or vassal, not %q", s.role)
	case s.maxWait <= 0:
		return nil, fmt.Errorf("--max-wait must be positive, not %v", s.maxWait)
	case s.shutdownTimeout <= 0:
		return nil, fmt.Errorf("--shutdown-timeout must be positive, not %v", s.shutdownTimeout)
	case s.idempotencyKeep <= 0:
		return nil, fmt.Errorf("--idempotency-keep must be positive, not %v (e.g. --idempotency-keep 24h)", s.idempotencyKeep)
	case s.merge != liege.MergePath && s.merge != liege.MergeLWW:
		return nil, fmt.Errorf("--merge must be %s (the protocol, the default) or %s (the last-writer-wins baseline), not %q", liege.MergePath, liege.MergeLWW, s.merge)
	}
	abs, err := filepath.Abs(s.dir)
	if err != nil {
		return nil, fmt.Errorf("--dir %s: %w", s.dir, err)
	}
	s.dir = abs
	if s.retain, err = retainSettingsFrom(c); err != nil {
		return nil, err
	}
	s.logger, err = newLogger(os.Stderr, c.String("log-format"), c.String("log-level"))
	return s, err
}

// newLogger returns the process's logger.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		opts.ReplaceAttr = durationString
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// durationString writes a duration as the text log does, "30s" or
// "1.5ms", where slog's JSON handler writes nanoseconds, a number a person
// has to divide and a log query has to know the unit of.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// applyConfig sets, from the config file at path, every flag that neither
// the command line nor the environment set.
func applyConfig(c *cli.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	settings, err := parseConfig(f, path)
	if err != nil {
		return err
	}
	var names []string
	for _, fl := range c.Command.Flags {
		if n := fl.Names()[0]; n != "config" && n != "help" {
			names = append(names, n)
		}
	}
	for _, s := range settings {
		if s.name == "config" {
			return fmt.Errorf("%s line %d: a config file cannot name another config file", path, s.line)
		}
		if !slices.Contains(names, s.name) {
			return fmt.Errorf("%s line %d: unknown setting %q; the settings are %s", path, s.line, s.name, strings.Join(names, ", "))
		}
		if c.IsSet(s.name) {
			continue // the command line or the environment wins
		}
		if err := c.Set(s.name, s.value); err != nil {
			return fmt.Errorf("%s line %d: %s = %q: %v", path, s.line, s.name, s.value, err)
		}
	}
	return nil
}

// configSetting is one "name = value" line of a config file.
type configSetting struct {
	name, value string
	line        int
}

// parseConfig reads "name = value" lines; # starts a comment line. Names
// are flag names, with _ read as -. A value may be double-quoted (Go
// syntax), for values with leading or trailing spaces.
func parseConfig(r io.Reader, path string) ([]configSetting, error) {
	var out []configSetting
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s line %d: want name = value, got %q", path, n, line)
		}
		name = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
		name = strings.TrimPrefix(strings.TrimPrefix(name, "-"), "-")
		value = strings.TrimSpace(value)
		if name == "" {
			return nil, fmt.Errorf("%s line %d: no setting name before '='", path, n)
		}
		if strings.HasPrefix(value, `"`) {
			v, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: malformed quoted value %s", path, n, value)
			}
			value = v
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s line %d: %s is already set on line %d", path, n, name, prev)
		}
		seen[name] = n
		out = append(out, configSetting{name: name, value: value, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// readAuthToken reads the bearer token from path.
func readAuthToken(path string, log *slog.Logger) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--auth-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", fmt.Errorf("--auth-token-file %s is empty: write the bearer token clients must send into it", path)
	case strings.ContainsAny(tok, " \t\r\n"):
		return "", fmt.Errorf("--auth-token-file %s holds whitespace inside the token: it must hold one token on one line", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the auth token file is readable by other users; chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
	}
	return tok, nil
}

// serve runs the server until SIGINT or SIGTERM.
func serve(s *serveSettings) error {
	log := s.logger
	// Catch SIGINT and SIGTERM from the start: one that arrives while the
	// instance recovers or connects to its peer stops it cleanly once it
	// is up, instead of killing it mid-start.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app, err := apps.Lookup(s.app)
	if err != nil {
		return fmt.Errorf("--app: %w", err)
	}
	var token string
	if s.tokenFile != "" {
		if token, err = readAuthToken(s.tokenFile, log); err != nil {
			return err
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(newGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := liege.Options{Dir: s.dir, ID: s.id, Logger: log, Registerer: reg, MaxClockOffset: s.maxClockOffset,
		Merge: s.merge, Now: s.now(), IdempotencyKeep: s.idempotencyKeep, Routes: s.routes, MaxFrame: s.maxFrame,
		RouteLinkGrace: routeLinkGrace(s.routeLinkGrace), AwaitPeer: s.awaitPeer}
	s.retain.apply(&opts)
	if s.clockSkew != 0 {
		log.Warn("fault injection: this instance's clock is skewed", "clock_skew", s.clockSkew)
	}
	if s.merge == liege.MergeLWW {
		log.Warn("merge lww: peer transactions are merged last-writer-wins, without the protocol's checks, rollback or reconciliation; " +
			"this baseline loses data and is not for production")
	}
	if s.peerID != "" {
		opts.PeerID, opts.Role = s.peerID, s.role
	}

	// Load the TLS files and bind both listeners before opening the
	// instance directory: a start that fails for a reason outside the
	// directory (a port in use, a missing certificate) leaves it as it
	// was, with no LOCK, no journal/ and no journaled role change. First,
	// without writing anything, say so if another process serves the
	// directory: it likely holds these ports too, and "in use by pid N"
	// is the better answer than "address already in use".
	if _, err := os.Stat(s.dir); err == nil {
		release, err := journal.CheckFree(s.dir)
		if err != nil {
			return fmt.Errorf("%w; stop that process or serve another --dir", err)
		}
		release()
	}
	var pl *peerLink
	if s.peerID != "" {
		if pl, err = openPeerLink(s); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return errors.Join(fmt.Errorf("--http %s: %w; stop the process using it or choose another --http", s.addr, err), pl.close())
	}
	var mln net.Listener
	if s.metricsAddr != "" {
		if mln, err = net.Listen("tcp", s.metricsAddr); err != nil {
			ln.Close()
			return errors.Join(fmt.Errorf("--metrics-addr %s: %w; stop the process using it or choose another --metrics-addr", s.metricsAddr, err), pl.close())
		}
	}
	closeListeners := func() {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
	}
	db, err := liege.Open(opts)
	if err != nil {
		closeListeners()
		pl.close()
		if errors.Is(err, journal.ErrInUse) {
			return fmt.Errorf("%w; stop that process or serve another --dir", err)
		}
		return fmt.Errorf("open instance %s in %s: %w", s.id, s.dir, err)
	}
	closeDB := func() error {
		if err := db.Close(); err != nil {
			return fmt.Errorf("close instance %s: %w", s.id, err)
		}
		return nil
	}
	if err := app.Register(db); err != nil {
		closeListeners()
		return errors.Join(fmt.Errorf("register the procedures of app %s: %w", app.Name, err), pl.close(), closeDB())
	}
	if err := db.CheckRoutes(); err != nil {
		closeListeners()
		return errors.Join(fmt.Errorf("app %s (procedures %s): %w", app.Name, strings.Join(db.Procedures(), ", "), err), pl.close(), closeDB())
	}
	if r := db.Recovery; r.Checkpoint != "" || r.Replayed > 0 || r.TornTail != "" {
		log.Info("recovered instance", "checkpoint", r.Checkpoint, "replayed", r.Replayed, "took", r.ReplayDuration)
	}
	if mode := hostinfo.THP(); mode != "" && !hostinfo.HeapGetsHugePages(mode) {
		log.Info("transparent huge pages are not 'always': the heap runs on 4 KiB pages, each faulted in on first touch (on a virtual machine 10-15% of the CPU per transaction; docs/operations.md, Memory: transparent huge pages)",
			"thp", mode)
	}

	var rep *replicate.Replicator
	if pl != nil {
		if rep, err = startReplication(s, db, reg, pl); err != nil {
			closeListeners()
			return errors.Join(err, pl.close(), closeDB())
		}
		inner := closeDB
		closeDB = func() error { return errors.Join(rep.Close(), inner()) }
	}
	// HTTPServer sets read, write and idle timeouts; the handler caps the
	// requests in flight.
	srv := server.New(db, server.Options{App: app.Name, AuthToken: token, MaxWait: s.maxWait,
		Logger: log, Registry: reg, Role: s.role, Replication: rep, Cluster: s.cluster}).HTTPServer(log)

	var msrv *http.Server
	if mln != nil {
		msrv = &http.Server{Handler: server.MetricsHandler(reg, log), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("the metrics listener stopped; /metrics is still served on --http", "addr", mln.Addr().String(), "error", err)
			}
		}()
		log.Info("serving metrics", "addr", "http://"+mln.Addr().String()+"/metrics")
	}
	// Log before serving: the first answer comes after the line that says
	// where it is served.
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "instance", s.id, "dir", s.dir, "app", app.Name,
		"role", s.role, "merge", s.merge, "auth", token != "", "pid", os.Getpid())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if msrv != nil {
		defer msrv.Close()
	}
	select {
	case err := <-served:
		return errors.Join(fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err), closeDB())
	case <-ctx.Done():
	}
	stop() // a second signal now ends the process at once
	log.Info("shutting down: finishing requests in flight", "timeout", s.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight after the shutdown timeout; cutting them off", "timeout", s.shutdownTimeout, "error", err)
		srv.Close()
	}
	<-served
	if err := closeDB(); err != nil {
		return err
	}
	log.Info("stopped", "instance", s.id)
	return nil
}

// now returns the physical clock of the instance and of its replication
// handshake: time.Now (nil) unless --clock-skew shifts it.
func (s *serveSettings) now() func() time.Time {
	if s.clockSkew == 0 {
		return nil
	}
	skew := s.clockSkew
	return func() time.Time { return time.Now().Add(skew) }
}

// peerLink is the peer link's listener and dialer (either may be nil),
// made before the instance is opened.
type peerLink struct {
	listener link.Listener
	dialer   link.Dialer
}

// openPeerLink loads the TLS files and binds --listen-peer.
func openPeerLink(s *serveSettings) (*peerLink, error) {
	cfg := link.Config{MaxFrame: s.maxFrame, Plaintext: s.plaintextPeer, ExpectPeerID: s.peerID, Logger: s.logger}
	if !s.plaintextPeer {
		var err error
		if cfg.TLS, err = link.TLSConfig(s.tlsCert, s.tlsKey, s.tlsCA, s.listenPeer != ""); err != nil {
			return nil, fmt.Errorf("peer link TLS (--tls-cert, --tls-key, --tls-ca): %w", err)
		}
	}
	pl := &peerLink{}
	if s.listenPeer != "" {
		l, err := link.ListenTCP(s.listenPeer, cfg)
		if err != nil {
			return nil, fmt.Errorf("--listen-peer %s: %w", s.listenPeer, err)
		}
		pl.listener = l
	}
	if s.peer != "" {
		d, err := link.DialTCP(s.peer, cfg)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("--peer %s: %w", s.peer, err), pl.close())
		}
		pl.dialer = d
	}
	return pl, nil
}

// close closes the listener of a link replication never took over; nil
// is a link that was not made.
func (pl *peerLink) close() error {
	if pl == nil || pl.listener == nil {
		return nil
	}
	return pl.listener.Close()
}

// startReplication starts replication over the peer link of liege serve.
// Once it succeeds the replicator owns the link.
func startReplication(s *serveSettings, db *liege.DB, reg prometheus.Registerer, pl *peerLink) (*replicate.Replicator, error) {
	rcfg := replicate.Config{Host: db, Cluster: s.cluster, Logger: s.logger, Registerer: reg,
		Listener: pl.listener, Dialer: pl.dialer}
	rep, err := replicate.Start(rcfg)
	if err != nil {
		return nil, err
	}
	s.logger.Info("replicating", "peer", s.peerID, "role", db.Role(), "dial", s.peer, "listen", s.listenPeer,
		"cluster", s.cluster, "tls", !s.plaintextPeer)
	return rep, nil
}

// routeLinkGrace maps --route-link-grace to Options.RouteLinkGrace, where
// zero means the default and a negative value no wait.
func routeLinkGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// newGoCollector is the Go collector with the runtime's scheduler and
// garbage collector metrics besides its defaults: how long goroutines
// waited to run once runnable (go_sched_latencies_seconds) and what the
// collector did (go_gc_*). Each instance's executor is one goroutine: a
// replication lag spike with long waits to run and a collection under
// way is the CPU's, not the link's (docs/operations.md).
func newGoCollector() prometheus.Collector {
	return collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler, collectors.MetricsGC))
}
