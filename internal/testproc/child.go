package testproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/liege-db/liege"
)

// EnvChild is the environment variable that makes a test binary run a child
// role (its value is a JSON Config) instead of its tests.
const EnvChild = "LIEGE_TEST_CHILD"

// EnvFailpoints is the failpoint package's environment variable.
const EnvFailpoints = "LIEGE_FAILPOINTS"

// Child roles.
const (
	// RoleCommit opens the instance and commits "pair" transactions from
	// Config.Workers goroutines with ids FirstID+1, FirstID+2 ..., printing
	// "ACK <id>" on stdout after each acknowledged call, until it is killed
	// (or has committed Limit, when it exits with ExitNotKilled).
	RoleCommit = "commit"
	// RoleRollback opens the instance and calls RollbackTo(Config.Target),
	// printing "DONE" and exiting with ExitNotKilled if it returns.
	RoleRollback = "rollback"
	// RoleOpen opens the instance (recovering it) and closes it, printing
	// "DONE" and exiting with ExitNotKilled: a crash failpoint armed in the
	// child fires during recovery.
	RoleOpen = "open"
)

// ExitNotKilled is the exit status of a child that ran to its end: a crash
// test expected it to be killed first.
const ExitNotKilled = 3

// Config tells a child what to do.
type Config struct {
	Role            string
	Dir             string
	ID              string
	CheckpointEvery int
	SegmentSize     int
	JournalKeep     int64 // liege.Options.JournalKeep (0: the default)
	// RoleCommit
	Workers int
	FirstID int64
	Limit   int64
	// Keyed sends each call with idempotency key PairKey(id).
	Keyed bool
	// RoleRollback
	Target uint64
}

// Options returns the liege.Options a child (and the parent that reopens
// its directory) uses.
func (c Config) Options() liege.Options {
	return liege.Options{
		Dir: c.Dir, ID: c.ID, CheckpointEvery: c.CheckpointEvery, SegmentSize: c.SegmentSize, JournalKeep: c.JournalKeep,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// Main runs the child role named by EnvChild, if set, and exits; otherwise
// it runs the tests. Call it from TestMain.
func Main(m *testing.M) {
	if spec := os.Getenv(EnvChild); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func runChild(spec string) int {
	var cfg Config
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "child: bad %s: %v\n", EnvChild, err)
		return 2
	}
	var err error
	switch cfg.Role {
	case RoleCommit:
		err = childCommit(cfg)
	case RoleRollback:
		err = childRollback(cfg)
	case RoleOpen:
		var db *liege.DB
		if db, err = openChild(cfg); err == nil {
			err = db.Close()
		}
		if err == nil {
			fmt.Println("DONE")
		}
	default:
		err = fmt.Errorf("unknown role %q", cfg.Role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", cfg.Role, err)
		return 1
	}
	return ExitNotKilled
}

func openChild(cfg Config) (*liege.DB, error) {
	db, err := liege.Open(cfg.Options())
	if err != nil {
		return nil, err
	}
	if err := Register(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func childCommit(cfg Config) error {
	db, err := openChild(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	var (
		next  atomic.Int64
		outMu sync.Mutex
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range max(cfg.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			line := make([]byte, 0, 32)
			for {
				n := next.Add(1)
				if cfg.Limit > 0 && n > cfg.Limit {
					return
				}
				id := cfg.FirstID + n
				var opts liege.CallOptions
				if cfg.Keyed {
					opts.IdempotencyKey = PairKey(id)
				}
				if _, err := db.CallWith(ctx, "pair", PairArgs{ID: id}, opts); err != nil {
					errMu.Lock()
					if first == nil {
						first = fmt.Errorf("call pair %d: %w", id, err)
					}
					errMu.Unlock()
					return
				}
				// One unbuffered write per line, after the call returned:
				// a line the parent reads was acknowledged before it was
				// written.
				line = strconv.AppendInt(append(line[:0], "ACK "...), id, 10)
				line = append(line, '\n')
				outMu.Lock()
				_, err := os.Stdout.Write(line)
				outMu.Unlock()
				if err != nil {
					return // the parent is gone
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	fmt.Println("DONE")
	return nil
}

func childRollback(cfg Config) error {
	db, err := openChild(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.RollbackTo(context.Background(), cfg.Target, "test"); err != nil {
		return err
	}
	fmt.Println("DONE")
	return nil
}

// Child is a running child process: the test binary in a child role.
type Child struct {
	t      testing.TB
	cmd    *exec.Cmd
	out    *bufio.Scanner
	stderr *syncBuffer
	waited bool
}

// syncBuffer is a bytes.Buffer safe for the exec package's copying
// goroutine and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start starts the test binary as a child in cfg's role, with the given
// failpoint spec (LIEGE_FAILPOINTS; empty for none). The child is killed
// at the end of the test if it is still running.
func Start(t testing.TB, cfg Config, failpoints string) *Child {
	t.Helper()
	spec, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	env := []string{EnvChild + "=" + string(spec)}
	if failpoints != "" {
		env = append(env, EnvFailpoints+"="+failpoints)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvChild+"=") && !strings.HasPrefix(kv, EnvFailpoints+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	c := &Child{t: t, cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewScanner(stdout)
	t.Cleanup(func() {
		if !c.waited {
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, stdout)
			_ = cmd.Wait()
		}
	})
	return c
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Line returns the child's next line of output; ok is false once its
// output ended (it exited or was killed).
func (c *Child) Line() (line string, ok bool) {
	if c.out.Scan() {
		return c.out.Text(), true
	}
	return "", false
}

// Kill sends SIGKILL to the child.
func (c *Child) Kill() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill child %d: %v", c.Pid(), err)
	}
}

// Stderr returns what the child wrote to its standard error so far.
func (c *Child) Stderr() string { return c.stderr.String() }

// Finish reads the rest of the child's output (every line it wrote before
// it died), waits for it to exit and returns those lines and how it ended.
// It fails the test if the child's race detector reported a race.
func (c *Child) Finish() (rest []string, ws syscall.WaitStatus) {
	c.t.Helper()
	for {
		l, ok := c.Line()
		if !ok {
			break
		}
		rest = append(rest, l)
	}
	if err := c.out.Err(); err != nil {
		c.t.Fatalf("read child output: %v", err)
	}
	err := c.cmd.Wait()
	c.waited = true
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("wait for child: %v", err)
	}
	if strings.Contains(c.Stderr(), "WARNING: DATA RACE") {
		c.t.Errorf("the child's race detector reported a race:\n%s", c.Stderr())
	}
	return rest, c.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// FinishKilled is Finish, failing the test unless the child died of
// SIGKILL.
func (c *Child) FinishKilled() []string {
	c.t.Helper()
	rest, ws := c.Finish()
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		c.t.Fatalf("child %d was not killed by SIGKILL (%v); its stderr:\n%s", c.Pid(), c.cmd.ProcessState, c.Stderr())
	}
	return rest
}

// PairKey is the idempotency key of pair id in a Keyed child.
func PairKey(id int64) string { return "pair-" + strconv.FormatInt(id, 10) }
