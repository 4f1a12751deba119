package inject

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// instance is one `liege serve` child process of a run, restarted from
// its journal whenever it dies.
type instance struct {
	id, role string
	dir      string
	http     string // host:port of its HTTP API
	args     []string
	bin      string
	logPath  string
	client   *http.Client

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd exits
	exitErr error
	armed   string // the failpoint spec of the running process
	skew    time.Duration
	starts  int
	kills   int
	// expectExit is set while the runner stops or kills the process
	// itself, so the exit is not reported as a crash.
	expectExit bool
}

// freePorts returns n distinct loopback ports nobody listens on now. It
// holds every listener until it has all n: one closed at once may be
// handed out again by the next (a run once started its liege with the same
// port for --http and --listen-peer).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// start starts the process with the failpoint spec failpoints ("" for
// none) and the clock skew skew, and waits until its HTTP API answers.
func (in *instance) start(ctx context.Context, failpoints string, skew time.Duration) error {
	in.mu.Lock()
	if in.cmd != nil {
		in.mu.Unlock()
		return fmt.Errorf("instance %s is already running", in.id)
	}
	args := append([]string{"serve"}, in.args...)
	if skew != 0 {
		args = append(args, "--clock-skew", skew.String())
	}
	cmd := exec.Command(in.bin, args...)
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		in.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "--- %s start %d: %s (failpoints %q)\n", time.Now().Format(time.RFC3339Nano), in.starts+1, strings.Join(args, " "), failpoints)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "LIEGE_FAILPOINTS="+failpoints)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		in.mu.Unlock()
		return fmt.Errorf("start instance %s (%s serve): %w", in.id, in.bin, err)
	}
	done := make(chan struct{})
	in.cmd, in.done, in.armed, in.skew, in.expectExit = cmd, done, failpoints, skew, false
	in.starts++
	in.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		in.mu.Lock()
		in.exitErr = err
		in.cmd = nil
		in.mu.Unlock()
		close(done)
	}()
	return in.waitReady(ctx, done)
}

// waitReady polls /status until it answers 200, the process exits, or 60 s
// pass.
func (in *instance) waitReady(ctx context.Context, done chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := in.status(ctx); err == nil {
			return nil
		}
		select {
		case <-done:
			if unexpected, sigkill := in.crashed(); !unexpected || (sigkill && in.armedFailpoints() != "") {
				// A scheduled kill, or an armed failpoint's own SIGKILL
				// (a rollback resumed at start-up), landed while it was
				// starting: a fault, not a failure to start.
				return fmt.Errorf("instance %s: %w (%v)", in.id, errDiedStarting, in.exitError())
			}
			return fmt.Errorf("instance %s exited while starting (%v); its log is %s", in.id, in.exitError(), in.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %s did not answer on %s within 60s; its log is %s", in.id, in.http, in.logPath)
		}
	}
}

// errDiedStarting is start's error when a fault (a scheduled kill, an armed
// failpoint) ended the process before it answered: the supervisor handles
// it like any other crash and starts the instance again.
var errDiedStarting = errors.New("killed by a fault while starting")

func (in *instance) armedFailpoints() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.armed
}

func (in *instance) exitError() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.exitErr
}

// running returns the done channel of the running process, nil if none.
func (in *instance) running() chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return nil
	}
	return in.done
}

// kill SIGKILLs the running process and waits for it to exit.
func (in *instance) kill() error {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	if cmd == nil {
		in.mu.Unlock()
		return fmt.Errorf("instance %s is not running", in.id)
	}
	in.expectExit = true
	in.kills++
	in.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	return nil
}

// stop asks the running process to shut down (SIGTERM) and waits up to
// timeout, then SIGKILLs it. It returns an error if it had to.
func (in *instance) stop(timeout time.Duration) error {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	if cmd == nil {
		in.mu.Unlock()
		return nil
	}
	in.expectExit = true
	in.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if err := in.exitError(); err != nil {
			return fmt.Errorf("instance %s exited with %v on SIGTERM; its log is %s", in.id, err, in.logPath)
		}
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("instance %s did not stop within %v of SIGTERM and was killed; its log is %s", in.id, timeout, in.logPath)
	}
}

// crashed reports whether the last exit was not the runner's doing, and
// whether it was a SIGKILL (a failpoint's crash).
func (in *instance) crashed() (unexpected, sigkill bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(in.exitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			sigkill = true
		}
	}
	return !in.expectExit, sigkill
}

// statusAnswer is what the runner reads of GET /status.
type statusAnswer struct {
	ID            string `json:"id"`
	Role          string `json:"role"`
	OSeq          uint64 `json:"oseq"`
	PeerWatermark uint64 `json:"peer_watermark"`
	Window        int    `json:"window"`
	Lag           struct {
		Transactions uint64 `json:"transactions"`
		MS           int64  `json:"ms"`
	} `json:"lag"`
	Link *struct {
		Connected    bool   `json:"connected"`
		LagIn        uint64 `json:"lag_in"`
		LagOut       uint64 `json:"lag_out"`
		ReconPending int    `json:"recon_pending"`
		Refused      string `json:"refused"`
		Discarding   string `json:"discarding"`
		Idle         bool   `json:"idle"`
	} `json:"link"`
}

// status reads GET /status.
func (in *instance) status(ctx context.Context) (*statusAnswer, error) {
	var st statusAnswer
	body, err := in.get(ctx, "/status")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("instance %s /status: %w", in.id, err)
	}
	return &st, nil
}

// get reads path from the instance's HTTP API with a short timeout.
func (in *instance) get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+in.http+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("instance %s GET %s: %s", in.id, path, resp.Status)
	}
	return b, nil
}
