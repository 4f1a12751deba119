// Package failpoint lets tests stop the engine at named points: a crash
// (SIGKILL of the process itself, so nothing is flushed or deferred) or an
// injected I/O error. Failpoints are armed by the LIEGE_FAILPOINTS
// environment variable ("name=crash,other=error", or "name=crash@3" to fire
// on the third hit) read once at start-up, or by Set from a test in the same
// process. Unarmed, a failpoint costs one atomic load.
package failpoint

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrInjected is returned by Inject for a failpoint armed with "error".
var ErrInjected = errors.New("injected failure")

type action struct {
	kind string // crash or error
	at   int64  // fire on this hit (1-based)
	hits atomic.Int64
}

var (
	armed   atomic.Bool
	mu      sync.RWMutex
	actions = map[string]*action{}
)

func init() {
	if spec := os.Getenv("LIEGE_FAILPOINTS"); spec != "" {
		if err := Parse(spec); err != nil {
			fmt.Fprintf(os.Stderr, "LIEGE_FAILPOINTS: %v\n", err)
			os.Exit(2)
		}
	}
}

// Parse arms the failpoints of a spec like "a=crash,b=error@2".
func Parse(spec string) error {
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, act, ok := strings.Cut(item, "=")
		if !ok {
			return fmt.Errorf("%q: want name=crash or name=error[@N]", item)
		}
		at := int64(1)
		if a, n, ok := strings.Cut(act, "@"); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v < 1 {
				return fmt.Errorf("%q: the hit count after @ must be a positive integer", item)
			}
			act, at = a, v
		}
		if act != "crash" && act != "error" {
			return fmt.Errorf("%q: unknown action %q (crash or error)", item, act)
		}
		Set(name, act, at)
	}
	return nil
}

// Set arms failpoint name to act ("crash" or "error") on hit number at.
func Set(name, act string, at int64) {
	mu.Lock()
	actions[name] = &action{kind: act, at: at}
	mu.Unlock()
	armed.Store(true)
}

// Reset disarms every failpoint.
func Reset() {
	mu.Lock()
	actions = map[string]*action{}
	mu.Unlock()
	armed.Store(false)
}

// Inject is placed at a named point in the code. It returns ErrInjected
// (wrapped with the name) when armed with "error", kills the process when
// armed with "crash", and otherwise returns nil.
func Inject(name string) error {
	if !armed.Load() {
		return nil
	}
	mu.RLock()
	a := actions[name]
	mu.RUnlock()
	if a == nil || a.hits.Add(1) != a.at {
		return nil
	}
	if a.kind == "crash" {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	return fmt.Errorf("%s: %w", name, ErrInjected)
}

// Hits returns how many times the armed failpoint name was reached (0 if
// it is not armed), so that a test can tell whether it fired.
func Hits(name string) int64 {
	mu.RLock()
	defer mu.RUnlock()
	if a := actions[name]; a != nil {
		return a.hits.Load()
	}
	return 0
}
