package cluster

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decodeStrict decodes one YAML document into a Kubernetes API type, refusing any field the
// API does not have (Kubernetes' own types are the reference).
func decodeStrict(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("not a valid %T: %v\n%s", into, err, doc)
	}
}

func kubePlan(t *testing.T) *Plan {
	p := testPlan(t)
	p.Out = "/data/runs/study1"
	p.Init = "/data/cfg/tiny.json"
	p.TrainArgs = []string{"--data=embedded:arith", "--init=/data/cfg/tiny.json", "--epochs=2"}
	p.Binary = "ordermerge"
	p.Name = "study1"
	return p
}

// TestKubernetesManifests checks the manifests against the Kubernetes API types and their
// meaning: an Indexed Job of K completions whose completion index picks the variant and its
// seed, the plan in a ConfigMap, and a merge Job that runs ordermerge finish on it.
func TestKubernetesManifests(t *testing.T) {
	p := kubePlan(t)
	o := KubernetesOptions{Image: "registry.example/ordermerge:1", Namespace: "ml", VolumeClaim: "shared", MountPath: "/data",
		GPUs: 1, CPU: "4", Memory: "16Gi", Parallelism: 2}
	train, finish, err := p.KubernetesManifests(o)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(train), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("train.yaml has %d documents, want the ConfigMap and the Job", len(docs))
	}
	var cm corev1.ConfigMap
	decodeStrict(t, docs[0], &cm)
	var job batchv1.Job
	decodeStrict(t, docs[1], &job)
	var merge batchv1.Job
	decodeStrict(t, string(finish), &merge)

	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name != "study1-plan" || cm.Namespace != "ml" {
		t.Errorf("ConfigMap: %+v", cm.TypeMeta)
	}
	var inMap Plan
	if err := json.Unmarshal([]byte(cm.Data[PlanFile]), &inMap); err != nil || inMap.Out != p.Out || inMap.K != p.K {
		t.Errorf("the ConfigMap's plan: %v %+v", err, inMap)
	}

	s := job.Spec
	if job.Kind != "Job" || job.APIVersion != "batch/v1" || job.Name != "study1-train" || job.Namespace != "ml" {
		t.Errorf("Job: %+v %s", job.TypeMeta, job.Name)
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 3 || *s.Parallelism != 2 || *s.BackoffLimit != 9 {
		t.Errorf("Indexed Job spec: mode %v completions %v parallelism %v backoff %v", s.CompletionMode, *s.Completions, *s.Parallelism, *s.BackoffLimit)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyOnFailure || len(pod.Containers) != 1 || len(pod.Volumes) != 1 ||
		pod.Volumes[0].PersistentVolumeClaim == nil || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "shared" {
		t.Fatalf("pod: %+v", pod)
	}
	ctr := pod.Containers[0]
	if ctr.Image != o.Image || len(ctr.VolumeMounts) != 1 || ctr.VolumeMounts[0].MountPath != "/data" || ctr.VolumeMounts[0].Name != pod.Volumes[0].Name {
		t.Errorf("container: %+v", ctr)
	}
	if g := ctr.Resources.Limits["nvidia.com/gpu"]; g.String() != "1" || ctr.Resources.Requests.Cpu().String() != "4" || ctr.Resources.Limits.Memory().String() != "16Gi" {
		t.Errorf("resources: %+v", ctr.Resources)
	}
	// The container's script, run as the pod would run it for each completion index.
	if len(ctr.Command) != 3 || ctr.Command[0] != "/bin/sh" || ctr.Command[1] != "-c" {
		t.Fatalf("command: %q", ctr.Command)
	}
	bin, argsFile := fakeBinary(t)
	for i := 0; i < p.K; i++ {
		script := strings.Replace(ctr.Command[2], "exec ordermerge ", "exec "+bin+" ", 1)
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+string(rune('0'+i)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("index %d: %v\n%s", i, err, out)
		}
		if got, want := readArgs(t, argsFile), p.TrainCommand(i)[1:]; !slices.Equal(got, want) {
			t.Errorf("index %d ran %q, want %q", i, got, want)
		}
	}

	ms := merge.Spec
	if merge.Name != "study1-finish" || ms.CompletionMode != nil || *ms.Completions != 1 {
		t.Errorf("merge Job: %s %+v", merge.Name, ms)
	}
	mc := ms.Template.Spec.Containers[0]
	if !slices.Equal(mc.Command, []string{"ordermerge", "finish", "/etc/ordermerge/plan.json"}) {
		t.Errorf("merge command %q", mc.Command)
	}
	if _, ok := mc.Resources.Limits["nvidia.com/gpu"]; ok {
		t.Errorf("the merge Job asks for GPUs without FinishGPUs")
	}
	var planVolume *corev1.Volume
	for i := range ms.Template.Spec.Volumes {
		if v := &ms.Template.Spec.Volumes[i]; v.ConfigMap != nil {
			planVolume = v
		}
	}
	if planVolume == nil || planVolume.ConfigMap.Name != cm.Name || len(mc.VolumeMounts) != 2 || mc.VolumeMounts[1].MountPath != "/etc/ordermerge" {
		t.Errorf("the merge Job does not mount the plan: %+v %+v", ms.Template.Spec.Volumes, mc.VolumeMounts)
	}
	cmds := p.KubernetesCommands("k8s", o)
	if len(cmds) != 4 || !strings.Contains(cmds[1], "kubectl wait -n ml --for=condition=complete --timeout=-1s job/study1-train") {
		t.Errorf("commands: %q", cmds)
	}
}

func TestKubernetesManifestsRefuse(t *testing.T) {
	p := kubePlan(t)
	ok := KubernetesOptions{Image: "img", VolumeClaim: "shared"}
	for _, c := range []struct {
		change func(*Plan, *KubernetesOptions)
		want   string
	}{
		{func(p *Plan, o *KubernetesOptions) { o.Image = "" }, "no container image"},
		{func(p *Plan, o *KubernetesOptions) { o.VolumeClaim = "" }, "no volume claim"},
		{func(p *Plan, o *KubernetesOptions) { o.MountPath = "/mnt" }, "not under the volume's mount path /mnt"},
		{func(p *Plan, o *KubernetesOptions) { p.Init = "/home/me/tiny.json" }, "init config /home/me/tiny.json is not under"},
		{func(p *Plan, o *KubernetesOptions) { o.GPUs = -1 }, "must not be negative"},
		{func(p *Plan, o *KubernetesOptions) { o.MountPath = "data" }, "not absolute"},
	} {
		q, o := *p, ok
		c.change(&q, &o)
		if _, _, err := q.KubernetesManifests(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q: %v", c.want, err)
		}
	}
}
