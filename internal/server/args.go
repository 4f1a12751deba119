package server

import "github.com/liege-db/liege/internal/httpapi"

// decodeArgs decodes a call's args (one valid JSON value: they come from a
// body already decoded or checked) into v, refusing unknown fields, as
// decodeStrict does: by httpapi.LeanArgs when the arguments are a flat
// struct written plainly, else by decodeStrict.
func decodeArgs(a []byte, v any) error {
	if httpapi.LeanArgs(a, v) {
		return nil
	}
	return decodeStrict(a, v)
}
