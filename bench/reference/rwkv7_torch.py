#!/usr/bin/python3
"""PyTorch twin of Bentevi's RWKV-7 for the "within 3%" learning check (not used by the tests).

Written from BlinkDL's published RWKV-7 (x070) equations, as docs/rwkv7.md states them, with
BlinkDL's initialisation; the data sampler, schedule, AdamW groups, clipping and evaluation
are train_torch.py's (imported). The WKV-7 recurrence runs as a Python loop over time on
[B, H, N, N] states.

Usage:
  OMP_NUM_THREADS=2 /usr/bin/python3 bench/reference/rwkv7_torch.py --model rwkv7-micro \\
      --train PREFIX.train.bin --val PREFIX.val.bin --vocab 2048 --steps 300 \\
      --batch-size 8 --context 128 --lr 1e-3 --seed 1337
  Forward parity with a Bentevi RWKV-7 checkpoint (validation loss):
  /usr/bin/python3 bench/reference/rwkv7_torch.py --parity CHECKPOINT_DIR --val PREFIX.val.bin
  The learning check against a Bentevi run of bench/rwkv7_twin.ts (same initial weights, same
  batches, schedule and AdamW; prints both curves and one RESULT line with the relative
  differences):
  /usr/bin/python3 bench/reference/rwkv7_torch.py --run RUN_DIR --train PREFIX.train.bin \
      --val PREFIX.val.bin
"""
import json, math, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_torch import (arg_parser, evaluate, ortho_std, read_safetensors, read_tokens, train_and_evaluate,
                         train_steps)  # noqa: E402


def lora_dims(C):
    def r(f):
        return max(32, round(f * math.sqrt(C) / 32) * 32)  # Python rounds halves to even, as BlinkDL's
    return dict(decayLora=r(2.5), aLora=r(2.5), vLora=r(1.7), gateLora=r(5))


def preset(T, C, L, F_):
    return dict(arch="rwkv7", contextLength=T, dModel=C, nLayer=L, ffnDim=F_, headSize=64,
                layerNormEps=1e-5, groupNormEps=64e-5, **lora_dims(C))


PRESETS = {
    "rwkv7-micro": preset(128, 256, 4, 1024),
    "rwkv7-mini": preset(256, 384, 6, 1344),
    "rwkv7-85m": preset(1024, 768, 12, 2688),
}

MIXES = ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")


