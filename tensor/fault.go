package tensor

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/internal/crashtest"
)

// Crash tests kill a run at each step of writing an output and check what a later run finds.
// They do it through these hooks instead of timing, so every step is hit, every time.
//
// Only test binaries read the variables of package crashtest: testing.Testing is false in
// every program built with 'go build', so nothing in a user's environment can make ordermerge
// kill itself or skip the atomic exchange. (A build tag would do the same, but the command's
// crash tests would then need a second build of the whole tree; with testing.Testing the test
// binary of cmd/ordermerge runs itself as the command.)

// faultPoint marks a step at which a crash test may stop the process (crashtest.FaultEnv).
func faultPoint(name string) {
	if !testing.Testing() {
		return
	}
	trace := os.Getenv(crashtest.TraceEnv)
	if trace == "" {
		return
	}
	f, err := os.OpenFile(trace, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(fmt.Sprintf("fault trace %s: %v", trace, err))
	}
	fmt.Fprintln(f, name)
	f.Close()
	target, stop := strings.CutSuffix(os.Getenv(crashtest.FaultEnv), ":stop")
	if point, _, _ := strings.Cut(target, "#"); point != name {
		return
	}
	if b, _ := os.ReadFile(trace); !crashtest.Reached(b, target) {
		return
	}
	faultStop(stop)
}

// exchangeDisabled reports whether a crash test asked for the fallback path
// (crashtest.NoExchangeEnv).
func exchangeDisabled() bool {
	return testing.Testing() && os.Getenv(crashtest.NoExchangeEnv) == "1"
}
