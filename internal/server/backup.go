package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// handleBackup streams an online backup of the instance (liege.DB.Backup):
// a tar archive of its directory with a checkpoint taken now. liege backup
// is its client; docs/operations.md says how to restore.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	// A backup of a large instance takes longer than the server's write
	// timeout, if it has one.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "liege-"+s.db.ID()+".tar"))
	w.Header().Set("Trailer", "Liege-Backup-Error")
	info, err := s.db.Backup(r.Context(), w)
	if err != nil {
		// The archive has begun: the trailer says it is incomplete (the
		// client checks it, and a tar cut short does not end well).
		w.Header().Set("Liege-Backup-Error", err.Error())
		s.log.Error("backup failed", "error", err)
		return
	}
	w.Header().Set("Liege-Backup-Error", "")
	s.log.Info("backup sent", "checkpoint_pos", info.CheckpointPos, "files", info.Files, "bytes", info.Bytes,
		"remote", r.RemoteAddr, "checkpoint", strconv.FormatUint(info.CheckpointPos, 10))
}
