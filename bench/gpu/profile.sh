#!/usr/bin/env bash
# profile.sh OUTDIR [bench-train flags]: the GPU time of each kernel over a short training run,
# read with Nsight Compute (ncu) on the GPU machine, from the folder bench/gpu/build.sh filled.
# It writes ordermerge.csv (one row per launch) and ordermerge.md (time per kernel name,
# largest first, over all launches, with its share) to OUTDIR, and the same for the PyTorch
# peer (torch.*; TORCH=false skips it). The clocks are left as they are
# (--clock-control none) and caches are not flushed between kernels, so the times are those
# of the run itself, one kernel at a time (ncu serialises launches).
set -uo pipefail
out=${1:?usage: profile.sh OUTDIR [bench-train flags]}
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${PYTHON:-python3}
ncu=${NCU:-$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)}
[ -n "$ncu" ] || { echo "profile.sh: no ncu (Nsight Compute) here" >&2; exit 1; }
cd "$here"
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(-config gpu125m -device cuda -precision bf16 -steps 1 -warmup 1 -repeat 1)
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/ordermerge-check-cache}
summarise() { # csv: the time per kernel name
  "$py" - "$1" <<'PY'
import csv, sys, collections
rows = [r for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"'))]
t, n = collections.Counter(), collections.Counter()
for r in rows:
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    v = float(r["Metric Value"].replace(",", ""))
    v *= {"nsecond": 1e-9, "usecond": 1e-6, "msecond": 1e-3, "second": 1.0}.get(r.get("Metric Unit", ""), 1e-9)
    name = r["Kernel Name"].split("(")[0][:70]
    t[name] += v
    n[name] += 1
total = sum(t.values()) or 1
print("| kernel | launches | GPU ms | share |\n|---|---|---|---|")
for name, v in t.most_common(40):
    print("| %s | %d | %.3f | %.1f%% |" % (name, n[name], v * 1e3, 100 * v / total))
print("\n%d launches, %.1f ms of GPU time in all" % (sum(n.values()), total * 1e3))
PY
}
prof() { # name, command...: ncu over the command into OUTDIR/name.csv, name.log, name.md
  local name=$1
  shift
  echo "== $name"
  timeout "${LIMIT:-240}" "$ncu" --clock-control none --cache-control none --metrics gpu__time_duration.sum \
    --print-units base --csv --log-file "$out/$name.csv" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -3 "$out/$name.log"
  summarise "$out/$name.csv" >"$out/$name.md" 2>&1
  cat "$out/$name.md"
  return $rc
}
prof ordermerge ./bench-train -torch=false "${flags[@]}"
rc=$?
# TORCH_ARGS: the PyTorch peer's flags for the same run (the default matches gpu125m).
if [ "${TORCH:-true}" = true ]; then
  read -ra targs <<<"${TORCH_ARGS:---dim 768 --layers 12 --heads 12 --kv-heads 12 --ffn 2048 --vocab 32000 --ctx 1024 --batch 16 --steps 1 --warmup 1 --device cuda --precision bf16}"
  prof torch "$py" torch_train.py "${targs[@]}" || rc=1
fi
exit $rc
