package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
)

// dirSnapshot describes every file and directory under dir (its path,
// mode, and for a file the SHA-256 of its content); nil when dir does not
// exist.
func dirSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		if d.Type().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", h.Sum(nil))
		}
		snap[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestServeFailedStartLeavesNoFiles starts `liege serve` in ways that
// fail for reasons outside the instance directory (a port in use, a
// missing TLS file, a bad flag combination) and checks that the
// directory is as it was: a new one is not created, an existing one gets
// no LOCK, no journal record, no role change.
func TestServeFailedStartLeavesNoFiles(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()
	missing := filepath.Join(t.TempDir(), "missing.pem")

	// An existing instance, stopped: a lone liege with one record.
	existing := filepath.Join(t.TempDir(), "A")
	db, err := liege.Open(liege.Options{Dir: existing, ID: "A", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Starting it as a vassal would journal the role change.
	asVassal := []string{"--id", "A", "--peer-id", "B", "--role", "vassal", "--plaintext-peer", "--listen-peer", "127.0.0.1:0"}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"http port in use", []string{"--id", "A", "--http", busyAddr}, "--http " + busyAddr},
		{"http port in use, as vassal", append(slices.Clone(asVassal), "--http", busyAddr), "--http " + busyAddr},
		{"peer port in use", []string{"--id", "A", "--peer-id", "B", "--role", "vassal", "--plaintext-peer",
			"--listen-peer", busyAddr, "--http", "127.0.0.1:0"}, "--listen-peer " + busyAddr},
		{"missing TLS file", []string{"--id", "A", "--peer-id", "B", "--role", "vassal", "--listen-peer", "127.0.0.1:0",
			"--tls-cert", missing, "--tls-key", missing, "--tls-ca", missing, "--http", "127.0.0.1:0"}, missing},
		{"await peer alone", []string{"--id", "A", "--await-peer", "--http", "127.0.0.1:0"}, "--await-peer needs --peer-id"},
		{"bad max frame", append(slices.Clone(asVassal), "--max-frame", "-5", "--http", "127.0.0.1:0"), "MaxFrame -5 is out of range"},
		{"max frame too small", append(slices.Clone(asVassal), "--max-frame", "1000", "--http", "127.0.0.1:0"), "MaxFrame 1000 is out of range: want 0 (default 67108864) or 65536 (64 KiB)"},
		{"empty cluster", append(slices.Clone(asVassal), "--cluster", "", "--http", "127.0.0.1:0"), "--cluster is empty"},
		{"vassal without its liege", []string{"--id", "A", "--role", "vassal", "--http", "127.0.0.1:0"}, "--role vassal needs --peer-id"},
		{"dial and TLS half given", []string{"--id", "A", "--peer-id", "B", "--role", "vassal", "--peer", "127.0.0.1:1",
			"--tls-cert", missing, "--http", "127.0.0.1:0"}, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := filepath.Join(t.TempDir(), "new")
			for _, dir := range []string{fresh, existing} {
				before := dirSnapshot(t, dir)
				p := launch(t, nil, append([]string{"serve", "--dir", dir}, tc.args...)...)
				if code := p.wait(30 * time.Second); code == 0 {
					t.Fatalf("liege serve %v exited 0", tc.args)
				}
				if !strings.Contains(p.output.String(), tc.want) {
					t.Errorf("liege serve %v: output lacks %q:\n%s", tc.args, tc.want, p.output)
				}
				if after := dirSnapshot(t, dir); !maps.Equal(before, after) {
					t.Errorf("liege serve --dir %s %v changed the directory:\nbefore %v\nafter  %v", dir, tc.args, before, after)
				}
			}
		})
	}
}

// TestServeTwiceSaysTheDirectoryIsInUse starts an instance a second time
// with the same flags: the answer names the process holding the
// directory, not the port it also holds.
func TestServeTwiceSaysTheDirectoryIsInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "A")
	first := startServe(t, nil, "--dir", dir, "--id", "A")
	second := launch(t, nil, "serve", "--dir", dir, "--id", "A", "--http", strings.TrimPrefix(first.url, "http://"))
	if code := second.wait(30 * time.Second); code == 0 {
		t.Fatalf("a second liege serve on %s exited 0", dir)
	}
	if want := fmt.Sprintf("is in use by pid %d; stop that process or serve another --dir", first.cmd.Process.Pid); !strings.Contains(second.output.String(), want) {
		t.Errorf("the second serve's output lacks %q:\n%s", want, second.output)
	}
}
