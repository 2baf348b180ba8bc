package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/cluster"
)

// A notebook cell submits with the command line's flags, shows the status in one output that
// it updates in place (display.NewID / display.Update in the kernel; a print here), and loads
// what the jobs wrote once they ended. Interrupting the cell cancels ctx: the watching stops,
// the jobs go on; job.Cancel would stop them.
func Example_notebook() {
	ctx := context.Background() // display.Context() in a cell
	job, err := cluster.Submit(ctx, "--data", "embedded:arith", "--init", "tiny.json", "--epochs", "2",
		"--variants", "3", "--out", "/shared/runs/arith", "--methods", "linear,parameter_selection", "--gres", "gpu:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := job.Watch(ctx, 10*time.Second, func(s *cluster.Status) {
		fmt.Println(s.Counts()) // display.Update(id, s) renders the whole table
	})
	if err != nil || !st.Done() {
		fmt.Println(st, err) // job.Requeue(ctx) runs failed tasks again from their checkpoints
		return
	}
	variants, _ := job.Variants() // []*llama.Model, in order-seed order
	merges, _ := job.Merges()     // every merge with its score
	res, _ := job.Results()       // the report's numbers; a cell shows it as verdicts and table
	fmt.Println(len(variants), len(merges), res.Verdicts())
}

func ExampleParseMethods() {
	specs, err := cluster.ParseMethods("linear:include_base=false,parameter_selection:resample=true,ties:density=0.3")
	if err != nil {
		panic(err)
	}
	for _, s := range specs {
		fmt.Printf("%s: %s %v\n", s.Name, s.Method, s.Params)
	}
	// Output:
	// weighted average: linear map[include_base:false]
	// param. selection + resampling: parameter_selection map[resample:true]
	// ties:density=0.3: ties map[density:0.3]
}

func ExamplePlan_SlurmScripts() {
	p := &cluster.Plan{Out: "/shared/runs/arith", Binary: "/opt/bin/ordermerge", K: 2, FirstSeed: 1,
		TrainArgs: []string{"--data=embedded:arith", "--init=/shared/tiny.json", "--epochs=2"},
		Data:      "embedded:arith", Init: "/shared/tiny.json", EvalData: "embedded:arith"}
	if err := p.Check(); err != nil {
		panic(err)
	}
	train, finish, err := p.SlurmScripts(cluster.SlurmOptions{Partition: "gpu", Gres: "gpu:1", Time: "2:00:00"})
	if err != nil {
		panic(err)
	}
	for _, l := range strings.Split(train+finish, "\n") {
		if strings.HasPrefix(l, "#SBATCH --array") || strings.HasPrefix(l, "#SBATCH --gres") || strings.HasPrefix(l, "exec ") {
			fmt.Println(l)
		}
	}
	// Output:
	// #SBATCH --array=0-1
	// #SBATCH --gres=gpu:1
	// exec /opt/bin/ordermerge train --data=embedded:arith --init=/shared/tiny.json --epochs=2 --order-seed "$seed" --out /shared/runs/arith/"variant-$task"
	// #SBATCH --gres=gpu:1
	// exec /opt/bin/ordermerge finish /shared/runs/arith
}
