package pairtest

import (
	"os"

	"github.com/liege-db/liege"
)

// WithOptions lets a test change the options both instances are opened
// with (checkpoints and retention, say); Dir, ID, PeerID and Role are the
// pair's.
func WithOptions(set func(*liege.Options)) Option {
	return func(c *config) { c.options = set }
}

// RestartEmpty stops db's instance, deletes its directory, as a lost disk
// would, and starts it again on an empty one with the same id and role.
func (p *Pair) RestartEmpty(db *liege.DB) {
	p.t.Helper()
	n := p.a
	if db == p.b.db {
		n = p.b
	}
	if err := p.stop(n); err != nil {
		p.t.Fatalf("pairtest: stop %s: %v", n.id, err)
	}
	if err := os.RemoveAll(n.dir); err != nil {
		p.t.Fatalf("pairtest: delete %s's directory: %v", n.id, err)
	}
	p.start(n)
}

// Restart stops db's instance and starts it again on its directory.
func (p *Pair) Restart(db *liege.DB) {
	p.t.Helper()
	n := p.a
	if db == p.b.db {
		n = p.b
	}
	if err := p.stop(n); err != nil {
		p.t.Fatalf("pairtest: stop %s: %v", n.id, err)
	}
	p.start(n)
}
