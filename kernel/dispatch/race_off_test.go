//go:build !race

package dispatch

const raceEnabled = false

const raceSkip = ""
