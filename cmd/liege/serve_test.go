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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// liegeBin is the liege binary TestMain builds for the tests that run it.
var liegeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "liege-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	liegeBin = filepath.Join(dir, "liege")
	if out, err := exec.Command("go", "build", "-o", liegeBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build liege: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output while it runs.
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

// served is a running `liege serve`.
type served struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	output *syncBuffer
	exited chan struct{}
	err    error // Wait's error, once exited is closed
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServe runs `liege serve args... --http 127.0.0.1:PORT` with extra
// environment variables and waits until /healthz answers. The port is
// picked free; if another process takes it first, it tries another.
func startServe(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		s := launch(t, env, append(append([]string{"serve"}, args...), "--http", addr)...)
		s.url = "http://" + addr
		err := s.waitReady(30 * time.Second)
		if err == nil {
			return s
		}
		if attempt < 5 && strings.Contains(s.output.String(), "address already in use") {
			continue
		}
		t.Fatalf("liege serve did not become ready: %v\n%s", err, s.output)
	}
}

// launch starts the liege binary; the test's cleanup kills it if it still
// runs.
func launch(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	s := &served{t: t, cmd: exec.Command(liegeBin, args...), output: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd.Env = append(cleanEnv(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("liege %s output:\n%s", strings.Join(args, " "), s.output)
		}
	})
	return s
}

// cleanEnv is the test's environment without LIEGE_ settings.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LIEGE_") {
			out = append(out, kv)
		}
	}
	return out
}

