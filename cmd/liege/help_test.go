package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// commandFlags lists, per command, the flags its code reads. A flag in a
// command's --help that is not in its list is one the command ignores,
// which misleads whoever reads the help; a command not listed here fails
// the test until it is added.
func commandFlags() map[string][]string {
	conn := []string{"addr", "token-file", "timeout"}
	client := append(slices.Clone(conn), "min-token", "json", "retries")
	with := func(base []string, more ...string) []string { return append(slices.Clone(base), more...) }
	m := map[string][]string{
		"bench": nil,
		"bench commit": {"callers", "txns", "dir", "keep", "value-size", "replay-records", "rollback-records",
			"memory-keys", "no-raw", "cold", "stall-timeout", "json", "check", "cpuprofile"},
		"bench replicate": {"callers", "duration", "warmup", "rate", "contention", "value-size", "dir", "keep", "json", "check",
			"cpuprofile", "memprofile", "trace", "log-level"},
		"bench http": {"clients", "modes", "calls", "engine-txns", "batch-calls", "batch-requests", "value-size", "dir", "keep", "cpuprofile", "memprofile",
			"stall-timeout", "json", "check"},
		"bench detect": {"sizes", "keys", "key-space", "range-fraction", "seed", "counters", "incoming", "duration", "cold-incoming", "json", "check"},
		"serve": {"dir", "id", "app", "http", "role", "peer-id", "peer", "listen-peer", "cluster", "tls-cert",
			"tls-key", "tls-ca", "plaintext-peer", "max-clock-offset", "merge", "route", "route-link-grace", "clock-skew", "max-frame",
			"await-peer", "auth-token-file", "max-wait", "shutdown-timeout", "log-format", "log-level", "config", "metrics-addr",
			"idempotency-keep", "checkpoint-every", "segment-size", "journal-keep", "side-keep"},
		"call":       with(client, "args-file", "idempotency-key"),
		"get":        client,
		"keys":       with(client, "limit"),
		"txn":        client,
		"status":     with(conn, "json"),
		"backup":     with(conn, "out"),
		"conflicts":  with(conn, "json", "since", "limit"),
		"promote":    with(conn, "force", "wait"),
		"switchover": with(conn, "peer-addr", "drain-timeout"),
		"demo":       {"duration", "seed", "app", "keep", "dir"},
		"inject": {"app", "duration", "rate", "contention", "seed", "faults", "merge", "route", "out", "max-clock-offset",
			"quiet", "sim", "seeds", "from", "steps", "workers", "break", "trace", "engine", "model", "json"},
		"ticketing":     nil,
		"atm":           nil,
		"cert":          nil,
		"cert ca":       {"dir", "days", "name", "force"},
		"cert instance": {"dir", "days", "ca-cert", "ca-key", "force"},
	}
	for _, sub := range []string{"create-event", "buy", "buy-best", "refund", "tickets", "availability", "queue", "resolve"} {
		m["ticketing "+sub] = client
	}
	for _, sub := range []string{"deposit", "withdraw", "transfer", "balance"} {
		m["atm "+sub] = client
	}
	m["atm open"] = with(client, "withdrawal-fee", "overdraft-fee")
	m["atm statement"] = with(client, "limit")
	return m
}

// helpFlagRe parses an option line of --help: its flag names up to the
// two spaces before the usage.
var helpFlagRe = regexp.MustCompile(`^\s+(-[^ ,]+(?:, -[^ ,]+)*)(?: [A-Z]+(?: \[ -[^ ]+ [A-Z]+ \])?| value)?\s{2,}(.*)$`)

// TestHelpShowsOnlyTheFlagsUsed walks every command's --help and checks
// that it lists exactly the flags the command reads, and that no flag
// states its default twice.
func TestHelpShowsOnlyTheFlagsUsed(t *testing.T) {
	want := commandFlags()
	seen := map[string]bool{}
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			p := append(slices.Clone(path), cmd.Name)
			name := strings.Join(p, " ")
			seen[name] = true
			flags, listed := want[name]
			if !listed {
				t.Errorf("liege %s is not in commandFlags: list the flags it reads", name)
			}
			out, _ := mustRun(t, "", append(p, "--help")...)
			_, opts, ok := strings.Cut(out, "\nOPTIONS:\n")
			if !ok {
				t.Errorf("liege %s --help has no OPTIONS:\n%s", name, out)
				continue
			}
			var got []string
			for _, line := range strings.Split(opts, "\n") {
				if strings.TrimSpace(line) == "" {
					continue
				}
				m := helpFlagRe.FindStringSubmatch(line)
				if m == nil {
					t.Errorf("liege %s --help: cannot parse the option line %q", name, line)
					continue
				}
				first := strings.TrimLeft(strings.SplitN(m[1], ",", 2)[0], "-")
				if first == "help" {
					continue
				}
				got = append(got, first)
				if n := defaultsStated(m[2]); n > 1 {
					t.Errorf("liege %s --help: --%s states its default %d times: %q", name, first, n, line)
				}
			}
			for _, f := range got {
				if !slices.Contains(flags, f) {
					t.Errorf("liege %s --help lists --%s, which the command does not read", name, f)
				}
			}
			if listed {
				for _, f := range flags {
					if !slices.Contains(got, f) {
						t.Errorf("liege %s --help lacks --%s", name, f)
					}
				}
			}
			walk(p, cmd.Subcommands)
		}
	}
	walk(nil, newApp().Commands)
	for name := range want {
		if !seen[name] {
			t.Errorf("commandFlags lists liege %s, which does not exist", name)
		}
	}
}

// defaultsStated counts the places a flag's usage states its default:
// "(default: ...)", "default ..." in the text, and "(0: ...)", which
// describes the zero default.
func defaultsStated(usage string) int {
	u := strings.ToLower(usage)
	return strings.Count(u, "default") + strings.Count(u, "(0: ")
}

func TestDefaultsStated(t *testing.T) {
	for usage, want := range map[string]int{
		`list at most N keys (default: the instance's, 1000)`:                      1,
		`list at most N keys (default: the instance's, 1000) (default: 0)`:         2,
		`cap at N calls per second (0: as fast as they go) (default: 0)`:           2,
		`path (the default) is the protocol (default: "path")`:                     2,
		`give up on an attempt that gets no answer within DURATION (default: 30s)`: 1,
		`FILE holding the bearer token`:                                            0,
	} {
		if got := defaultsStated(usage); got != want {
			t.Errorf("defaultsStated(%q) = %d, want %d", usage, got, want)
		}
	}
}
