package route

import "sort"

// This file carries the measured state of auto routes across a restart:
// without it a restarted vassal forgets which procedures and key prefixes
// conflict, commits them locally again and rolls them back until the
// meters have measured them afresh.

// Saved is the meter of one auto procedure (Prefix "") or one of its key
// prefixes, as Save returns it and Restore takes it back.
type Saved struct {
	Proc       string  `json:"proc"`
	Prefix     string  `json:"prefix,omitempty"`
	Commits    float64 `json:"commits"`
	Conflicts  float64 `json:"conflicts"`
	Liege      float64 `json:"liege,omitempty"`
	Seen       int     `json:"seen"`
	Below      int     `json:"below,omitempty"`
	Forwarding bool    `json:"forwarding,omitempty"`
	Prior      bool    `json:"prior,omitempty"`
}

func saved(name, prefix string, m *meter) Saved {
	return Saved{Proc: name, Prefix: prefix, Commits: m.commits, Conflicts: m.conflicts, Liege: m.liege,
		Seen: m.seen, Below: m.below, Forwarding: m.forwarding, Prior: m.prior}
}

func (s Saved) meter() meter {
	return meter{commits: s.Commits, conflicts: s.Conflicts, liege: s.Liege, seen: s.Seen, below: s.Below,
		forwarding: s.Forwarding, prior: s.Prior}
}

// Save returns the meters of every auto procedure and its prefixes, in
// order of procedure and prefix, with those restored and not yet resumed
// (a procedure not registered since the restart keeps its meters for the
// next one).
func (r *Router) Save() []Saved {
	var out []Saved
	for name, p := range r.procs {
		if p.route != Auto {
			continue
		}
		out = append(out, saved(name, "", &p.all))
		for k, m := range p.prefixes {
			out = append(out, saved(name, k, m))
		}
	}
	for name, ss := range r.restored {
		if _, ok := r.procs[name]; !ok {
			out = append(out, ss...)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Proc != out[j].Proc {
			return out[i].Proc < out[j].Proc
		}
		return out[i].Prefix < out[j].Prefix
	})
	return out
}

// Restore takes back what Save returned before a restart. A procedure's
// meters come back when it is registered and its route set (Resume).
func (r *Router) Restore(ss []Saved) {
	r.restored = map[string][]Saved{}
	for _, s := range ss {
		if s.Proc != "" {
			r.restored[s.Proc] = append(r.restored[s.Proc], s)
		}
	}
}

// Resume puts back procedure name's restored meters once its route is set
// (Declare, Set), if the route is auto: it goes on from what was measured
// before the restart instead of its starting point. The prefix meters come
// back only for a procedure measured per prefix, at most MaxPrefixes.
func (r *Router) Resume(name string) {
	ss, ok := r.restored[name]
	if !ok {
		return
	}
	delete(r.restored, name)
	p := r.procs[name]
	if p == nil || p.route != Auto {
		return
	}
	for _, s := range ss {
		switch {
		case s.Prefix == "":
			p.all = s.meter()
		case p.prefixed && len(p.prefixes) < r.cfg.MaxPrefixes:
			if p.prefixes == nil {
				p.prefixes = map[string]*meter{}
			}
			m := s.meter()
			p.prefixes[s.Prefix] = &m
		}
	}
}
