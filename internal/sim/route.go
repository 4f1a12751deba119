package sim

import "math/rand/v2"

// Routing in the simulator (DESIGN.md section 13): in one seed in three
// on the real engine, half the vassal's calls are forwarded to the liege,
// across the seed's link cuts, partitions, crashes, promotes and
// switchovers; a call that cannot be forwarded commits locally (the auto
// route), one whose answer does not come in time is refused (its outcome
// unknown to the client), and the oracle checks the rest as usual.

// routeStream returns the seed's routing stream, nil when the seed does
// not route. It is a stream of its own, so the seed's other draws are as
// they were without routing.
func routeStream(o Options) *rand.Rand {
	if o.Model {
		return nil // the model engine does not forward
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x20075))
	if r.IntN(3) != 0 {
		return nil
	}
	return r
}

// forward says whether site i forwards its next call: the vassal, in a
// routing seed, half the time.
func (w *world) forward(i int) bool {
	s := w.sites[i]
	if w.route == nil || s.inst == nil || s.inst.Status().Role != "vassal" {
		return false
	}
	fwd := w.route.IntN(2) == 0
	if fwd {
		w.tracef("%s forwards that call to the liege", s.id)
	}
	return fwd
}
