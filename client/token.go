package client

import (
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/httpapi"
)

// Token is a session token: for each instance id (origin), the highest OSeq
// whose effects the client has seen. Its text form is "A:17,B:4"; String
// formats it and Merge takes the larger OSeq at every origin.
type Token = httpapi.Token

// ParseToken parses a token's text form; the empty string is the empty
// token. An origin named twice keeps its larger OSeq. Unlike the server,
// it accepts spaces around the token and around each origin:oseq (a token
// pasted by hand); the token it returns formats without them.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return httpapi.ParseToken(strings.Join(parts, ","))
}

// Token returns the client's session token in its text form ("" before the
// first answer).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text
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
	c.token, c.text, c.merged = t, t.String(), ""
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok == c.merged || c.advance(tok) {
		return // merged already (many calls in a row), or moved ahead
	}
	t, err := ParseToken(tok)
	if err != nil {
		return
	}
	c.token = c.token.Merge(t)
	c.text, c.merged = c.token.String(), tok
}

// advance merges tok into the client's token without a map or a
// formatting, in the usual case of an answer after the client's last
// one: tok names exactly the origins the token names, each at least as
// far, in the form Token.String writes (origins in order, once each, no
// leading zeros). The merged token is then tok itself. It reports false,
// changing nothing, in any other case (c.mu held).
func (c *Client) advance(tok string) bool {
	n, prev := 0, ""
	for rest := tok; ; n++ {
		part, more, found := strings.Cut(rest, ",")
		o, num, ok := strings.Cut(part, ":")
		if !ok || o == "" || (n > 0 && o <= prev) || num == "" || (num[0] == '0' && num != "0") {
			return false
		}
		v, err := strconv.ParseUint(num, 10, 64)
		if cur, known := c.token[o]; err != nil || !known || v < cur {
			return false
		}
		prev, rest = o, more
		if !found {
			break
		}
	}
	if n+1 != len(c.token) {
		return false
	}
	for rest := tok; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		o, num, _ := strings.Cut(part, ":")
		c.token[o], _ = strconv.ParseUint(num, 10, 64)
	}
	c.text, c.merged = tok, tok
	return true
}
