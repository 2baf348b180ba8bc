// Package crashtest holds what the crash tests of several packages share. A crash test kills
// a process at one step of writing its output, then checks what a later run finds; the steps
// are fault points of package tensor, hit deterministically, never a matter of timing.
//
// The fault points read the variables named here only in test binaries (testing.Testing), so
// no user's environment can trigger them. A test runs the process once with TraceEnv set to
// learn every point it reaches (Points), then once per point with FaultEnv set to that point,
// and compares folders by Snapshot.
package crashtest
