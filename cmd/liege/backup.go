package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "write an online backup of a running instance to a file",
		UsageText: "liege backup --addr ADDR --out FILE [flags]",
		Description: `Asks the running instance for a backup and writes it to --out: a tar
archive of its directory with a checkpoint taken for the backup, the journal
after it (every record durable when it was copied) and its side files. The
instance keeps serving meanwhile; it holds back its journal's truncation
until the copy is done. The file is written under a temporary name and
renamed when complete, so --out is either the whole backup or absent.

To restore (docs/operations.md): stop the instance if it runs, extract the
archive into an empty directory and start the instance on it:
   mkdir /var/lib/liege/A && tar -xf A.tar -C /var/lib/liege/A
A restored vassal catches up from its liege; if the liege no longer holds
what the backup lacks, start the vassal on an empty directory instead: it is
seeded from the liege.

Examples:
   liege backup --addr 10.0.0.2:7070 --out /backups/A-$(date +%F).tar
   liege backup --addr 10.0.0.2:7070 --token-file /etc/liege/A.token --out A.tar`,
		Flags: append(connFlags(),
			&cli.StringFlag{Name: "out", Usage: "the backup `FILE` to write (e.g. --out /backups/A.tar)"}),
		Action: runBackup,
	}
}

func runBackup(c *cli.Context) error {
	s, err := newSession(c, 0, 0)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		return errors.New("--out is required: the backup file to write, e.g. --out /backups/A.tar")
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("--out %s exists: choose a new file (a backup never overwrites one)", out)
	}
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.partial")
	if err != nil {
		return fmt.Errorf("create the backup file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	n, err := s.cl.Backup(context.Background(), f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "backup of %s written to %s (%d bytes)\n", s.addr, out, n)
	return nil
}
