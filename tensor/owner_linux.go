package tensor

import (
	"os"
	"strconv"
	"strings"
)

// processStart returns the start time of process pid in clock ticks since boot (field 22 of
// /proc/PID/stat), or 0 if there is no such running process.
func processStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces and parentheses itself:
	// the fields after it start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 { // state is field 3, starttime field 22
		return 0
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0 // a zombie (killed, not yet reaped by its parent) or dead: not running
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// processExists reports whether a process with this PID runs on this host (a zombie, killed
// but not yet reaped by its parent, does not).
func processExists(pid int) bool {
	return processStart(pid) != 0
}
