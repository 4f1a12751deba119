// Package link carries replication frames between two instances.
//
// A Frame is one message of the protocol of DESIGN.md sections 5 and 8
// (Hello, Txn, Heartbeat, Resend, RollbackCommand, RollbackAnswer, ReconLog,
// Ack). On the wire it is a 4-byte big-endian body length and a msgpack body
// encoded with the journal's settings (Encode, Decode).
//
// Conn is a connection, with its contract written on the interface. Two
// implementations keep it, held to it by one conformance suite:
//
//   - TCP (ListenTCP, DialTCP): mutual TLS, both certificates from the CA
//     given in Config.TLS (see TLSConfig), and the peer's instance id taken
//     from its certificate; plaintext only with Config.Plaintext.
//   - In-memory (Pipe, MemNetwork): for tests and the deterministic
//     simulation, with message-level faults (drop, duplicate, reorder,
//     partition, cut) decided by a caller's seeded random source.
//
// Both encode and decode every frame and enforce the same size limit
// (Config.MaxFrame, MemOptions.MaxFrame; DefaultMaxFrame). A frame over the
// limit or one that does not decode closes the connection with a logged
// reason; the reader never allocates a claimed length over the limit.
//
// Caveats: the link does not compare protocol versions, check clusters
// (see CheckCluster) or interpret watermarks; that is the replication
// protocol's work. With TLS 1.3 a listener checks the dialer's certificate
// after the dialer's handshake is done, so a dialer the listener refuses
// learns it from its first Recv, and the listener logs why.
package link
