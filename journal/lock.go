package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the lock file in an instance directory.
const LockFile = "LOCK"

// ErrInUse is wrapped by the error LockDir returns when another process
// holds the instance directory.
var ErrInUse = errors.New("instance directory in use")

// DirLock is an exclusive lock on an instance directory, held for the life
// of the process that opened it (flock: released by the kernel on exit, so a
// SIGKILLed instance never leaves a stale lock).
type DirLock struct {
	f *os.File
}

// InUseError says which process holds an instance directory.
type InUseError struct {
	Dir string
	Pid int
}

func (e *InUseError) Error() string {
	if e.Pid > 0 {
		return fmt.Sprintf("instance directory %s is in use by pid %d", e.Dir, e.Pid)
	}
	return fmt.Sprintf("instance directory %s is in use by another process", e.Dir)
}

func (e *InUseError) Unwrap() error { return ErrInUse }

// LockDir takes the exclusive lock on dir, which must exist, and writes this
// process's pid into the lock file.
func LockDir(dir string) (*DirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock instance directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, Pid: readPid(path)}
		}
		return nil, fmt.Errorf("lock instance directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("write pid to %s: %w", path, err)
		}
	}
	return &DirLock{f: f}, nil
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// Unlock releases the lock.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}

// SyncDir fsyncs a directory so that file creations, renames and removals in
// it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// CheckFree takes a shared lock on dir for a read-only tool: it fails with
// an *InUseError if an instance holds the directory, and keeps an instance
// from opening it until release is called. It writes nothing.
func CheckFree(dir string) (release func(), err error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("instance directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil // never opened by an instance
	}
	if err != nil {
		return nil, fmt.Errorf("check instance directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, Pid: readPid(path)}
		}
		return nil, fmt.Errorf("check instance directory lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
