"""A whole sft training run in plain PyTorch, for sft's trainer test.

It trains the model of CHECKPOINT_DIR (the Llama transcription of
model/llama/testdata/llama_reference.py) on the samples of RUN_JSON, visiting them in the
order the Go trainer recorded (the order's RNG is the trainer's own; the arithmetic is what is
compared): per step, the step's samples in micro-batches, each sample weighing 1/n of the step
(its loss the mean over its response tokens), gradients accumulated, clipped with
torch.nn.utils.clip_grad_norm_, then torch.optim.AdamW with no decay on norms, at the
learning rate of the documented warmup + cosine schedule computed here.

usage: train_reference.py CHECKPOINT_DIR RUN_JSON OUT_SAFETENSORS OUT_JSON
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "model", "llama", "testdata"))
from llama_reference import forward, read_safetensors, write_safetensors  # noqa: E402


def lr_at(c, step, total):
    w = c["warmup_steps"]
    if step <= w:
        return c["lr"] * step / w
    p = (step - w - 1) / (total - w)
    return c["min_lr"] + (c["lr"] - c["min_lr"]) * 0.5 * (1 + math.cos(math.pi * p))


def pack(samples, pad):
    T = max(len(s["tokens"]) - 1 for s in samples)
    inputs = torch.full((len(samples), T), pad, dtype=torch.long)
    targets = torch.full((len(samples), T), -1, dtype=torch.long)
    for b, s in enumerate(samples):
        toks, pl = s["tokens"], max(s["prompt_len"], 1)
        for t in range(len(toks) - 1):
            inputs[b, t] = toks[t]
            if t + 1 >= pl:
                targets[b, t] = toks[t + 1]
    return inputs, targets


def main():
    ck, run_path, out_tensors, out_json = sys.argv[1:5]
    cfg = json.load(open(os.path.join(ck, "config.json")))
    params = read_safetensors(os.path.join(ck, "model.safetensors"))
    for t in params.values():
        t.requires_grad_(True)
    run = json.load(open(run_path))
    c = run["config"]
    decay = [t for n, t in params.items() if not n.endswith("norm.weight")]
    no_decay = [t for n, t in params.items() if n.endswith("norm.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])
    samples = {s["id"]: s for s in run["samples"]}
    steps = run["steps"]
    out = []
    for k, ids in enumerate(steps):
        step = k + 1
        lr = lr_at(c, step, len(steps))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        n = len(ids)
        losses = []
        for mb in range(0, n, c["micro_batch_size"]):
            batch = [samples[i] for i in ids[mb:mb + c["micro_batch_size"]]]
            inputs, targets = pack(batch, c["pad_id"])
            B, T = inputs.shape
            logits = forward(cfg, params, inputs)
            keep = targets >= 0
            ce = torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), targets.clamp(min=0).reshape(-1), reduction="none").view(B, T)
            per = (ce * keep).sum(1) / keep.sum(1)
            (per.sum() / n).backward()
            losses += per.tolist()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), c["clip_norm"])
        opt.step()
        out.append({"step": step, "loss": sum(losses) / n, "grad_norm": float(norm), "lr": lr, "losses": losses})
    write_safetensors(out_tensors, {n: t for n, t in params.items()})
    json.dump(out, open(out_json, "w"))


if __name__ == "__main__":
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    main()
