//go:build linux

package cuda

// Record makes d tell f every kernel launch and cuBLAS product it queues (nil stops it); f
// runs under the device's lock, in queue order.
func Record(d *Device, f func(name string, args []uint64)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.record = f
}
