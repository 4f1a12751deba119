package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// The tests of deploy/systemd: the unit, and the example config file read
// by liege serve as the unit runs it.

var (
	unitPath    = filepath.Join("..", "..", "deploy", "systemd", "liege@.service")
	exampleConf = filepath.Join("..", "..", "deploy", "systemd", "example.conf")
)

// unitSettings returns the unit file's "Key=Value" lines by key, in order.
func unitSettings(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: %q is not Key=Value", unitPath, l)
		}
		out[k] = append(out[k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// unitServeArgs returns the liege serve arguments of the unit's ExecStart
// for instance inst, with its config file at conf.
func unitServeArgs(t *testing.T, inst, conf string) []string {
	t.Helper()
	exec := unitSettings(t)["ExecStart"]
	if len(exec) != 1 {
		t.Fatalf("%s has %d ExecStart lines, want 1", unitPath, len(exec))
	}
	f := strings.Fields(exec[0])
	if len(f) < 2 || filepath.Base(f[0]) != "liege" || f[1] != "serve" {
		t.Fatalf("ExecStart=%s does not run liege serve", exec[0])
	}
	var args []string
	for _, a := range f[2:] {
		a = strings.ReplaceAll(a, "%i", inst)
		if a == "/etc/liege/"+inst+".conf" {
			a = conf
		}
		args = append(args, a)
	}
	return args
}

// TestSystemdUnitSettings checks the unit has the settings an operator
// relies on: a dedicated user, its state directory, the hardening, the
// restart policy and a stop that lets liege serve shut down cleanly.
func TestSystemdUnitSettings(t *testing.T) {
	u := unitSettings(t)
	for key, want := range map[string]string{
		"User":                    "liege",
		"StateDirectory":          "liege/%i",
		"ReadWritePaths":          "/var/lib/liege/%i",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"Restart":                 "on-failure",
		"KillSignal":              "SIGTERM",
	} {
		if got := u[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s: %s=%q, want %q", unitPath, key, got, want)
		}
	}
	args := unitServeArgs(t, "A", "/etc/liege/A.conf")
	if strings.Join(args, " ") != "--config /etc/liege/A.conf --dir /var/lib/liege/A --id A" {
		t.Errorf("liege@A runs liege serve %q: want the config file of the instance and its state directory", args)
	}
	// systemd's SIGKILL must come after serve's own shutdown timeout and
	// the checkpoint at close.
	stop, err := time.ParseDuration(strings.Join(u["TimeoutStopSec"], ""))
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", u["TimeoutStopSec"], err)
	}
	set := parseServeArgs(t, unitServeArgs(t, "A", exampleConf)...)
	if stop < set.shutdownTimeout+30*time.Second {
		t.Errorf("TimeoutStopSec=%v leaves less than 30s after the example's shutdown-timeout %v for the checkpoint", stop, set.shutdownTimeout)
	}
}

// parseServeArgs reads liege serve's settings from args as runServe does
// (the config file, then serveSettingsFrom), without serving.
func parseServeArgs(t *testing.T, args ...string) *serveSettings {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LIEGE_") {
			t.Setenv(k, "") // the environment would win over the file
			os.Unsetenv(k)
		}
	}
	cmd := serveCommand()
	var got *serveSettings
	cmd.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return errors.New("arguments after the flags")
		}
		if err := applyConfig(c, c.String("config")); err != nil {
			return err
		}
		var err error
		got, err = serveSettingsFrom(c)
		return err
	}
	app := &cli.App{Name: "liege", Commands: []*cli.Command{cmd}, Writer: os.Stderr}
	if err := app.Run(append([]string{"liege", "serve"}, args...)); err != nil {
		t.Fatalf("liege serve %s: %v", strings.Join(args, " "), err)
	}
	return got
}

// TestSystemdExampleConfig reads deploy/systemd/example.conf as liege@A
// runs it, with the code liege serve uses, and checks every setting in it
// took effect.
func TestSystemdExampleConfig(t *testing.T) {
	set := parseServeArgs(t, unitServeArgs(t, "A", exampleConf)...)
	got := map[string]any{
		"dir": set.dir, "id": set.id, "app": set.app, "http": set.addr, "role": set.role, "peer-id": set.peerID,
		"listen-peer": set.listenPeer, "peer": set.peer, "cluster": set.cluster, "tls-cert": set.tlsCert, "tls-key": set.tlsKey,
		"tls-ca": set.tlsCA, "plaintext-peer": set.plaintextPeer, "auth-token-file": set.tokenFile,
		"shutdown-timeout": set.shutdownTimeout, "max-clock-offset": set.maxClockOffset,
	}
	for k, want := range map[string]any{
		"dir": "/var/lib/liege/A", "id": "A", "app": "ticketing", "http": "0.0.0.0:7070", "role": "liege", "peer-id": "B",
		"listen-peer": "0.0.0.0:7071", "peer": "", "cluster": "tickets", "tls-cert": "/etc/liege/A.crt", "tls-key": "/etc/liege/A.key",
		"tls-ca": "/etc/liege/ca.crt", "plaintext-peer": false, "auth-token-file": "/etc/liege/A.token",
		"shutdown-timeout": 30 * time.Second, "max-clock-offset": 500 * time.Millisecond,
	} {
		if got[k] != want {
			t.Errorf("%s as liege@A reads it: %s = %v, want %v", exampleConf, k, got[k], want)
		}
	}
	// The file sets nothing the unit's command line overrides, which would
	// be silently ignored.
	f, err := os.Open(exampleConf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings, err := parseConfig(f, exampleConf)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if s.name == "dir" || s.name == "id" || s.name == "config" {
			t.Errorf("%s line %d sets %s, which the unit's command line overrides", exampleConf, s.line, s.name)
		}
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, as the
// instance liege@A, with ExecStart pointing at a liege built from this
// tree (verify checks that the program exists).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("systemd-analyze is not installed (Debian package systemd), so %s is not verified: %v", unitPath, err)
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	const execStart = "ExecStart=/usr/local/bin/liege serve "
	if !strings.Contains(string(b), execStart) {
		t.Fatalf("%s has no %q", unitPath, execStart)
	}
	unit := strings.Replace(string(b), execStart, "ExecStart="+liegeBin+" serve ", 1)
	path := filepath.Join(t.TempDir(), "liege@A.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s (%s with ExecStart at %s): %v\n%s", path, unitPath, liegeBin, err, out)
	}
}

// TestSystemdSysusers creates the unit's user from deploy/systemd's
// sysusers.d file with systemd-sysusers, in a scratch root.
func TestSystemdSysusers(t *testing.T) {
	sysusers, err := exec.LookPath("systemd-sysusers")
	if err != nil {
		t.Skipf("systemd-sysusers is not installed (Debian package systemd), so liege.sysusers is not checked: %v", err)
	}
	file, err := filepath.Abs(filepath.Join("..", "..", "deploy", "systemd", "liege.sysusers"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sysusers, "--root="+root, file).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers %s: %v\n%s", file, err, out)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	user := unitSettings(t)["User"]
	if len(user) != 1 || !strings.HasPrefix(string(passwd), user[0]+":") || !strings.Contains(string(passwd), ":/var/lib/liege:") {
		t.Errorf("systemd-sysusers made %q; want the unit's User %q with home /var/lib/liege", passwd, user)
	}
}
