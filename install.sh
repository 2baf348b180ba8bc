#!/usr/bin/env bash
# install.sh: set up ordermerge on a Debian machine. Idempotent: run it again at any time.
#   1. installs the Debian packages the project needs (only those missing), with apt-get;
#   2. builds the ordermerge binary (Go modules come through the Go module proxy);
#   3. puts it on PATH: /usr/local/bin when run as root, else ~/.local/bin (override: BINDIR=...);
#   4. installs the Jupyter kernelspec "ordermerge" (Go cells in Jupyter).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '[install] %s\n' "$*"; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

# libopenblas-dev + pkg-config: the fast matmul path of the trainer (cgo).
# jupyter-client, jupyter-nbconvert, python3-nbclient, jupyter-console, python3-ipykernel,
# python3-notebook: the Jupyter clients the kernel is used and tested with (ipykernel is the
# peer of the kernel benchmark). python3-torch: the peer of the training benchmark and the
# reference the model's math is checked against. g++: builds the CPU emulation of CUDA that
# the CUDA device is tested with (compute/cuda/emulator), and compiles kernels there.
# python3-jinja2: the chat-template reference (the renderer transformers uses). nodejs + npm:
# the tokenizer and chat-template reference tests install Hugging Face's own libraries from npm
# (into a temporary folder) and run them. slurm-wlm and munge: the real one-node Slurm that
# the cluster tests start and stop themselves (cluster/slurmtest; no service is set up).
packages=(libopenblas-dev pkg-config jupyter-client jupyter-nbconvert python3-nbclient
  jupyter-console python3-ipykernel python3-notebook python3-torch g++ python3-jinja2 slurm-wlm munge)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# node and npm count as present whichever package brought them (Debian's nodejs and npm, or a
# nodejs build that bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install: ${missing[*]}"
    sudo="sudo"
  fi
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  say "Debian packages present: ${packages[*]} nodejs npm"
fi

command -v go >/dev/null || die "Go is not on PATH (need Go 1.26 or newer: https://go.dev/dl/)"
gov=$(go env GOVERSION)
case "$gov" in
  go1.2[6-9]* | go1.[3-9][0-9]*) ;;
  *) die "need Go 1.26 or newer, found $gov" ;;
esac

if [ -z "${BINDIR:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then BINDIR=/usr/local/bin; else BINDIR="$HOME/.local/bin"; fi
fi
mkdir -p "$BINDIR"
say "building ordermerge ($gov) into $BINDIR"
go build -trimpath -o "$BINDIR/ordermerge.new" ./cmd/ordermerge || die "go build failed"
mv -f "$BINDIR/ordermerge.new" "$BINDIR/ordermerge"
case ":$PATH:" in
  *":$BINDIR:"*) ;;
  *) say "note: $BINDIR is not on your PATH; add it: export PATH=\"$BINDIR:\$PATH\"" ;;
esac

if "$BINDIR/ordermerge" help 2>/dev/null | grep -q '^  install-kernel '; then
  say "installing the Jupyter kernelspec"
  "$BINDIR/ordermerge" install-kernel || die "ordermerge install-kernel failed"
fi
say "done: $("$BINDIR/ordermerge" help | head -1 | sed 's/usage: //') is ready"
