#!/usr/bin/python3
"""PyTorch peer of `npm run bench:train`: the same GPT-2 (HF GPT-2 block, tanh GELU,
tied embedding), batch, clipped AdamW, on the CPU with the same thread count.

    /usr/bin/python3 scripts/bench-train-torch.py --layers 4 --dim 256 --heads 4 --seq 128 --batch 8 --vocab 32

Needs Debian's python3-torch (+ libopenblas0-pthread). Stepwise itself never needs Python.
Last line: `tokens/s N`.

Threads: --threads sets PyTorch's own (torch.set_num_threads); OpenBLAS, which does the matrix
products, keeps a thread pool of its own, as many threads as cores unless --blas-threads says
otherwise. On the 2-core machine the two pools together oversubscribe the cores: the defaults
(--threads 2, OpenBLAS's 2) ran at about 460 ms/step, --threads 1 --blas-threads 2 at about 190.
"""
import argparse
import math
import os
import statistics
import time

p = argparse.ArgumentParser()
for name, default in [("layers", 4), ("dim", 256), ("heads", 4), ("seq", 128), ("batch", 8), ("vocab", 32), ("steps", 20), ("warmup", 3), ("threads", 2)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--blas-threads", type=int, help="OpenBLAS's threads (default: its own, one per core)")
p.add_argument("--flush-denormals", action="store_true", help="flush denormal floats to zero (by default kept, as Stepwise's sessions keep them)")
a = p.parse_args()
if a.blas_threads:
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.blas_threads)  # read when the library loads, with torch

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(a.threads)
torch.set_flush_denormal(a.flush_denormals)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.H)
        att = torch.where(mask[:T, :T], att, torch.tensor(torch.finfo(att.dtype).min))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, L, C, H, T, V):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, ids, labels):
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(T))
        for blk in self.h:
            x = blk(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


model = GPT2(a.layers, a.dim, a.heads, a.seq, a.vocab)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
ids = torch.randint(0, a.vocab, (a.batch, a.seq))
labels = ids.clone()


def step():
    opt.zero_grad(set_to_none=True)
    loss = model(ids, labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.steps):
    t0 = time.perf_counter()
    loss = step()
    times.append((time.perf_counter() - t0) * 1e3)
ms = statistics.median(times)
n = sum(p.numel() for p in model.parameters())
print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, OpenBLAS {os.environ.get('OPENBLAS_NUM_THREADS', 'its default')}, denormals {'flushed' if a.flush_denormals else 'kept'}; {n:,} parameters; loss {loss:.4f}")
print(f"ms/step (median of {a.steps}): {ms:.1f}  [min {min(times):.1f}, max {max(times):.1f}]")
print(f"tokens/s {a.batch * a.seq / (ms / 1e3):.0f}")