class Block(nn.Module):
    def __init__(self, c, l):
        super().__init__()
        C, L, N = c["dModel"], c["nLayer"], c["headSize"]
        self.l, self.H, self.N, self.gn_eps = l, C // N, N, c["groupNormEps"]
        self.ln1, self.ln2 = nn.LayerNorm(C, eps=c["layerNormEps"]), nn.LayerNorm(C, eps=c["layerNormEps"])
        r01 = l / (L - 1) if L > 1 else 0.0
        r1a0 = 1.0 - l / L
        i = torch.arange(C, dtype=torch.float64)
        ddd, linear = i / C, i / max(1, C - 1) - 0.5
        z = ((i % N) - (N - 1) / 2) / ((N - 1) / 2)
        zigzag = z * z.abs()
        pw = dict(x_r=0.2, x_w=0.9, x_k=0.7, x_v=0.7, x_a=0.9, x_g=0.2)
        P = lambda t: nn.Parameter(t.float())  # noqa: E731
        for m in MIXES:
            setattr(self, m, P(1.0 - ddd ** (pw[m] * r1a0)))
        self.w0 = P(-6 + 6 * (i / max(1, C - 1)) ** (1 + r01 ** 0.3) + 0.5 + zigzag * 2.5)
        self.a0 = P(-0.19 + zigzag * 0.3 + linear * 0.4)
        self.v0 = P(0.73 - linear * 0.4) if l > 0 else None
        self.k_k, self.k_a = P(0.71 - linear * 0.1), P(torch.full((C,), 1.02, dtype=torch.float64))
        self.r_k = P(torch.full((C,), -0.04, dtype=torch.float64))

        def lora(D):
            return nn.Parameter(torch.zeros(C, D)), nn.Parameter(torch.randn(D, C) * ortho_std(D, C, 0.1))
        self.w1, self.w2 = lora(c["decayLora"])
        self.a1, self.a2 = lora(c["aLora"])
        self.g1, self.g2 = lora(c["gateLora"])
        if l > 0:
            self.v1, self.v2 = lora(c["vLora"])

        def lin(o, i_, scale):
            m = nn.Linear(i_, o, bias=False)
            nn.init.uniform_(m.weight, -scale / math.sqrt(C), scale / math.sqrt(C)) if scale else nn.init.zeros_(m.weight)
            return m
        self.receptance, self.key, self.value = lin(C, C, 0.5), lin(C, C, 0.05), lin(C, C, 0.5)
        self.output = lin(C, C, 0)
        self.ln_x = nn.GroupNorm(self.H, C, eps=self.gn_eps)
        with torch.no_grad():
            self.ln_x.weight.fill_(((1 + l) / L) ** 0.7)
        self.ffn_x_k = P(1.0 - ddd ** (r1a0 ** 4))
        self.ffn_key, self.ffn_value = lin(c["ffnDim"], C, 0.5), lin(C, c["ffnDim"], 0)

    def forward(self, x, v_first):
        B, T, C = x.shape
        H, N = self.H, self.N
        xa = self.ln1(x)
        xx = F.pad(xa, (0, 0, 1, -1)) - xa  # x_{t−1} − x_t
        xr, xw, xk, xv, xa_, xg = (xa + xx * getattr(self, m) for m in MIXES)
        r = self.receptance(xr)
        w = self.w0 + torch.tanh(xw @ self.w1) @ self.w2
        d = torch.exp(-math.exp(-0.5) * torch.sigmoid(w))
        k = self.key(xk)
        v = self.value(xv)
        a = torch.sigmoid(self.a0 + (xa_ @ self.a1) @ self.a2)
        g = torch.sigmoid(xg @ self.g1) @ self.g2
        kk = F.normalize((k * self.k_k).view(B, T, H, N), dim=-1, p=2.0).view(B, T, C)
        k = k * (1 + (a - 1) * self.k_a)
        if self.l == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + (xv @ self.v1) @ self.v2)
        hv = lambda t: t.view(B, T, H, N)  # noqa: E731
        rr, dd, kt, vv, aa, bb = hv(r), hv(d), hv(k), hv(v), hv(-kk), hv(kk * a)
        S = torch.zeros(B, H, N, N)
        ys = []
        for t in range(T):
            sa = S @ aa[:, t, :, :, None]  # [B, H, N, 1]
            S = S * dd[:, t, :, None, :] + sa @ bb[:, t, :, None, :] + vv[:, t, :, :, None] @ kt[:, t, :, None, :]
            ys.append((S @ rr[:, t, :, :, None]).squeeze(-1))
        y = torch.stack(ys, 1).reshape(B * T, C)
        o = self.ln_x(y).view(B, T, C)
        o = o + ((r * k * self.r_k).view(B, T, H, N).sum(-1, keepdim=True) * v.view(B, T, H, N)).view(B, T, C)
        x = x + self.output(o * g)
        xf = self.ln2(x)
        fk = xf + (F.pad(xf, (0, 0, 1, -1)) - xf) * self.ffn_x_k
        x = x + self.ffn_value(torch.relu(self.ffn_key(fk)) ** 2)
        return x, v_first


class RWKV7(nn.Module):
    def __init__(self, V, c):
        super().__init__()
        C = c["dModel"]
        self.emb = nn.Parameter(torch.empty(V, C).uniform_(-1e-4, 1e-4))
        self.ln0 = nn.LayerNorm(C, eps=c["layerNormEps"])
        self.blocks = nn.ModuleList(Block(c, l) for l in range(c["nLayer"]))
        self.ln_out = nn.LayerNorm(C, eps=c["layerNormEps"])
        self.head = nn.Parameter(torch.randn(V, C) * ortho_std(V, C, 0.5))

    def forward(self, idx):
        x = self.ln0(F.embedding(idx, self.emb))
        v_first = None
        for b in self.blocks:
            x, v_first = b(x, v_first)
        return self.ln_out(x) @ self.head.t()

    def decay_params(self):
        """Bentevi's decay group: the linear layers' matrices and the head."""
        out = [self.head]
        for b in self.blocks:
            out += [b.receptance.weight, b.key.weight, b.value.weight, b.output.weight,
                    b.ffn_key.weight, b.ffn_value.weight]
        return out


