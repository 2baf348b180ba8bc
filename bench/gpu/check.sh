#!/usr/bin/env bash
# check.sh OUTDIR: the GPU check, run on the GPU machine from the folder bench/gpu/build.sh
# filled. It runs every CUDA test on the real device, the training benchmark against PyTorch
# eager with bf16 autocast on the same Llama (about 125M and about 1B parameters, context
# 1024), and the generation benchmark against a PyTorch KV-cache loop, and writes a one-page
# summary (summary.md) plus the logs to OUTDIR. It takes about 3 minutes on one H200.
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

# BUDGET is the whole run's wall-clock budget in seconds: each step's time limit is its own
# cap or what is left of the budget (less the summary's reserve), so the script ends inside
# the budget with whatever it measured. STEPS picks the steps, in order (a rerun of the
# failed ones, say).
budget=${BUDGET:-480}
steps=${STEPS:-tests train-125m generate-125m train-1b generate-1b}
limit() { # cap: seconds this step may take
  local left=$((budget - ($(date +%s) - start) - 15))
  [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}

log "machine"
{
  nvidia-smi 2>&1 | head -20
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' 2>&1
  echo "python: $(command -v "$py")"
  echo "libraries the dynamic linker knows:"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libnvrtc|libffi' | head -12
  echo "CUDA toolkits: $(ls -d /usr/local/cuda* 2>/dev/null | tr '\n' ' ')"
} >"$out/machine.txt"
cat "$out/machine.txt"

declare -A rc
run() { # name, cap, command...
  local name=$1 cap=$2
  shift 2
  local t
  t=$(limit "$cap")
  if [ "$t" -lt 20 ]; then
    log "$name: skipped, the budget is spent"
    rc[$name]=skipped
    return
  fi
  log "$name (limit ${t}s)"
  timeout "$t" "$@" >"$out/$name.log" 2>&1
  rc[$name]=$?
  tail -5 "$out/$name.log"
}
torch=${TORCH:-true}
small=${SIZE:-gpu125m}
large=${SIZE:-gpu1b}
for s in $steps; do
  case $s in
  tests) run tests 150 ./cuda.test -test.v -test.timeout 140s ;;
  train-125m) run train-125m 100 ./bench-train -torch="$torch" -config "$small" -device cuda -precision bf16 -steps 10 -warmup 3 -repeat 1 -python "$py" ;;
  generate-125m) run generate-125m 60 ./bench-generate -torch="$torch" -config "$small" -device cuda -precision bf16 -batch 16 -prompt 128 -new 256 -repeat 1 -python "$py" ;;
  train-125m-tf32) run train-125m-tf32 80 ./bench-train -torch="$torch" -config "$small" -device cuda -precision tf32 -steps 10 -warmup 3 -repeat 1 -python "$py" ;;
  train-1b) run train-1b 120 ./bench-train -torch="$torch" -config "$large" -device cuda -precision bf16 -steps 6 -warmup 2 -repeat 1 -python "$py" ;;
  generate-1b) run generate-1b 90 ./bench-generate -torch="$torch" -config "$large" -device cuda -precision bf16 -batch 16 -prompt 128 -new 128 -repeat 1 -python "$py" ;;
  cli) LIMIT=${CLI_LIMIT:-256} run cli 200 ./cli.sh /tmp/ordermerge-cli ;;
  *) echo "unknown step $s" >&2 ;;
  esac
done
if [ -f "$out/tests.log" ]; then
  grep -E '^(--- |ok|FAIL|PASS)' "$out/tests.log" | grep -v '^--- PASS' | tail -40
fi

log "summary"
{
  echo "# GPU check ($(cat COMMIT 2>/dev/null || echo unknown commit), $(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo '```'
  head -12 "$out/machine.txt"
  echo '```'
  echo
  echo "## CUDA device tests: $([ "${rc[tests]:-}" = 0 ] && echo PASS || echo "FAIL (${rc[tests]:-not run})")"
  echo
  echo '```'
  grep -E '^(--- FAIL|--- SKIP|ok|FAIL|PASS)|main_test.go.*cuda:' "$out/tests.log" 2>/dev/null | head -40
  echo '```'
  echo
  echo "## Benchmarks (ordermerge vs PyTorch, same model, batch and precision)"
  echo
  echo "| benchmark | ordermerge | PyTorch | ratio |"
  echo "|---|---|---|---|"
  for f in train-125m train-125m-tf32 train-1b generate-125m generate-1b; do
    [ -f "$out/$f.log" ] || continue
    grep '^RESULT ' "$out/$f.log" | sed 's/^RESULT //' | "$py" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    k = "tokens_per_s" if r["bench"] == "train" else "decode_tokens_per_s"
    print("| %s %s %s | %.0f tok/s | %.0f tok/s | %.2fx |" % (r["bench"], r["config"], r["precision"], r["go"][k], r["torch"][k], r["ratio"]))
' 2>/dev/null || echo "| $f | failed: see $f.log | | |"
  done
  echo
  echo -n "exit codes:"
  for k in "${!rc[@]}"; do echo -n " $k ${rc[$k]}"; done
  echo "; $(($(date +%s) - start)) s in all"
} >"$out/summary.md"
cat "$out/summary.md"
for k in "${!rc[@]}"; do [ "${rc[$k]}" = 0 ] || exit 1; done
