#!/usr/bin/env bash
# bench/gpu/build.sh DIR: builds, where Go is, everything the GPU check needs into DIR, to be
# copied to a GPU machine that has no Go toolchain and no network:
#   cuda.test       the CUDA device's tests (go test -c ./compute/cuda), run on the real GPU
#   bench-train     the training benchmark (bench/train) and its PyTorch peer torch_train.py
#   bench-generate  the generation benchmark (bench/generate) and torch_generate.py
#   ordermerge.gz   the CLI, for cli.sh (the command line on the GPU, end to end)
#   check.sh        runs all of it: DIR/check.sh OUTDIR (profile.sh: GPU time per kernel)
# The binaries are CGO_ENABLED=0: they need nothing on the GPU machine but its C library (the
# CUDA libraries are loaded at run time), and none of them carries the Jupyter kernel's
# interpreter tables.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bench/gpu/build.sh DIR" >&2
  exit 2
fi
dir=$1
cd "$(dirname "$0")/../.."
mkdir -p "$dir"
export CGO_ENABLED=0
go test -c -trimpath -o "$dir/cuda.test" ./compute/cuda
go build -trimpath -o "$dir/bench-train" ./bench/train
go build -trimpath -o "$dir/bench-generate" ./bench/generate
# The CLI itself, for cli.sh: stripped and compressed (it carries the kernel's interpreter
# tables), about 12 MB.
go build -trimpath -ldflags="-s -w" -o "$dir/ordermerge" ./cmd/ordermerge
gzip -f "$dir/ordermerge"
cp bench/train/torch_train.py bench/generate/torch_generate.py bench/gpu/check.sh bench/gpu/profile.sh bench/gpu/cli.sh "$dir/"
chmod +x "$dir/check.sh" "$dir/profile.sh" "$dir/cli.sh"
git rev-parse HEAD >"$dir/COMMIT" 2>/dev/null || true
du -sh "$dir"
