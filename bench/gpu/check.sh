#!/usr/bin/env bash
# check.sh OUTDIR: the GPU check, run on the GPU machine from the folder bench/gpu/build.sh
# filled. It runs every CUDA test on the real device, the training benchmark against PyTorch
# eager with bf16 autocast on the same Llama (about 125M and about 1B parameters, context
# 1024), and the generation benchmark against a PyTorch KV-cache loop, and writes a one-page
# summary (summary.md) plus the logs to OUTDIR. It is sized for about 8 minutes on one H200.
# PYTHON names the Python with PyTorch (default: python3). For a dry run of this script on a
# machine without a GPU: ORDERMERGE_CUDA_TEST=emulator ORDERMERGE_CUDA_LIBS=<emulator libs>
# TORCH=false SIZE=tiny.
set -uo pipefail
out=${1:?usage: check.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${PYTHON:-python3}
cd "$here"
# The compiled kernels are cached outside OUTDIR (only the logs and the summary come back).
export ORDERMERGE_CUDA_TEST=${ORDERMERGE_CUDA_TEST:-real} XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/ordermerge-check-cache}
start=$(date +%s)
log() { printf '== %s (%ds)\n' "$*" $(($(date +%s) - start)); }

log "machine"
{ nvidia-smi 2>&1 | head -20; "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' 2>&1; } >"$out/machine.txt"
cat "$out/machine.txt"

log "CUDA device tests (cuda.test)"
./cuda.test -test.v -test.timeout 300s >"$out/tests.log" 2>&1
tests=$?
grep -E '^(--- |ok|FAIL|PASS)' "$out/tests.log" | grep -v '^--- PASS' | tail -40
grep -E 'main_test.go.*cuda:' "$out/tests.log" | head -1

run() { # name, command...
  local name=$1
  shift
  log "$name"
  timeout 240 "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -5 "$out/$name.log"
  return $rc
}
torch=${TORCH:-true}
small=${SIZE:-gpu125m}
large=${SIZE:-gpu1b}
run train-125m ./bench-train -torch="$torch" -config "$small" -device cuda -precision bf16 -steps 20 -warmup 5 -repeat 1 -python "$py"
t125=$?
run train-1b ./bench-train -torch="$torch" -config "$large" -device cuda -precision bf16 -steps 12 -warmup 4 -repeat 1 -python "$py"
t1b=$?
run generate-125m ./bench-generate -torch="$torch" -config "$small" -device cuda -precision bf16 -batch 16 -prompt 128 -new 256 -repeat 1 -python "$py"
g125=$?
run generate-1b ./bench-generate -torch="$torch" -config "$large" -device cuda -precision bf16 -batch 16 -prompt 128 -new 128 -repeat 1 -python "$py"
g1b=$?

log "summary"
{
  echo "# GPU check ($(cat COMMIT 2>/dev/null || echo unknown commit), $(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo '```'
  head -12 "$out/machine.txt"
  echo '```'
  echo
  echo "## CUDA device tests: $([ $tests -eq 0 ] && echo PASS || echo FAIL)"
  echo
  echo '```'
  grep -E '^(--- FAIL|--- SKIP|ok|FAIL|PASS)|main_test.go.*cuda:' "$out/tests.log" | head -40
  echo '```'
  echo
  echo "## Benchmarks (ordermerge vs PyTorch, same model, batch and precision)"
  echo
  echo "| benchmark | ordermerge | PyTorch | ratio |"
  echo "|---|---|---|---|"
  for f in train-125m train-1b generate-125m generate-1b; do
    grep '^RESULT ' "$out/$f.log" | sed 's/^RESULT //' | "$py" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    k = "tokens_per_s" if r["bench"] == "train" else "decode_tokens_per_s"
    print("| %s %s %s | %.0f tok/s | %.0f tok/s | %.2fx |" % (r["bench"], r["config"], r["precision"], r["go"][k], r["torch"][k], r["ratio"]))
' 2>/dev/null || echo "| $f | failed: see $f.log | | |"
  done
  echo
  echo "exit codes: tests $tests, train-125m $t125, train-1b $t1b, generate-125m $g125, generate-1b $g1b; $(($(date +%s) - start)) s in all"
} >"$out/summary.md"
cat "$out/summary.md"
[ $tests -eq 0 ] && [ $t125 -eq 0 ] && [ $t1b -eq 0 ] && [ $g125 -eq 0 ] && [ $g1b -eq 0 ]
