package httpapi

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Token is a session token: for each instance id (origin), the highest
// OSeq whose effects a client has seen. Its text form, in the "token" of
// every answer and the min_token of a request, is "A:17,B:4".
type Token map[string]uint64

// String formats the token as "A:17,B:4", origins sorted; the empty token
// is "".
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

// ParseToken parses the form String produces; the empty string is the
// empty token. An origin named twice keeps its larger OSeq. It is strict,
// as the server is: no spaces (see the client's ParseToken for a lenient
// one).
func ParseToken(s string) (Token, error) {
	t := Token{}
	if s == "" {
		return t, nil
	}
	for _, part := range strings.Split(s, ",") {
		o, n, ok := strings.Cut(part, ":")
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
