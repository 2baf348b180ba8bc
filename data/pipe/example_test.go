package pipe_test

import (
	"fmt"

	"github.com/ordermerge/ordermerge/data/pipe"
)

func ExampleRun() {
	out, err := pipe.Run("map x*x | filter x>5 | sum", "[1 2 3 4]")
	fmt.Println(out, err)
	_, err = pipe.Run("map x/0", "[1]")
	fmt.Println(err)
	// Output:
	// 25 <nil>
	// pipe: map at offset 0: division by zero (x = 1)
}
