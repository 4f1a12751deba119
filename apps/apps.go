// Package apps is the registry of the applications `liege serve --app NAME`
// serves. Each application lives in a subpackage (apps/atm, apps/kv,
// apps/ticketing) that exports Name, Register and Check and does not import
// this package; the table below ties them together.
package apps

import (
	"fmt"
	"slices"
	"strings"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/atm"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/apps/ticketing"
	"github.com/liege-db/liege/internal/oracle"
)

// App is an application: its procedures and its consistency rule.
type App struct {
	// Name is what --app takes; Description is a one-line summary.
	Name, Description string
	// Register registers every procedure of the application, each with
	// its correction, on db.
	Register func(db liege.Registrar) error
	// Check is the application's consistency rule over a whole state (the
	// invariants of DESIGN.md section 11, point 4). It returns the
	// violations, none if the rule holds.
	Check func(entries []liege.Entry) []string
}

// registry holds every application, in name order.
var registry = []App{
	{Name: atm.Name, Description: atm.Description, Register: atm.Register, Check: atm.Check},
	{Name: kv.Name, Description: kv.Description, Register: kv.Register, Check: kv.Check},
	{Name: ticketing.Name, Description: ticketing.Description, Register: ticketing.Register, Check: ticketing.Check},
}

// Lookup returns the application called name. Its error lists the known
// applications.
func Lookup(name string) (App, error) {
	for _, a := range registry {
		if a.Name == name {
			return a, nil
		}
	}
	return App{}, fmt.Errorf("unknown application %q: the known applications are %s", name, strings.Join(Names(), ", "))
}

// Names returns the names of the known applications, sorted.
func Names() []string {
	names := make([]string, len(registry))
	for i, a := range registry {
		names[i] = a.Name
	}
	slices.Sort(names)
	return names
}

// All returns every application, sorted by name.
func All() []App {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Invariant adapts an application's check over liege entries (as App.Check)
// to the oracle's entries (oracle.Options.Invariant).
func Invariant(check func([]liege.Entry) []string) func([]oracle.Entry) []string {
	return func(state []oracle.Entry) []string { return check(Entries(state)) }
}

// Entries converts the oracle's entries to liege entries.
func Entries(state []oracle.Entry) []liege.Entry {
	out := make([]liege.Entry, len(state))
	for i, e := range state {
		out[i] = liege.Entry{Key: liege.Key(e.Key), Value: liege.Value(e.Value), Version: e.Version}
	}
	return out
}
