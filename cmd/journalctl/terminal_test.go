package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRollbackRefusesDevNull runs a rollback with stdin /dev/null, a
// character device that is no terminal: journalctl must refuse to ask for
// a confirmation nobody can type, and change nothing.
func TestRollbackRefusesDevNull(t *testing.T) {
	f := build(t)
	before := ok(t, "state", f.Dir, "--json").stdout
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := exec.Command(bin, "rollback", f.Dir, "--to", "6")
	cmd.Stdin = null
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("journalctl rollback with stdin %s: %v, want exit status 1\nstdout: %s\nstderr: %s", os.DevNull, err, &out, &errOut)
	}
	if want := "stdin is not a terminal; pass --yes to confirm"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q: %s", want, &errOut)
	}
	if after := ok(t, "state", f.Dir, "--json").stdout; after != before {
		t.Errorf("the refused rollback changed the state")
	}
}
