package devices

import (
	"fmt"

	"github.com/ordermerge/ordermerge/compute"
)

func openCUDA(n Name, opt Options) (compute.Device, error) {
	return nil, fmt.Errorf("device %s: CUDA support is not built yet", n)
}
