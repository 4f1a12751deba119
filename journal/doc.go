// Package journal is the journal of a Liege instance (DESIGN.md section
// 3): the append-only sequence of records that recovery, replication and
// rollback all read, and the single source of truth for an instance's
// state.
//
// The main types:
//
//   - Record and its parts: what a journal position holds. Encoder and
//     Decoder turn records into frames and back (msgpack, see
//     MsgpackHandle), with no I/O.
//   - Journal: group-committing appends of frames, reads, and truncation
//     of either end, over a Log.
//   - Log: the storage under a Journal, with a written contract. Open runs
//     a Journal on tidwall/wal segment files in an instance directory;
//     OpenLog runs one on any Log, such as a MemLog, which models a crash
//     from a seeded random source for simulation.
//   - Scan, ListSegments, RepairTail: the file log's checks, also used
//     read-only by inspection tools.
//   - LockDir, CheckFree, WriteFramedFile, SyncDir: the files around the
//     journal in an instance directory.
//
// # Durability contract
//
// This is what the code does, in order; the engine (the root package)
// does steps 5 and 6.
//
//  1. Frame. A record is encoded (Encoder.Frame) and put in a frame: one
//     format version byte (FrameVersion), a CRC32C (Castagnoli) of the
//     version byte and the payload, then the payload. An empty frame is
//     never valid.
//  2. Append. The executor calls Journal.Append(pos, frame) with pos =
//     Next(). The frame is copied into the batch being filled; nothing is
//     written and nobody is told yet. Append blocks while
//     Options.BatchMax frames already wait for the writer.
//  3. Group commit. The writer goroutine takes every frame appended since
//     its last batch and writes them with one Log.Write, then calls
//     Log.Sync once for all of them: many transactions share one fsync.
//     The file log fsyncs the tail segment, and then the directory if the
//     batch made tidwall/wal create a segment file.
//  4. Durable. Only when Sync has returned nil does the writer advance
//     Durable() to the batch's last position and call Options.OnDurable.
//  5. Acknowledge. The engine answers a committing client from OnDurable
//     (or at once when its position is already durable), never before:
//     an acknowledged record was covered by an fsync that completed.
//  6. Ship. The replication stream reads only positions up to Durable(),
//     so a record reaches the peer only once it is durable here. Steps 5
//     and 6 both wait for step 4, but not for each other: a record may be
//     shipped before its client has been answered.
//  7. Failure is fatal. A failed write, fsync, directory fsync or
//     truncation stops the journal with a *FatalError: OnFatal is called
//     once, every later Append, Flush, WaitDurable, TruncateAfter and
//     TruncateBefore returns it, and the failed batch is never reported
//     durable, even if it reached the disk. After a failed fsync the
//     kernel may have dropped the dirty pages, so the journal never
//     retries: the instance is reopened and recovers from the disk.
//  8. Torn tail at open. Before tidwall/wal reads the files, Scan checks
//     the frame of every entry of every segment. Damage in the last
//     segment after which no valid frame follows (a torn write, a
//     zero-filled tail, a last record damaged in any byte) is a torn tail: its
//     records were never acknowledged (step 5), so Open truncates the
//     segment file at the last valid entry, fsyncs it, and reports what
//     it cut in Journal.Repair. OpenLog then removes a torn last entry
//     that a Log left in place (a MemLog after Crash).
//     A disk that lied about an fsync breaks that premise, so the caller
//     may know better: OpenFileLogGuarded asks a guard before cutting
//     (the engine refuses when a checkpoint at or above the torn position
//     proves it was acknowledged, leaving every file as it was), and a
//     replicated engine that did cut a tail takes no call until its peer's
//     handshake says which own OSeqs the peer holds (DESIGN.md section 3).
//  9. Damage elsewhere is refused. Damage anywhere else (a segment that
//     is not the last, an entry followed by a valid one, a missing
//     segment) makes Open fail with a *DamageError naming the file, byte
//     offset and position; nothing on disk is changed. OpenLog likewise
//     refuses a Log whose last two entries are both bad, or whose last
//     entry is whole but of another format version.
//  10. Directory fsync. The instance directory is fsynced after the
//     journal directory is created, and the journal directory after
//     tidwall/wal opens it (it may create the first segment), after a
//     batch that created a segment file (before that batch is durable,
//     step 4), and after every truncation (wal renames and removes
//     segment files).
//  11. One process. The engine holds LockDir on the instance directory
//     for its whole life; Open assumes that lock is held. Read-only tools
//     take CheckFree instead.
//
// Truncation: TruncateAfter removes the back of the journal (rollback) and
// needs every appended frame durable first (Flush); TruncateBefore removes
// the front up to a durable position (retention). Both are durable when
// they return.
package journal
