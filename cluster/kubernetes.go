package cluster

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kubernetes manifests of a plan.
const (
	KubernetesDir      = "kubernetes"
	KubeTrainFile      = "train.yaml"  // the plan's ConfigMap and the Indexed Job
	KubeFinishFile     = "finish.yaml" // the merge Job
	kubePlanMount      = "/etc/ordermerge"
	kubeCompletionEnv  = "JOB_COMPLETION_INDEX"
	kubeVolumeName     = "work"
	kubePlanVolumeName = "plan"
)

// KubernetesOptions place a plan on a Kubernetes cluster.
type KubernetesOptions struct {
	// Image is the container image with the ordermerge binary (required).
	Image string
	// Namespace of the Jobs and the ConfigMap ("": the current one of kubectl).
	Namespace string
	// VolumeClaim is a PersistentVolumeClaim (ReadWriteMany, shared by all pods) that holds
	// the output folder and any input file of the plan; it is mounted at MountPath, under
	// which every path of the plan must lie.
	VolumeClaim string
	MountPath   string
	// GPUs per task (resource nvidia.com/gpu); CPU and Memory are requests and limits per
	// task ("4", "16Gi"); the merge Job gets the same CPU and memory, and FinishGPUs.
	GPUs       int
	FinishGPUs int
	CPU        string
	Memory     string
	// Parallelism is the number of tasks running at once (0: all K).
	Parallelism int
	// BackoffLimit is the number of pod failures the Indexed Job tolerates in all (0: 3 per
	// variant). A restarted pod resumes its variant from the checkpoint on the volume.
	BackoffLimit int
}

// Kubernetes object shapes, as far as the manifests use them (field names are the API's).
type (
	kubeMeta struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace,omitempty"`
		Labels    map[string]string `yaml:"labels,omitempty"`
	}
	kubeObject struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   kubeMeta          `yaml:"metadata"`
		Data       map[string]string `yaml:"data,omitempty"`
		Spec       *kubeJobSpec      `yaml:"spec,omitempty"`
	}
	kubeJobSpec struct {
		CompletionMode string          `yaml:"completionMode,omitempty"`
		Completions    int             `yaml:"completions"`
		Parallelism    int             `yaml:"parallelism"`
		BackoffLimit   int             `yaml:"backoffLimit"`
		Template       kubePodTemplate `yaml:"template"`
	}
	kubePodTemplate struct {
		Metadata kubeMeta    `yaml:"metadata"`
		Spec     kubePodSpec `yaml:"spec"`
	}
	kubePodSpec struct {
		RestartPolicy string          `yaml:"restartPolicy"`
		Containers    []kubeContainer `yaml:"containers"`
		Volumes       []kubeVolume    `yaml:"volumes"`
	}
	kubeContainer struct {
		Name         string           `yaml:"name"`
		Image        string           `yaml:"image"`
		Command      []string         `yaml:"command"`
		Resources    *kubeResources   `yaml:"resources,omitempty"`
		VolumeMounts []kubeMountPoint `yaml:"volumeMounts"`
	}
	kubeResources struct {
		Requests map[string]string `yaml:"requests,omitempty"`
		Limits   map[string]string `yaml:"limits,omitempty"`
	}
	kubeMountPoint struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly,omitempty"`
	}
	kubeVolume struct {
		Name                  string          `yaml:"name"`
		PersistentVolumeClaim *kubeClaimRef   `yaml:"persistentVolumeClaim,omitempty"`
		ConfigMap             *kubeConfigMapV `yaml:"configMap,omitempty"`
	}
	kubeClaimRef struct {
		ClaimName string `yaml:"claimName"`
	}
	kubeConfigMapV struct {
		Name string `yaml:"name"`
	}
)

func (o KubernetesOptions) resources(gpus int) *kubeResources {
	r := &kubeResources{Requests: map[string]string{}, Limits: map[string]string{}}
	if o.CPU != "" {
		r.Requests["cpu"], r.Limits["cpu"] = o.CPU, o.CPU
	}
	if o.Memory != "" {
		r.Requests["memory"], r.Limits["memory"] = o.Memory, o.Memory
	}
	if gpus > 0 {
		r.Limits["nvidia.com/gpu"] = strconv.Itoa(gpus)
	}
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return nil
	}
	return r
}

