#!/usr/bin/env bash
# cli.sh WORKDIR: the command line on the GPU, end to end, from the folder bench/gpu/build.sh
# filled: `ordermerge devices`; the same fine-tuning run (model, data, seeds) on the GPU in
# bf16 mixed precision and on the CPU in f32; each model evaluated on the GPU, the CPU-trained
# one on the CPU too (the two devices' scores of one model should agree); and
# `repro --quick` on the GPU. LIMIT training samples (default 512), EVAL_LIMIT evaluated ones
# (default 100); REPRO=false skips the study.
set -euo pipefail
work=${1:?usage: cli.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$(dirname "$0")"
[ -x ordermerge ] || { gunzip -kf ordermerge.gz && chmod +x ordermerge; }
om=./ordermerge
dev=${DEVICE:-cuda}
limit=${LIMIT:-512}
step() { printf '\n== %s\n' "$*"; }

step devices
$om devices
cat >"$work/cfg.json" <<'J'
{"hidden_size": 256, "intermediate_size": 704, "num_hidden_layers": 4, "num_attention_heads": 8,
 "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
 "rope_theta": 10000, "tie_word_embeddings": false}
J
train() { # out, device, precision
  step "train on $2 ($3)"
  /usr/bin/time -f "%e s wall" $om train --data embedded:arith --init "$work/cfg.json" --out "$work/$1" \
    --device "$2" --precision "$3" --epochs 2 --limit "$limit" --log-every 50 | tail -4
  grep -iE 'peak|device' "$work/$1/train.log" | tail -2 || true
}
train gpu "$dev" bf16
train cpu cpu f32
for m in "gpu $dev" "cpu $dev" "cpu cpu"; do
  set -- $m
  step "eval the $1-trained model on $2"
  $om eval --model "$work/$1" --data arith --device "$2" --limit "${EVAL_LIMIT:-100}" --results - | tail -4
done
if [ "${REPRO:-true}" = true ]; then
  step "repro --quick on $dev"
  /usr/bin/time -f "%e s wall" $om repro --quick --device "$dev" --train-precision bf16 --out "$work/repro" | tail -15
fi
