//go:build !amd64 || purego

package vecmath

const useAsm = false

func expShift(dst, src *float32, n int, shift float32) float32 { panic("unreachable") }

func swigluFwd(h, gate, u *float32, n int) { panic("unreachable") }

func swigluBwd(dg, du, h, gate, u, dh *float32, n int) { panic("unreachable") }