// under reports whether p lies in dir (both absolute, slash-separated).
func under(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// KubernetesManifests returns the plan as two manifests: train (a ConfigMap holding the plan
// and an Indexed Job of K completions, JOB_COMPLETION_INDEX choosing the variant and its order
// seed) and finish (the merge Job, `ordermerge finish` with the plan from the ConfigMap). Apply
// the first, wait for the Job to complete, then apply the second (Kubernetes Jobs have no
// dependencies of their own); KubernetesCommands says how.
func (p *Plan) KubernetesManifests(o KubernetesOptions) (train, finish []byte, err error) {
	if err := p.Check(); err != nil {
		return nil, nil, err
	}
	if o.Image == "" {
		return nil, nil, fmt.Errorf("kubernetes: no container image (the image must hold the ordermerge binary)")
	}
	if o.VolumeClaim == "" {
		return nil, nil, fmt.Errorf("kubernetes: no volume claim (a PersistentVolumeClaim shared by the pods, holding the output folder)")
	}
	if o.MountPath == "" {
		o.MountPath = "/data"
	}
	if !path.IsAbs(o.MountPath) {
		return nil, nil, fmt.Errorf("kubernetes: mount path %q is not absolute", o.MountPath)
	}
	for what, v := range map[string]string{"output folder": p.Out, "base": p.Base, "init config": p.Init, "training data": p.Data, "evaluation data": p.EvalData} {
		if v == "" || strings.HasPrefix(v, "embedded:") {
			continue
		}
		if !under(filepath.ToSlash(v), o.MountPath) {
			return nil, nil, fmt.Errorf("kubernetes: the %s %s is not under the volume's mount path %s, so the pods cannot see it", what, v, o.MountPath)
		}
	}
	if o.GPUs < 0 || o.FinishGPUs < 0 || o.Parallelism < 0 || o.BackoffLimit < 0 {
		return nil, nil, fmt.Errorf("kubernetes: GPUs, parallelism and backoff limit must not be negative")
	}
	parallelism := o.Parallelism
	if parallelism == 0 || parallelism > p.K {
		parallelism = p.K
	}
	backoff := o.BackoffLimit
	if backoff == 0 {
		backoff = 3 * p.K
	}
	labels := map[string]string{"app.kubernetes.io/name": "ordermerge", "ordermerge/plan": p.Name}
	planJSON, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	work := kubeVolume{Name: kubeVolumeName, PersistentVolumeClaim: &kubeClaimRef{ClaimName: o.VolumeClaim}}
	workMount := kubeMountPoint{Name: kubeVolumeName, MountPath: o.MountPath}

	var script strings.Builder
	fmt.Fprintf(&script, "set -eu\ncase \"$%s\" in\n", kubeCompletionEnv)
	for i := 0; i < p.K; i++ {
		fmt.Fprintf(&script, "  %d) seed=%d ;;\n", i, p.Seed(i))
	}
	fmt.Fprintf(&script, "  *) echo \"ordermerge: this plan has no variant $%s\" >&2; exit 2 ;;\nesac\n", kubeCompletionEnv)
	cmd := append([]string{p.Binary, "train"}, p.TrainArgs...)
	fmt.Fprintf(&script, "exec %s --order-seed \"$seed\" --out %s/\"variant-$%s\"\n", shellJoin(cmd), shellQuote(p.Out), kubeCompletionEnv)

	configMap := kubeObject{
		APIVersion: "v1", Kind: "ConfigMap",
		Metadata: kubeMeta{Name: p.Name + "-plan", Namespace: o.Namespace, Labels: labels},
		Data:     map[string]string{PlanFile: string(planJSON) + "\n"},
	}
	job := kubeObject{
		APIVersion: "batch/v1", Kind: "Job",
		Metadata: kubeMeta{Name: p.Name + "-train", Namespace: o.Namespace, Labels: labels},
		Spec: &kubeJobSpec{
			CompletionMode: "Indexed", Completions: p.K, Parallelism: parallelism, BackoffLimit: backoff,
			Template: kubePodTemplate{
				Metadata: kubeMeta{Labels: labels},
				Spec: kubePodSpec{
					// OnFailure restarts a failed container in its pod; the task resumes from
					// the checkpoint on the volume. An evicted pod gets a new one, which does too.
					RestartPolicy: "OnFailure",
					Containers: []kubeContainer{{
						Name: "train", Image: o.Image, Command: []string{"/bin/sh", "-c", script.String()},
						Resources: o.resources(o.GPUs), VolumeMounts: []kubeMountPoint{workMount},
					}},
					Volumes: []kubeVolume{work},
				},
			},
		},
	}
	finishJob := kubeObject{
		APIVersion: "batch/v1", Kind: "Job",
		Metadata: kubeMeta{Name: p.Name + "-finish", Namespace: o.Namespace, Labels: labels},
		Spec: &kubeJobSpec{
			Completions: 1, Parallelism: 1, BackoffLimit: 2,
			Template: kubePodTemplate{
				Metadata: kubeMeta{Labels: labels},
				Spec: kubePodSpec{
					RestartPolicy: "OnFailure",
					Containers: []kubeContainer{{
						Name: "finish", Image: o.Image, Command: append(append([]string{p.Binary, "finish"}, p.FinishArgs...), kubePlanMount+"/"+PlanFile),
						Resources:    o.resources(o.FinishGPUs),
						VolumeMounts: []kubeMountPoint{workMount, {Name: kubePlanVolumeName, MountPath: kubePlanMount, ReadOnly: true}},
					}},
					Volumes: []kubeVolume{work, {Name: kubePlanVolumeName, ConfigMap: &kubeConfigMapV{Name: configMap.Metadata.Name}}},
				},
			},
		},
	}
	header := fmt.Sprintf("# ordermerge plan %s: %d order variants (seeds %d..%d). Written by ordermerge submit kubernetes.\n", p.Out, p.K, p.Seed(0), p.Seed(p.K-1))
	train, err = yamlDocs(header+"# The plan (read by the merge Job) and the Indexed Job: one completion per variant.\n", configMap, job)
	if err != nil {
		return nil, nil, err
	}
	finish, err = yamlDocs(header+"# The merge Job: apply it once the Indexed Job is complete.\n", finishJob)
	return train, finish, err
}

func yamlDocs(header string, docs ...kubeObject) ([]byte, error) {
	var b strings.Builder
	b.WriteString(header)
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		y, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		b.Write(y)
	}
	return []byte(b.String()), nil
}

// KubernetesCommands are the kubectl commands that run the manifests written into dir.
func (p *Plan) KubernetesCommands(dir string, o KubernetesOptions) []string {
	ns := ""
	if o.Namespace != "" {
		ns = " -n " + shellQuote(o.Namespace)
	}
	return []string{
		"kubectl apply -f " + shellQuote(filepath.Join(dir, KubeTrainFile)),
		"kubectl wait" + ns + " --for=condition=complete --timeout=-1s job/" + p.Name + "-train",
		"kubectl apply -f " + shellQuote(filepath.Join(dir, KubeFinishFile)),
		"kubectl logs" + ns + " -f job/" + p.Name + "-finish",
	}
}
