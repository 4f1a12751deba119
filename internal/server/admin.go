package server

import (
	"encoding/json"
	"net/http"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
)

// handleRole changes the instance's role (DESIGN.md section 10): "liege"
// promotes a vassal (liege promote, or the second half of a switchover),
// "vassal" demotes a liege (the first half of a switchover).
func (s *Server) handleRole(r *http.Request) (any, error) {
	b, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	var req httpapi.RoleRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, badRequest(`body must be {"role": "liege"} or {"role": "vassal"}: %v`, err)
	}
	if s.db.PeerID() == "" {
		return nil, &Error{Status: http.StatusConflict, Code: CodeBadRequest,
			Message: "this instance is not replicated (serve it with --peer-id): it has no role to change"}
	}
	switch req.Role {
	case liege.RoleLiege, liege.RoleVassal:
		if err := s.db.SetRole(r.Context(), req.Role, req.Force); err != nil {
			return nil, engineError(err)
		}
		return &httpapi.RoleAnswer{Role: req.Role}, nil
	}
	return nil, badRequest(`role must be "liege" or "vassal", not %q`, req.Role)
}

// handleQuiesce stops or resumes new transactions for a switchover.
func (s *Server) handleQuiesce(r *http.Request) (any, error) {
	b, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	var req httpapi.QuiesceRequest
	if err := json.Unmarshal(b, &req); err != nil || req.On == nil {
		return nil, badRequest(`body must be {"on": true} or {"on": false}`)
	}
	s.db.Quiesce(*req.On)
	return &httpapi.QuiesceAnswer{Quiesced: *req.On}, nil
}
