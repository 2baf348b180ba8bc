//go:build !amd64 || purego

package vec

const useAsm = false

func mulTo(a *float64, x *float32, w float64, n int) { panic("unreachable") }

func addMul(a *float64, x *float32, w float64, n int) { panic("unreachable") }

func narrow(o *float32, a *float64, s float64, n int) { panic("unreachable") }

func sumSqDiff(d *[4]float64, x, y *float32, n int) { panic("unreachable") }

func countEqual(x, y *float32, n int) int64 { panic("unreachable") }
