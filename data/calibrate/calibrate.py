#!/usr/bin/python3
"""Calibrate the embedded datasets' difficulty with a tiny Llama-style model in PyTorch.

Not a test: a tool, run by hand when the task generators change (see README.md beside it).
Reads what `go run ./data/calibrate export DIR` wrote, and
  1. pre-trains a base model on a mixture of every task's corpus split (fresh samples, none
     in train or test) for --base-seconds,
  2. fine-tunes a copy of the base on each task's train split for --epochs epochs,
  3. generates greedily on each test split (untrained model, base, fine-tuned) and writes
     DIR/NAME/gen-{untrained,base,sft}.jsonl for `calibrate score DIR` to score with the
     project's own metrics.
Mirrors the project's defaults: RMSNorm, RoPE, SwiGLU, untied LM head, loss on response
tokens only, per-sample mean loss averaged over the batch, AdamW with warmup + cosine.
"""
import argparse, json, math, os, random, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(s, d, h, hid):
        super().__init__()
        s.h = h
        s.n1, s.n2 = RMS(d), RMS(d)
        s.qkv = nn.Linear(d, 3 * d, bias=False)
        s.o = nn.Linear(d, d, bias=False)
        s.gate = nn.Linear(d, hid, bias=False)
        s.up = nn.Linear(d, hid, bias=False)
        s.down = nn.Linear(hid, d, bias=False)

    def forward(s, x, cos, sin, mask, past=None):
        B, T, D = x.shape
        q, k, v = s.qkv(s.n1(x)).view(B, T, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        s.kv = (k, v)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        # A large finite value, not -inf: a left-padding query sees only masked keys, and an
        # all -inf row would turn into NaN and reach real tokens through 0 * NaN.
        a = att.masked_fill(~mask, -1e9).softmax(-1) @ v
        x = x + s.o(a.transpose(1, 2).reshape(B, T, D))
        y = s.n2(x)
        return x + s.down(F.silu(s.gate(y)) * s.up(y))


class RMS(nn.Module):
    def __init__(s, d, eps=1e-5):
        super().__init__()
        s.w = compute.Parameter(torch.ones(d))
        s.eps = eps

    def forward(s, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps) * s.w


def rope(x, cos, sin):
    x1, x2 = x[..., ::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2)


class Model(nn.Module):
    def __init__(s, vocab, d, layers, heads, ctx):
        super().__init__()
        hid = int(8 * d / 3 / 32 + 0.999) * 32
        s.emb = nn.Embedding(vocab, d)
        s.blocks = nn.ModuleList(Block(d, heads, hid) for _ in range(layers))
        s.norm = RMS(d)
        s.head = nn.Linear(d, vocab, bias=False)
        hd = d // heads
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        s.register_buffer("inv", inv, persistent=False)
        for p in s.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(s, ids, pos, keymask, cache=None):
        # pos: [B,T] positions of ids; keymask: [B,S] True for real tokens among all S keys
        # (cached ones first). With a cache, the new tokens follow every cached one.
        B, T = ids.shape
        S = keymask.shape[1]
        ang = pos[:, None, :, None].float() * s.inv
        cos, sin = ang.cos(), ang.sin()
        causal = torch.ones(S, S, dtype=torch.bool).tril()[S - T:]
        mask = causal[None, None] & keymask[:, None, None, :]
        x = s.emb(ids)
        for i, b in enumerate(s.blocks):
            x = b(x, cos, sin, mask, None if cache is None else cache[i])
        return s.head(s.norm(x)), [b.kv for b in s.blocks]


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f]


def batches(rows, bs, rng):
    idx = list(range(len(rows)))
    rng.shuffle(idx)
    for i in range(0, len(idx), bs):
        yield [rows[j] for j in idx[i:i + bs]]


def make_batch(rows, pad):
    T = max(len(r["tokens"]) for r in rows) - 1
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    tgt = torch.full((len(rows), T), -100, dtype=torch.long)
    for b, r in enumerate(rows):
        t = r["tokens"]
        ids[b, :len(t) - 1] = torch.tensor(t[:-1])
        tt = torch.tensor(t[1:])
        tt[: r["prompt_len"] - 1] = -100
        tgt[b, :len(t) - 1] = tt
    pos = torch.arange(T).expand(len(rows), T)
    return ids, tgt, pos, ids != pad


def loss_fn(model, rows, pad):
    ids, tgt, pos, km = make_batch(rows, pad)
    logits, _ = model(ids, pos, torch.ones_like(km))
    l = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none", ignore_index=-100)
    n = (tgt != -100).sum(1).clamp(min=1)
    return (l.sum(1) / n).mean()