def load_bentevi_rwkv7(dir):
    cfg = json.load(open(f"{dir}/config.json"))["bentevi"]
    w = read_safetensors(f"{dir}/model.safetensors")
    m = RWKV7(cfg["vocabSize"], cfg)
    with torch.no_grad():
        m.emb.copy_(w["emb.weight"]); m.head.copy_(w["head.weight"])
        m.ln0.weight.copy_(w["blocks.0.ln0.weight"]); m.ln0.bias.copy_(w["blocks.0.ln0.bias"])
        m.ln_out.weight.copy_(w["ln_out.weight"]); m.ln_out.bias.copy_(w["ln_out.bias"])
        for i, b in enumerate(m.blocks):
            p = f"blocks.{i}."
            for ln in ("ln1", "ln2"):
                getattr(b, ln).weight.copy_(w[p + ln + ".weight"]); getattr(b, ln).bias.copy_(w[p + ln + ".bias"])
            names = [*MIXES, "w0", "w1", "w2", "a0", "a1", "a2", "g1", "g2", "k_k", "k_a", "r_k"]
            if i > 0:
                names += ["v0", "v1", "v2"]
            for n in names:
                getattr(b, n).copy_(w[p + "att." + n].reshape(getattr(b, n).shape))
            for n in ("receptance", "key", "value", "output"):
                getattr(b, n).weight.copy_(w[p + f"att.{n}.weight"])
            b.ln_x.weight.copy_(w[p + "att.ln_x.weight"]); b.ln_x.bias.copy_(w[p + "att.ln_x.bias"])
            b.ffn_x_k.copy_(w[p + "ffn.x_k"].reshape(-1))
            b.ffn_key.weight.copy_(w[p + "ffn.key.weight"]); b.ffn_value.weight.copy_(w[p + "ffn.value.weight"])
    return m, cfg


def twin(a, val):
    """Replays the Bentevi run in a.run (bench/rwkv7_twin.ts) from its initial checkpoint and
    compares the training and validation loss curves."""
    run = json.load(open(f"{a.run}/losses.json"))
    model, _ = load_bentevi_rwkv7(run["init"])
    B, T, steps = run["batchSize"], run["context"], run["steps"]
    ours, theirs = run["losses"], []
    vals = {v["step"]: v["loss"] for v in run["valLosses"]}
    theirs_val = {}
    t0 = time.perf_counter()

    def validate(step):
        model.eval()
        theirs_val[step] = evaluate(model, val, B, T, run["evalBatches"])[0]
        model.train()
        print(f"step {step:4d}  validation  pytorch {theirs_val[step]:.5f}  bentevi {vals[step]:.5f}", flush=True)

    def after(step, loss, _lr):
        theirs.append(loss)
        if step % 10 == 0 or step == steps - 1:
            print(f"step {step + 1:4d}  training    pytorch {loss:.5f}  bentevi {ours[step]:.5f}  "
                  f"{time.perf_counter() - t0:.0f}s", flush=True)
        if step + 1 in vals:
            validate(step + 1)
    validate(0)
    train_steps(model, read_tokens(a.train), B, T, steps, run["lr"], run["minLr"], run["warmup"],
                run["weightDecay"], run["clip"], run["seed"], after)
    rel = [abs(o - t) / t for o, t in zip(ours, theirs)]
    tail = min(50, steps)
    last_val = max(vals)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print("RESULT " + json.dumps(dict(
        system=f"pytorch-{torch.__version__}", bentevi_device=run["device"], steps=steps, batch_size=B, context=T,
        bentevi_train_loss=ours[-1], pytorch_train_loss=theirs[-1], train_relative_difference=rel[-1],
        train_max_relative_difference_last50=max(rel[-tail:]),
        train_mean_last50=[mean(ours[-tail:]), mean(theirs[-tail:])],
        bentevi_val_loss=vals[last_val], pytorch_val_loss=theirs_val[last_val],
        val_relative_difference=abs(vals[last_val] - theirs_val[last_val]) / theirs_val[last_val],
        val_max_relative_difference=max(abs(vals[s] - theirs_val[s]) / theirs_val[s] for s in vals),
        step1=[ours[0], theirs[0]], seconds=time.perf_counter() - t0)))


def main():
    ap = arg_parser(PRESETS, "rwkv7-micro")
    ap.add_argument("--run", help="a bench/rwkv7_twin.ts run directory: replay it and compare the losses")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    val = read_tokens(a.val)
    if a.run:
        twin(a, val)
        return
    if a.parity:
        m, cfg = load_bentevi_rwkv7(a.parity)
        loss, acc = evaluate(m, val, a.batch_size, min(a.context, cfg["contextLength"]), a.eval_batches)
        print("RESULT " + json.dumps(dict(checkpoint=a.parity, val_loss=loss, val_accuracy=acc)))
        return
    model = RWKV7(a.vocab, {**PRESETS[a.model], "contextLength": a.context})
    train_and_evaluate(model, a, val)


if __name__ == "__main__":
    main()
