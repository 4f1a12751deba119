package replicate

import "testing"

// TestChangedClosedAtNextNotify: a channel Changed handed out is closed by
// the next notify, and one handed out after it is open until the one
// after; notifies nobody waits for leave the channel as it is.
func TestChangedClosedAtNextNotify(t *testing.T) {
	r := &Replicator{changed: make(chan struct{})}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	r.notify() // nobody waits
	a := r.Changed()
	if closed(a) {
		t.Fatal("Changed returned a closed channel before any notify after it")
	}
	r.notify()
	if !closed(a) {
		t.Fatal("notify did not close the channel Changed handed out before it")
	}
	b := r.Changed()
	if closed(b) {
		t.Fatal("Changed after a notify returned a closed channel")
	}
	if c := r.Changed(); c != b {
		t.Fatal("two Changed with no notify between returned different channels")
	}
	r.notify()
	if !closed(b) {
		t.Fatal("the second notify did not close the channel handed out after the first")
	}
}