def train(model, rows, pad, steps_or_seconds, lr, bs, seed, epochs=None, seconds=None, log=""):
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    total = epochs * math.ceil(len(rows) / bs) if epochs else steps_or_seconds
    warm = max(1, total // 20)
    step, t0, toks = 0, time.time(), 0
    done = False
    while not done:
        for b in batches(rows, bs, rng):
            frac = step / total
            cur = lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
            for g in opt.param_groups:
                g["lr"] = cur
            loss = loss_fn(model, b, pad)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            toks += sum(len(r["tokens"]) for r in b)
            step += 1
            if step % 100 == 0:
                print(f"  {log} step {step}/{total} loss {loss.item():.3f} {toks / (time.time() - t0):.0f} tok/s", flush=True)
            if step >= total or (seconds and time.time() - t0 > seconds):
                done = True
                break
    return step, time.time() - t0, toks


@torch.no_grad()
def generate(model, prompts, eos, pad, max_new, bs=50):
    out = []
    model.eval()
    for i in range(0, len(prompts), bs):
        ps = prompts[i:i + bs]
        L = max(len(p) for p in ps)
        ids = torch.full((len(ps), L), pad, dtype=torch.long)
        for b, p in enumerate(ps):  # left padding, so every row's next token is at the end
            ids[b, L - len(p):] = torch.tensor(p)
        gen = [[] for _ in ps]
        alive = [True] * len(ps)
        km = ids != pad
        pos = (km.long().cumsum(1) - 1).clamp(min=0)
        cache, step_ids = None, ids
        for _ in range(max_new):
            logits, cache = model(step_ids, pos, km, cache)
            nxt = logits[:, -1].argmax(-1)
            for b in range(len(ps)):
                if alive[b]:
                    if nxt[b].item() == eos:
                        alive[b] = False
                    else:
                        gen[b].append(nxt[b].item())
            if not any(alive):
                break
            step_ids = nxt[:, None]
            pos = pos[:, -1:] + 1
            km = torch.cat([km, torch.ones(len(ps), 1, dtype=torch.bool)], 1)
        out += gen
    model.train()
    return out


def write_gen(path, ids, gens):
    with open(path, "w") as f:
        for i, g in zip(ids, gens):
            f.write(json.dumps({"id": i, "tokens": g}) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--tag", default="", help="suffix of the gen-*.jsonl files, to keep several runs")
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--base-steps", type=int, default=800)
    ap.add_argument("--base-seconds", type=float, default=0, help="stop the base early after this long (0: no limit)")
    ap.add_argument("--base-lr", type=float, default=2e-3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--bs", type=int, default=16, help="base batch size")
    ap.add_argument("--sft-bs", type=int, default=8)
    ap.add_argument("--base-full-loss", action="store_true", help="base: loss on prompt tokens too (plain language modelling)")
    ap.add_argument("--max-new", type=int, default=48)
    ap.add_argument("--tasks", default="")
    ap.add_argument("--test-n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="seeds the initialisation and both data orders")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    eos, pad, V = meta["eos"], meta["pad"], meta["vocab_size"]
    tasks = a.tasks.split(",") if a.tasks else meta["tasks"]
    model = Model(V, a.dim, a.layers, a.heads, 128)
    print(f"params {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M threads {torch.get_num_threads()}", flush=True)
    untrained = {k: v.clone() for k, v in model.state_dict().items()}
    base_file = os.path.join(a.dir, f"base-d{a.dim}-l{a.layers}-s{a.base_steps}-lr{a.base_lr}-bs{a.bs}{'-full' if a.base_full_loss else ''}{f'-seed{a.seed}' if a.seed else ''}.pt")
    if a.base_steps > 0 and os.path.exists(base_file):
        model.load_state_dict(torch.load(base_file))
        print(f"base: loaded {base_file}", flush=True)
    elif a.base_steps > 0:
        corpus = [r for t in meta["tasks"] for r in load(os.path.join(a.dir, t, "corpus.jsonl"))]
        if a.base_full_loss:
            corpus = [dict(r, prompt_len=1) for r in corpus]
        steps, secs, toks = train(model, corpus, pad, a.base_steps, a.base_lr, a.bs, 1 + 10 * a.seed, seconds=a.base_seconds, log="base")
        print(f"base: {steps} steps {secs:.0f}s {toks / secs:.0f} tok/s", flush=True)
        torch.save(model.state_dict(), base_file)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    for t in tasks:
        d = os.path.join(a.dir, t)
        test = load(os.path.join(d, "test.jsonl"))[: a.test_n]
        prompts, ids = [r["prompt"] for r in test], [r["id"] for r in test]
        model.load_state_dict(untrained)
        t0 = time.time()
        write_gen(os.path.join(d, f"gen-untrained{a.tag}.jsonl"), ids, generate(model, prompts, eos, pad, a.max_new))
        gen_s = time.time() - t0
        if a.base_steps > 0:
            model.load_state_dict(base)
            write_gen(os.path.join(d, f"gen-base{a.tag}.jsonl"), ids, generate(model, prompts, eos, pad, a.max_new))
        model.load_state_dict(base)
        train_rows = load(os.path.join(d, "train.jsonl"))
        steps, secs, toks = train(model, train_rows, pad, 0, a.lr, a.sft_bs, 2 + 10 * a.seed, epochs=a.epochs, log=t)
        write_gen(os.path.join(d, f"gen-sft{a.tag}.jsonl"), ids, generate(model, prompts, eos, pad, a.max_new))
        print(f"{t}: sft {steps} steps {secs:.0f}s {toks / secs:.0f} tok/s; untrained gen {gen_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
