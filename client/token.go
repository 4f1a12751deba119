package client

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Token is a session token: for each instance id (origin), the highest OSeq
// whose effects the client has seen. Its text form is "A:17,B:4".
type Token map[string]uint64

// ParseToken parses a token's text form; the empty string is the empty
// token. An origin named twice keeps its larger OSeq.
func ParseToken(s string) (Token, error) {
	t := Token{}
	if s = strings.TrimSpace(s); s == "" {
		return t, nil
	}
	for _, part := range strings.Split(s, ",") {
		o, n, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || o == "" {
			return nil, fmt.Errorf("malformed session token %q: want origin:oseq[,origin:oseq...], e.g. A:17,B:4", s)
		}
		v, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed session token %q: %q is not an OSeq", s, n)
		}
		t[o] = max(t[o], v)
	}
	return t, nil
}

// String formats the token as "A:17,B:4", origins sorted.
func (t Token) String() string {
	names := make([]string, 0, len(t))
	for o := range t {
		names = append(names, o)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, o := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(o)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(t[o], 10))
	}
	return b.String()
}

// Merge returns the larger of t and u at every origin.
func (t Token) Merge(u Token) Token {
	out := make(Token, len(t)+len(u))
	for o, v := range t {
		out[o] = v
	}
	for o, v := range u {
		out[o] = max(out[o], v)
	}
	return out
}

// Token returns the client's session token in its text form ("" before the
// first answer).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token.String()
}

// SetToken replaces the client's session token, for instance with one
// carried over from another client or process; "" clears it. Later answers
// are merged into it as usual.
func (c *Client) SetToken(tok string) error {
	t, err := ParseToken(tok)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.token = t
	c.mu.Unlock()
	return nil
}

// mergeToken merges an answer's token into the client's. An answer's
// malformed token is ignored: the outcome it came with stands, and the
// client's token stays what it was.
func (c *Client) mergeToken(tok string) {
	if tok == "" {
		return
	}
	t, err := ParseToken(tok)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.token = c.token.Merge(t)
	c.mu.Unlock()
}
