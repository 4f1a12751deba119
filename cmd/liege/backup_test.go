package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/internal/server"
)

// TestBackupAndRestore: liege backup of a running instance whose journal
// retention truncated gives a file that, extracted into an empty
// directory, opens as the instance's state when the backup was taken.
func TestBackupAndRestore(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	db, err := liege.Open(liege.Options{Dir: dir, ID: "A", Logger: quiet, CheckpointEvery: 50, JournalKeep: 1, SegmentSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := kv.Register(db); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(db, server.Options{App: kv.Name, AuthToken: "s3cret", Logger: quiet}).Handler())
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 400; i++ {
		if _, err := db.Call(ctx, kv.ProcSet, kv.SetArgs{Key: fmt.Sprintf("k%d", i), Value: strings.Repeat("v", 50)}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := db.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "A.tar")
	addr := strings.TrimPrefix(srv.URL, "http://")
	stdout, _ := mustRun(t, "", "backup", "--addr", addr, "--token-file", tokenFile, "--out", out)
	if !strings.Contains(stdout, "written to "+out) {
		t.Fatalf("liege backup printed %q", stdout)
	}
	wantFail(t, "", []string{"backup", "--addr", addr, "--token-file", tokenFile, "--out", out}, "exists")
	wantFail(t, "", []string{"backup", "--addr", addr, "--out", out + "2"}, "401")
	// The instance goes on; the backup holds the state it had.
	if _, err := db.Call(ctx, kv.ProcSet, kv.SetArgs{Key: "after", Value: "x"}); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "A")
	untar(t, out, restored)
	if _, err := os.Stat(filepath.Join(restored, "journal-front")); err != nil {
		t.Fatalf("the backed-up journal was not truncated, the test proves less than it should: %v", err)
	}
	rdb, err := liege.Open(liege.Options{Dir: restored, ID: "A", Logger: quiet})
	if err != nil {
		t.Fatalf("open the restored instance: %v", err)
	}
	defer rdb.Close()
	if got, err := rdb.Hash(ctx); err != nil || got != want {
		t.Fatalf("restored state hash %x (%v), want %x", got[:8], err, want[:8])
	}
}

func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
