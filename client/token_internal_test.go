package client

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
)

// mergeToken's fast path (advance) leaves the client with the token and
// text the general merge makes, whatever the answer's token: taken or
// not, well-formed or not.
func TestMergeTokenFastPathIsMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	origins := []string{"A", "B", "C"}
	randTok := func() string {
		var parts []string
		for _, o := range origins {
			if r.IntN(4) > 0 {
				parts = append(parts, fmt.Sprintf("%s:%d", o, r.IntN(6)))
			}
		}
		if r.IntN(5) == 0 { // out of order, repeated, or malformed
			parts = append(parts, []string{"A:9", "B:01", "C:", ":3", "B:2", "A:x", ""}[r.IntN(7)])
			r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		}
		return strings.Join(parts, ",")
	}
	took := 0
	for i := range 20_000 {
		start := randTok()
		fast, slow := New("127.0.0.1:1"), New("127.0.0.1:1")
		if err := fast.SetToken(start); err != nil {
			continue
		}
		_ = slow.SetToken(start)
		for range 4 {
			tok := randTok()
			probe := &Client{token: maps.Clone(fast.token)}
			if probe.advance(tok) {
				took++
			}
			fast.mergeToken(tok)
			// The general merge, as mergeToken did before advance.
			if p, err := ParseToken(tok); err == nil && tok != "" {
				slow.token = slow.token.Merge(p)
				slow.text = slow.token.String()
			}
			if fast.text != slow.text || !maps.Equal(fast.token, slow.token) {
				t.Fatalf("case %d: from %q, merging %q: fast path %q %v, merge %q %v", i, start, tok, fast.text, fast.token, slow.text, slow.token)
			}
		}
	}
	if took < 1000 {
		t.Fatalf("the fast path took %d of the merges: the test does not exercise it", took)
	}
}
