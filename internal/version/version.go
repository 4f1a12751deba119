// Package version says which build of Liege is running: the module
// version and VCS revision from the binary's build information, the Go
// version it was built with, and the journal format and replication
// protocol versions it speaks. `liege --version`, `journalctl --version`
// and GET /status all print this one Info, so an operator comparing two
// sites compares the same fields everywhere.
//
// The module version is "(devel)" for a binary built inside the module
// (go build ./cmd/liege) and the tag for one installed with
// `go install github.com/liege-db/liege/cmd/liege@v1.2.3`. The revision is
// empty when the build recorded no VCS information (-buildvcs=false, or a
// build outside a git checkout).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// Info describes a build: the fields of httpapi.Build, the "build"
// object of GET /status (docs/http-api.md), with the methods that print
// it. Convert with httpapi.Build(info).
type Info httpapi.Build

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi)
}

// fromBuildInfo makes an Info of build information, nil when the binary
// has none.
func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Module: "unknown", Go: runtime.Version(), JournalFormat: journal.FrameVersion, Protocol: link.ProtocolVersion}
	if bi == nil {
		return in
	}
	if bi.Main.Version != "" {
		in.Module = bi.Main.Version
	}
	if bi.GoVersion != "" {
		in.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the multi-line form --version prints, one "name: value" per
// field, e.g.
//
//	module: v1.2.0
//	revision: 3f1c2a9e... (modified)
//	go: go1.26.8
//	journal format: 1
//	protocol: 1
func (in Info) String() string {
	rev := in.Revision
	switch {
	case rev == "":
		rev = "unknown (built without VCS information)"
	case in.Modified:
		rev += " (modified)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "module: %s\n", in.Module)
	fmt.Fprintf(&b, "revision: %s\n", rev)
	fmt.Fprintf(&b, "go: %s\n", in.Go)
	fmt.Fprintf(&b, "journal format: %d\n", in.JournalFormat)
	fmt.Fprintf(&b, "protocol: %d\n", in.Protocol)
	return b.String()
}

// Label is the short form for a metric label: the module version
// ("devel" for a build inside the module) and, when recorded, "+" and
// the first 12 characters of the revision, e.g. "v1.2.0+3f1c2a9e04b1".
func (in Info) Label() string {
	v := in.Module
	if v == "" || v == "(devel)" || v == "unknown" {
		v = "devel"
	}
	if rev := in.Revision; rev != "" {
		v += "+" + rev[:min(12, len(rev))]
	}
	return v
}
