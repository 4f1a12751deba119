package engine

// FlushOutsideStep makes everything appended durable the way a flush
// outside a Step does (retention's before it truncates the journal's
// front, a checkpoint's): the Node is not told.
func (in *Instance) FlushOutsideStep() error { return in.flush() }
