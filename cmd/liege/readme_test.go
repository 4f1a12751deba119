package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README test runs README.md's command blocks as written, in one shell,
// against liege and journalctl built from this tree, and fails on the
// first command that does not work.
//
// The convention, in README.md: every ```sh block is run, line by line (a
// line ending in \ continues on the next), in a fresh working directory,
// in order, in one bash process, so that `export` and background jobs
// (`&`) carry over as in a reader's terminal. A block is skipped when the
// last non-blank line before its fence is
//
//	<!-- readme-test: skip: WHY -->
//
// with a reason. Other fences (```text, ```go) are not run.

// readmeBuild is the README's build command. It is the one command not run
// as written: the test runs it in the repository's root (where a reader
// runs it) but writes bin/ into its working directory, so as not to write
// into the source tree.
const readmeBuild = "go build -o bin/ ./cmd/liege ./cmd/journalctl"

// readmePorts are the loopback ports the README's servers use, as written.
var readmePorts = []string{"7070", "7071", "7080"}

// readmeCommand is one command of a README block.
type readmeCommand struct {
	line int    // README.md line of its first line
	text string // as written, continuation lines included
}

var readmeDirective = regexp.MustCompile(`^<!--\s*readme-test:\s*(.*?)\s*-->$`)

// readmeCommands returns the commands of the ```sh blocks of a README, and
// the skipped blocks' first lines with the reason given.
func readmeCommands(src string) (cmds []readmeCommand, skipped []string, err error) {
	lines := strings.Split(src, "\n")
	lastNonBlank := ""
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "```") {
			if m := readmeDirective.FindStringSubmatch(l); m != nil {
				reason, ok := strings.CutPrefix(m[1], "skip:")
				if !ok || strings.TrimSpace(reason) == "" {
					return nil, nil, fmt.Errorf("README.md line %d: want <!-- readme-test: skip: WHY -->, got %q", i+1, l)
				}
			}
			if l != "" {
				lastNonBlank = l
			}
			continue
		}
		info := strings.TrimSpace(strings.TrimPrefix(l, "```"))
		start := i
		var body []int // line indexes of the block
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
			body = append(body, i)
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("README.md line %d: the block is never closed", start+1)
		}
		skip := readmeDirective.FindStringSubmatch(lastNonBlank)
		lastNonBlank = ""
		if info != "sh" {
			continue
		}
		if skip != nil {
			skipped = append(skipped, fmt.Sprintf("line %d (%s)", start+1, skip[1]))
			continue
		}
		for j := 0; j < len(body); j++ {
			idx := body[j]
			text := lines[idx]
			for strings.HasSuffix(strings.TrimRight(text, " "), `\`) && j+1 < len(body) {
				j++
				text += "\n" + lines[body[j]]
			}
			if t := strings.TrimSpace(text); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			cmds = append(cmds, readmeCommand{line: idx + 1, text: text})
		}
	}
	return cmds, skipped, nil
}

func TestReadmeCommands(t *testing.T) {
	src := "intro\n<!-- readme-test: skip: slow -->\n\n```sh\nsleep 100\n```\n" +
		"```go\nx := 1\n```\n" +
		"```sh\n# a comment\nliege serve --dir d \\\n    --id A &   # bg\n\nliege status\n```\n" +
		"<!-- readme-test: skip: the next block is text -->\n```text\nnot run\n```\n```sh\necho after\n```\n"
	cmds, skipped, err := readmeCommands(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []readmeCommand{{12, "liege serve --dir d \\\n    --id A &   # bg"}, {15, "liege status"}, {22, "echo after"}}
	if fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Errorf("commands %+v, want %+v", cmds, want)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "line 4 (skip: slow)") {
		t.Errorf("skipped %q", skipped)
	}
	for _, bad := range []string{"<!-- readme-test: skip -->\n```sh\nx\n```\n", "<!-- readme-test: run -->\n", "```sh\nx\n"} {
		if _, _, err := readmeCommands(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// readmeShell is the bash process the README's commands run in.
type readmeShell struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string // the working directory
	out   string // where each command's output and status go
	n     int
}

func startReadmeShell(t *testing.T, dir string) *readmeShell {
	t.Helper()
	sh := &readmeShell{dir: dir, out: t.TempDir()}
	sh.cmd = exec.Command("bash", "--noprofile", "--norc")
	sh.cmd.Dir = dir
	sh.cmd.Env = cleanEnv()
	// Its own process group: the cleanup kills the servers it left too.
	sh.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if sh.stdin, err = sh.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sh.cmd.Start(); err != nil {
		t.Fatalf("start bash (the README test needs it): %v", err)
	}
	// A command piped into another (journalctl state DIR | tail -1) fails
	// if any part of it fails.
	if _, err := io.WriteString(sh.stdin, "set -o pipefail\n"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sh.stdin.Close()
		_ = syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
		_ = sh.cmd.Wait()
	})
	return sh
}

// run runs one command in the shell and returns its output and exit
// status, or an error if it does not finish within budget.
func (sh *readmeShell) run(text string, budget time.Duration) (string, int, error) {
	sh.n++
	out := filepath.Join(sh.out, fmt.Sprintf("%d.out", sh.n))
	rc := filepath.Join(sh.out, fmt.Sprintf("%d.rc", sh.n))
	script := fmt.Sprintf("{ %s\n} >%q 2>&1 </dev/null; echo $? >%q.tmp && mv %q.tmp %q\n", text, out, rc, rc, rc)
	if _, err := io.WriteString(sh.stdin, script); err != nil {
		return "", 0, fmt.Errorf("write to bash: %w", err)
	}
	deadline := time.Now().Add(budget)
	for {
		if b, err := os.ReadFile(rc); err == nil {
			o, _ := os.ReadFile(out)
			var code int
			if _, err := fmt.Sscan(string(b), &code); err != nil {
				return string(o), 0, fmt.Errorf("exit status %q: %w", b, err)
			}
			return string(o), code, nil
		}
		if time.Now().After(deadline) {
			o, _ := os.ReadFile(out)
			return string(o), 0, fmt.Errorf("it did not finish within %v", budget)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	readmeBackground = regexp.MustCompile(`&\s*(#.*)?$`)
	readmeHTTP       = regexp.MustCompile(`--http\s+(\S+)`)
)

// waitHealthy polls http://addr/healthz until it answers 200 or the budget
// runs out.
func waitHealthy(addr string, budget time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(budget)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("http://%s/healthz did not answer 200 within %v: %v", addr, budget, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logsIn returns the *.log files of dir, for a failure message.
func logsIn(dir string) string {
	var b strings.Builder
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "--- %s ---\n%s", filepath.Base(p), data)
	}
	return b.String()
}

// TestReadme runs the README's command blocks as written (see above).
func TestReadme(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed: the README's commands are bash")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds, skipped, err := readmeCommands(string(src))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("skipped blocks: %s", strings.Join(skipped, "; "))
	if len(cmds) < 20 {
		t.Fatalf("README.md has %d commands to run; want the whole tour (at least 20): is a block's fence or marker wrong?", len(cmds))
	}
	if cmds[0].text != readmeBuild {
		t.Fatalf("the README's first command to run is %q, want the build, %q", cmds[0].text, readmeBuild)
	}
	for _, p := range readmePorts {
		ln, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Fatalf("port %s is in use (%v): the README's commands use it as written; stop whatever holds it", p, err)
		}
		ln.Close()
	}

	work := t.TempDir()
	sh := startReadmeShell(t, work)
	for i, c := range cmds {
		text := c.text
		budget := 30 * time.Second
		if text == readmeBuild {
			text = fmt.Sprintf("(cd %q && go build -o %q ./cmd/liege ./cmd/journalctl)", root, filepath.Join(work, "bin")+"/")
			budget = 3 * time.Minute // a cold build cache
		}
		out, code, err := sh.run(text, budget)
		t.Logf("README.md line %d:\n$ %s\n%s", c.line, c.text, out)
		if err == nil && code != 0 {
			err = fmt.Errorf("it exited %d", code)
		}
		if err == nil && readmeBackground.MatchString(text) && strings.Contains(text, "liege serve") {
			// A reader waits for the server to come up: so does the test.
			addr := "127.0.0.1:7070"
			if m := readmeHTTP.FindStringSubmatch(text); m != nil {
				addr = m[1]
			}
			err = waitHealthy(addr, 30*time.Second)
		}
		if err != nil {
			t.Fatalf("README.md line %d, command %d of %d, does not work as written: %v\n$ %s\n%s\n%s",
				c.line, i+1, len(cmds), err, c.text, out, logsIn(work))
		}
	}
	// The tour stops every server it starts.
	out, _, err := sh.run("jobs -rp", 10*time.Second)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("after the README's last command, background jobs still run (pids %q, %v): the README must stop what it starts\n%s",
			out, err, logsIn(work))
	}
}

// TestReadmeDemoKeepHint runs the journalctl command that liege demo
// --keep (in the README's prose) prints for the directories it keeps.
func TestReadmeDemoKeepHint(t *testing.T) {
	p := launch(t, nil, "demo", "--duration", "3s", "--keep")
	code := p.wait(2 * time.Minute)
	m := regexp.MustCompile(`kept: (\S+) \(try: go run \./cmd/journalctl (.*)\)`).FindStringSubmatch(p.output.String())
	if m != nil && strings.HasPrefix(m[1], os.TempDir()) {
		t.Cleanup(func() { os.RemoveAll(m[1]) })
	}
	if code != 0 {
		t.Fatalf("liege demo exited %d:\n%s", code, p.output)
	}
	if m == nil {
		t.Fatalf("liege demo --keep printed no journalctl hint:\n%s", p.output)
	}
	journalctl := filepath.Join(filepath.Dir(liegeBin), "journalctl")
	if out, err := exec.Command("go", "build", "-o", journalctl, "../journalctl").CombinedOutput(); err != nil {
		t.Fatalf("build journalctl: %v\n%s", err, out)
	}
	out, err := exec.Command(journalctl, strings.Fields(m[2])...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("the hint %q fails: %v\n%s", m[0], err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	records := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), " local ") || strings.Contains(sc.Text(), " peer ") {
			records++
		}
	}
	if records == 0 {
		t.Errorf("the hint's journalctl inspect printed no transactions:\n%s", out)
	}
}
