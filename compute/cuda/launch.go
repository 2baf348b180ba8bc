//go:build linux

package cuda

import (
	"fmt"
)

// dim3 is a launch's grid or block size.
type dim3 [3]uint32

func d1(x int) dim3    { return dim3{uint32(x), 1, 1} }
func d2(x, y int) dim3 { return dim3{uint32(x), uint32(y), 1} }

const maxArgs = 64

// launch queues kernel name with the given geometry and arguments (each one 8-byte slot:
// pointers and long longs fill it, ints and floats its low 4 bytes, as cuLaunchKernel reads
// sizeof(parameter) bytes from each). The caller holds the lock.
func (d *Device) launch(name string, grid, block dim3, shared int, args ...uint64) {
	fn, ok := d.fns[name]
	if !ok {
		panic(fmt.Errorf("cuda: no kernel %q", name))
	}
	if len(args) > maxArgs {
		panic(fmt.Errorf("cuda: kernel %s with %d arguments", name, len(args)))
	}
	for _, g := range grid {
		if g == 0 {
			return // nothing to do
		}
	}
	if d.record != nil {
		d.record(name, args)
	}
	for i, v := range args {
		d.args.putU64(8*i, v)
		d.args.putU64(8*maxArgs+8*i, uint64(d.args.ptr(8*i)))
	}
	r := status(call(d.a.cuLaunchKernel, fn,
		uintptr(grid[0]), uintptr(grid[1]), uintptr(grid[2]),
		uintptr(block[0]), uintptr(block[1]), uintptr(block[2]),
		uintptr(shared), 0, d.args.ptr(8*maxArgs), 0))
	d.check(fmt.Sprintf("launch %s (grid %v, block %v, %d bytes shared)", name, grid, block, shared), r)
}

// threads is the block size for elementwise kernels.
const threads = 256

// blocks1D is the grid size for a grid-stride loop over n elements: enough blocks to fill
// the GPU, no more than the elements need.
func (d *Device) blocks1D(n int64) int {
	if n <= 0 {
		return 0
	}
	return int(min((n+threads-1)/threads, int64(d.sms)*32))
}

// rowThreads is the block size for kernels with one block per row of width w: a multiple of
// 32, up to 1024.
func rowThreads(w int) int {
	t := (w + 31) / 32 * 32
	return min(max(t, 32), 1024)
}

// elementwise queues a grid-stride kernel over n elements.
func (d *Device) elementwise(name string, n int64, args ...uint64) {
	d.launch(name, d1(d.blocks1D(n)), d1(threads), 0, args...)
}
