// Package hostinfo reads the facts about the machine that a benchmark
// figure or an operator needs beside it: the CPUs the process may use and
// the kernel's transparent huge page mode, which decides whether the Go
// heap is backed by 2 MiB pages or 4 KiB ones (docs/operations.md,
// "Memory: transparent huge pages").
package hostinfo

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// thpPath is where Linux shows the transparent huge page mode.
const thpPath = "/sys/kernel/mm/transparent_hugepage/enabled"

// Machine is what a benchmark prints beside its figures.
type Machine struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// THP is the transparent huge page mode ("always", "madvise",
	// "never"), or "" where the kernel does not say (not Linux).
	THP string `json:"thp,omitempty"`
}

// Read returns this machine's facts.
func Read() Machine {
	return Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), THP: THP()}
}

// String is one line: "linux/amd64, 2 CPUs (GOMAXPROCS 2), transparent
// huge pages: madvise (the Go heap gets 4 KiB pages)".
func (m Machine) String() string {
	s := fmt.Sprintf("%s/%s, %d CPUs (GOMAXPROCS %d)", m.OS, m.Arch, m.CPUs, m.GOMAXPROCS)
	if m.THP != "" {
		s += ", transparent huge pages: " + m.THP
		if !HeapGetsHugePages(m.THP) {
			s += " (the Go heap gets 4 KiB pages)"
		}
	}
	return s
}

// THP returns the kernel's transparent huge page mode, or "" when it
// cannot be read.
func THP() string {
	b, err := os.ReadFile(thpPath)
	if err != nil {
		return ""
	}
	return parseTHP(string(b))
}

// parseTHP returns the selected mode of the enabled file's contents: the
// word in brackets ("always [madvise] never" is madvise), or "".
func parseTHP(s string) string {
	for _, w := range strings.Fields(s) {
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
			return w[1 : len(w)-1]
		}
	}
	return ""
}

// HeapGetsHugePages reports whether the Go heap is backed by huge pages in
// mode: only in "always". The Go runtime asks for none itself (since Go
// 1.21.1), so in "madvise" every 4 KiB page of the heap is faulted in on
// its first touch.
func HeapGetsHugePages(mode string) bool { return mode == "always" }
