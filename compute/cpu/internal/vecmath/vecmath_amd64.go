//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go

// useAsm is fixed at start-up by the CPU.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expShift(dst, src *float32, n int, shift float32) float32

//go:noescape
func swigluFwd(h, gate, u *float32, n int)

//go:noescape
func swigluBwd(dg, du, h, gate, u, dh *float32, n int)
