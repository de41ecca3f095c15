#!/usr/bin/python3
"""PyTorch twin of a Bentevi LoRA run (bench/lora_twin.ts), for the "loss within 1 %" check.

Reads what the Bentevi run wrote — the base checkpoint, the initial adapter in PEFT's format
(adapter-init/: the same A, B = 0) and losses.json (steps, batch shape, learning rate, seed) —
rebuilds the base with bench/reference/train_torch.py's model classes (imported, not copied),
freezes it, wraps each adapted nn.Linear with y = base(x) + (alpha/r)·(x·Aᵀ)·Bᵀ, and trains the
adapters alone with the same sampler (train_torch.Sampler, a port of Bentevi's BatchLoader), the
same warmup + cosine schedule, AdamW (β 0.9/0.95, ε 1e-8, decay on A and B as Bentevi's decay
mask has it) and global-norm clipping at 1. Prints both loss curves side by side every 10 steps
and one line `RESULT {json}` with the relative difference at the last step.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 \\
  /usr/bin/python3 bench/reference/lora_torch.py --run /tmp/lora/twin --train PREFIX.train.bin
"""
import argparse, json, os, sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_torch import Sampler, learning_rate, load_bentevi, read_safetensors, read_tokens  # noqa: E402


class LoraLinear(nn.Module):
    """A frozen nn.Linear plus (alpha/r)·(x·Aᵀ)·Bᵀ (PEFT's LoRA without dropout)."""

    def __init__(s, base, A, B, scale):
        super().__init__()
        s.base, s.scale = base, scale
        s.A = nn.Parameter(A.clone())
        s.B = nn.Parameter(B.clone())

    def forward(s, x):
        return s.base(x) + s.scale * ((x @ s.A.t()) @ s.B.t())


def modules(model, arch):
    """PEFT module path → (parent, attribute) of the twin's nn.Linear."""
    out = {}
    for i, b in enumerate(model.blocks):
        if arch == "gpt":
            names = {"attn.c_attn": "c_attn", "attn.c_proj": "c_proj", "mlp.c_fc": "c_fc", "mlp.c_proj": "mlp_proj"}
            for peft, ours in names.items():
                out[f"transformer.h.{i}.{peft}"] = (b, ours)
        elif arch == "llama":
            names = {"self_attn.q_proj": "q", "self_attn.k_proj": "k", "self_attn.v_proj": "v", "self_attn.o_proj": "o",
                     "mlp.gate_proj": "gate", "mlp.up_proj": "up", "mlp.down_proj": "down"}
            for peft, ours in names.items():
                out[f"model.layers.{i}.{peft}"] = (b, ours)
        else:
            raise SystemExit("lora_torch.py: the twin covers GPT-2 and Llama")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="the directory bench/lora_twin.ts wrote")
    ap.add_argument("--train", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    run = json.load(open(f"{a.run}/losses.json"))
    model, cfg = load_bentevi(run["base"])
    for p in model.parameters():
        p.requires_grad_(False)
    conf = json.load(open(f"{a.run}/adapter-init/adapter_config.json"))
    r, alpha = conf["r"], conf["lora_alpha"]
    tensors = read_safetensors(f"{a.run}/adapter-init/adapter_model.safetensors")
    prefix = "base_model.model."
    paths = sorted({k[len(prefix):].rsplit(".lora_", 1)[0] for k in tensors})
    where = modules(model, cfg["arch"])
    adapters = []
    for path in paths:
        parent, attr = where[path]
        lin = LoraLinear(getattr(parent, attr), tensors[f"{prefix}{path}.lora_A.weight"],
                         tensors[f"{prefix}{path}.lora_B.weight"], alpha / r)
        setattr(parent, attr, lin)
        adapters += [lin.A, lin.B]
    B, T, steps, lr = run["batchSize"], run["context"], run["steps"], run["lr"]
    opt = torch.optim.AdamW(adapters, lr=lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=run["weightDecay"])
    train = read_tokens(a.train)
    sampler = Sampler(len(train), B, T, run["seed"])
    losses = []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, lr, lr / 10, run["warmup"], steps)
        starts = sampler.starts()
        x = torch.tensor(np.stack([train[s: s + T] for s in starts]))
        y = torch.tensor(np.stack([train[s + 1: s + T + 1] for s in starts]))
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapters, 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 10 == 0 or step == steps - 1:
            print(f"step {step + 1:4d}  pytorch {losses[-1]:.5f}  bentevi {run['losses'][step]:.5f}", flush=True)
    ours, theirs = run["losses"][-1], losses[-1]
    tail = min(10, steps)
    mean_ours, mean_theirs = np.mean(run["losses"][-tail:]), np.mean(losses[-tail:])
    print("RESULT " + json.dumps(dict(
        system=f"pytorch-{torch.__version__}", steps=steps, rank=r, alpha=alpha, layers=len(paths),
        bentevi_loss=ours, pytorch_loss=theirs, relative_difference=(ours - theirs) / theirs,
        last10_bentevi=mean_ours, last10_pytorch=mean_theirs,
        last10_relative_difference=(mean_ours - mean_theirs) / mean_theirs,
        step1=[run["losses"][0], losses[0]])))


if __name__ == "__main__":
    main()
