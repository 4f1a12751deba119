// Package inspect reads a stopped instance directory without changing it:
// it decodes the journal (Records), works out the state the engine would
// recover at its next open (Recover), and checks everything an operator or a
// crash test wants to trust before that open (Verify).
//
// Every function takes a shared lock on the directory with
// journal.CheckFree for as long as it reads, so it fails with a
// *journal.InUseError while an instance runs there, and an instance cannot
// start underneath it. None of them writes: a torn tail is reported, not
// truncated, and an interrupted rollback is reported, not finished. What the
// engine would do about them at its next open is part of the answer.
//
// journalctl (cmd/journalctl) is the command-line front end; crash tests
// call Verify and Recover directly to check what a killed process left
// behind.
package inspect
