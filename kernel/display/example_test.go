package display_test

import (
	"context"
	"fmt"

	"github.com/ordermerge/ordermerge/kernel/display"
)

// table renders itself as HTML; it does not import the kernel, matching the method is enough.
type table struct{ rows [][2]string }

func (t table) HTML() string {
	s := "<table>"
	for _, r := range t.rows {
		s += "<tr><td>" + r[0] + "</td><td>" + r[1] + "</td></tr>"
	}
	return s + "</table>"
}

func (t table) String() string { return fmt.Sprintf("table with %d rows", len(t.rows)) }

func ExampleBundle() {
	data, err := display.Bundle(table{rows: [][2]string{{"linear", "0.41"}}})
	if err != nil {
		panic(err)
	}
	fmt.Println(data["text/html"])
	fmt.Println(data["text/plain"])
	// Output:
	// <table><tr><td>linear</td><td>0.41</td></tr></table>
	// table with 1 rows
}

// printer is a Publisher that prints what a cell would show.
type printer struct{}

func (printer) PublishDisplay(data, _ map[string]any, id string, update bool) error {
	fmt.Println(update, data["text/plain"])
	return nil
}

func ExampleDisplay_Update() {
	d := display.New(display.Host{Publisher: printer{}, Context: context.Background})
	id := d.NewID()
	d.ShowID(id, "epoch 1")
	d.Update(id, "epoch 2")
	// Output:
	// false "epoch 1"
	// true "epoch 2"
}