// waitReady polls /healthz until it answers 200, the process exits, or the
// deadline passes.
// waitOutput waits up to limit for the process's output to contain want.
func (s *served) waitOutput(want string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !strings.Contains(s.output.String(), want) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (s *served) waitReady(limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("it exited: %v", s.err)
		case <-deadline.C:
			return fmt.Errorf("/healthz not ready after %v (last error: %v)", limit, err)
		case <-tick.C:
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (s *served) wait(limit time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(limit):
		s.t.Fatalf("liege did not exit within %v\n%s", limit, s.output)
	}
	var ee *exec.ExitError
	switch {
	case s.err == nil:
		return 0
	case errors.As(s.err, &ee):
		return ee.ExitCode()
	}
	s.t.Fatalf("wait: %v", s.err)
	return -1
}

// request sends a request and decodes the JSON answer.
func (s *served) request(method, path, body string, headers ...string) (int, map[string]any) {
	s.t.Helper()
	code, m, err := s.tryRequest(method, path, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return code, m
}

// tryRequest is request returning its errors.
func (s *served) tryRequest(method, path, body string, headers ...string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: %d %s: not JSON: %w", method, path, resp.StatusCode, b, err)
	}
	return resp.StatusCode, m, nil
}

func TestServeCallShutdownAndLock(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--dir", dir, "--id", "A", "--app", "kv", "--shutdown-timeout", "20s")
	// The line is written before the first answer, but the pipe from the
	// process's stderr is copied into output by a goroutine of its own.
	if !s.waitOutput("msg=serving addr="+s.url, 5*time.Second) {
		t.Errorf("no start line naming the address %s within 5s:\n%s", s.url, s.output)
	}

	code, ans := s.request("POST", "/v1/call/add", `{"args": {"key": "alice", "delta": 5}}`)
	if code != 200 || ans["txid"] != "A/1" || ans["result"] != "ok" || ans["token"] != "A:1" {
		t.Fatalf("call: %d %v", code, ans)
	}
	code, ans = s.request("GET", `/v1/key?k=["kv","alice"]&min_token=A:1`, "")
	if code != 200 || ans["value"] != float64(5) {
		t.Fatalf("read: %d %v", code, ans)
	}

	// A second server on the same directory is refused while the first runs.
	second := launch(t, nil, "serve", "--dir", dir, "--id", "A", "--http", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if code := second.wait(30 * time.Second); code == 0 {
		t.Errorf("a second liege serve on %s exited 0", dir)
	}
	if want := fmt.Sprintf("is in use by pid %d", s.cmd.Process.Pid); !strings.Contains(second.output.String(), want) {
		t.Errorf("second server's output lacks %q:\n%s", want, second.output)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	for _, want := range []string{"shutting down", "msg=stopped"} {
		if !strings.Contains(s.output.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// The directory is free again and the call survived.
	s = startServe(t, nil, "--dir", dir, "--id", "A")
	code, ans = s.request("GET", `/v1/key?k=["kv","alice"]`, "")
	if code != 200 || ans["value"] != float64(5) {
		t.Fatalf("read after restart: %d %v", code, ans)
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGINT, want 0", code)
	}
}

func TestServeSettingsPrecedence(t *testing.T) {
	base := t.TempDir()
	conf := filepath.Join(base, "liege.conf")
	if err := os.WriteFile(conf, []byte(`# test config
dir = `+filepath.Join(base, "from-config")+`
id = C
role = vassal
peer-id = Z
listen-peer = 127.0.0.1:0
plaintext-peer = true
max_wait = "2s"
log-level = debug
`), 0o600); err != nil {
		t.Fatal(err)
	}
	status := func(s *served) map[string]any {
		t.Helper()
		code, st := s.request("GET", "/status", "")
		if code != 200 {
			t.Fatalf("status: %d %v", code, st)
		}
		return st
	}

	// The config file alone.
	s := startServe(t, nil, "--config", conf)
	st := status(s)
	if st["id"] != "C" || st["role"] != "vassal" {
		t.Errorf("config file settings not applied: %v", st)
	}
	if !strings.Contains(s.output.String(), "level=DEBUG") {
		t.Error("log-level = debug from the config file did not take effect")
	}
	if _, err := os.Stat(filepath.Join(base, "from-config", "LOCK")); err != nil {
		t.Errorf("dir from the config file not used: %v", err)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	s.wait(60 * time.Second)

	// The environment wins over the config file (and names the config file).
	s = startServe(t, []string{"LIEGE_CONFIG=" + conf, "LIEGE_ID=E", "LIEGE_DIR=" + filepath.Join(base, "from-env")})
	if st := status(s); st["id"] != "E" || st["role"] != "vassal" {
		t.Errorf("env settings: %v", st)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	s.wait(60 * time.Second)

	// A flag wins over both.
	s = startServe(t, []string{"LIEGE_CONFIG=" + conf, "LIEGE_ID=E", "LIEGE_ROLE=liege"},
		"--id", "F", "--dir", filepath.Join(base, "from-flag"))
	if st := status(s); st["id"] != "F" || st["role"] != "liege" {
		t.Errorf("flag settings: %v", st)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	s.wait(60 * time.Second)
}

func TestServeAuthTokenFile(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, nil, "--dir", t.TempDir(), "--id", "A", "--auth-token-file", tokFile)
	if code, ans := s.request("GET", "/status", ""); code != 401 {
		t.Errorf("status without a token: %d %v", code, ans)
	}
	if code, ans := s.request("GET", "/status", "", "Authorization", "Bearer hunter2"); code != 200 {
		t.Errorf("status with the token: %d %v", code, ans)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(60 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestServeRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	badConf := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(badConf, []byte("id = A\ndri = /tmp/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyTok := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyTok, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, "inst")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--id", "A"}, "--dir is required"},
		{nil, []string{"--dir", d}, "--id is required"},
		{nil, []string{"--dir", d, "--id", "A", "--role", "king"}, `--role must be liege or vassal, not "king"`},
		{nil, []string{"--dir", d, "--id", "A", "--app", "nope"}, `unknown application "nope"`},
		{nil, []string{"--dir", d, "--id", "A", "--log-format", "xml"}, "--log-format must be text or json"},
		{nil, []string{"--dir", d, "--id", "A", "--max-wait", "soon"}, "max-wait"},
		{[]string{"LIEGE_MAX_WAIT=soon"}, []string{"--dir", d, "--id", "A"}, "LIEGE_MAX_WAIT"},
		{nil, []string{"--config", badConf}, `bad.conf line 2: unknown setting "dri"`},
		{nil, []string{"--dir", d, "--id", "A", "--auth-token-file", emptyTok}, "is empty"},
		{nil, []string{"--dir", d, "--id", "A", "--http", "127.0.0.1:99999"}, "--http 127.0.0.1:99999"},
	} {
		p := launch(t, tc.env, append([]string{"serve"}, tc.args...)...)
		if code := p.wait(30 * time.Second); code == 0 {
			t.Errorf("liege serve %v exited 0", tc.args)
		}
		if !strings.Contains(p.output.String(), tc.want) {
			t.Errorf("liege serve %v: output lacks %q:\n%s", tc.args, tc.want, p.output)
		}
	}
}

func TestParseConfig(t *testing.T) {
	got, err := parseConfig(strings.NewReader("# c\n\n  dir = /x y \nmax_wait=5s\n--role = \"vassal \"\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	want := []configSetting{{"dir", "/x y", 3}, {"max-wait", "5s", 4}, {"role", "vassal ", 5}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for in, msg := range map[string]string{
		"dir":                 "f line 1: want name = value",
		"= x":                 "f line 1: no setting name",
		"id = \"A":            "f line 1: malformed quoted value",
		"id = A\nid = B\n":    "f line 2: id is already set on line 1",
		"id = A\nID = B\n":    "f line 2: id is already set on line 1",
		"x = 1\n# y\nz\n":     "f line 3",
		"a=1\nb=2\n\nc d\n":   "f line 4",
		"a=1\nb=\"\\q\"\n":    "f line 2: malformed quoted value",
		"dir = a\nd_ir = b":   "", // distinct names: fine
		"log_level = debug\n": "",
	} {
		_, err := parseConfig(strings.NewReader(in), "f")
		switch {
		case msg == "" && err != nil:
			t.Errorf("%q: %v", in, err)
		case msg != "" && (err == nil || !strings.Contains(err.Error(), msg)):
			t.Errorf("%q: error %v, want %q", in, err, msg)
		}
	}
}
